from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints  # noqa: F401 (Field re-exported)

from portal.core.text import PARAGRAPH_CHARACTERS, Line, Paragraph

Text = Annotated[Line, StringConstraints(max_length=300)]
ShortText = Annotated[Line, StringConstraints(max_length=100)]


class AddressIn(Schema):
    line1: Text
    line2: Text = ""
    postal_code: ShortText
    city: ShortText
    country: ShortText


class CompanyIn(Schema):
    legal_name: Text
    vat_number: ShortText
    address: AddressIn
    phone: ShortText
    website: Text = ""


class TenantIn(Schema):
    domain_prefix: ShortText
    display_name: ShortText
    country: ShortText


class ContactIn(Schema):
    first_name: ShortText
    last_name: ShortText
    email: Text
    phone: ShortText
    job_title: ShortText = ""


REQUEST_EXAMPLE = {
    "company": {
        "legal_name": "Brightwave Analytics BV",
        "vat_number": "BE0403170701",
        "address": {"line1": "Korenmarkt 1", "line2": "", "postal_code": "9000", "city": "Gent", "country": "BE"},
        "phone": "+3292345678",
        "website": "https://brightwave.example",
    },
    "tenant": {"domain_prefix": "brightwave", "display_name": "Brightwave", "country": "BE"},
    "technical_contact": {
        "first_name": "Tess",
        "last_name": "Tech",
        "email": "tess@brightwave.example",
        "phone": "+32478123456",
        "job_title": "IT manager",
    },
    "commercial_contact": {
        "first_name": "Carl",
        "last_name": "Commerce",
        "email": "carl@brightwave.example",
        "phone": "+32478654321",
        "job_title": "CEO",
    },
    "accept_terms": True,
}


class TenantRequestIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [REQUEST_EXAMPLE]})  # type: ignore[list-item]

    company: CompanyIn
    tenant: TenantIn
    technical_contact: ContactIn
    commercial_contact: ContactIn
    accept_terms: bool = Field(
        description="Must be true: the terms are accepted and the information is confirmed.",
        json_schema_extra={"enum": [True]},
    )


class AddressOut(Schema):
    line1: str
    line2: str
    postal_code: str
    city: str
    country: str


class CompanyOut(Schema):
    legal_name: str
    vat_number: str
    registry_number: str
    address: AddressOut
    phone: str
    website: str


class TenantOut(Schema):
    domain_prefix: str
    domain: str
    display_name: str
    country: str
    customer_id: str | None = Field(None, description="Microsoft's customer (tenant) id, once the tenant is created.")
    created_at: datetime | None = Field(None, description="When the tenant was created.")


class ContactOut(Schema):
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str


class TimelineEntryOut(Schema):
    seq: int
    at: datetime
    kind: str
    actor: str
    from_stage: str
    to_stage: str
    message: str


class TenantRequestSummary(Schema):
    id: int
    stage: str
    stage_label: str
    stage_changed_at: datetime
    created_at: datetime
    company_name: str
    vat_number: str
    domain: str


class TenantRequestOut(Schema):
    id: int
    stage: str
    stage_label: str
    stage_changed_at: datetime
    created_at: datetime
    vat_check: str
    company: CompanyOut
    tenant: TenantOut
    technical_contact: ContactOut
    commercial_contact: ContactOut
    timeline: list[TimelineEntryOut]


class Page(Schema):
    count: int
    page: int
    page_size: int
    results: list[TenantRequestSummary]


class Availability(Schema):
    prefix: str
    available: bool
    reason: str


class TokenIn(Schema):
    email: Annotated[Line, StringConstraints(max_length=254)]
    password: Annotated[Line, StringConstraints(max_length=4096)]
    otp: Annotated[Line, StringConstraints(max_length=10)] | None = None


class TokenOut(Schema):
    token: str
    expires_at: datetime


# Blank text is refused by the service with its own message, control characters by the schema; the schema says both.
NonBlankText = Annotated[
    Paragraph,
    StringConstraints(max_length=4000),
    Field(
        json_schema_extra={
            "minLength": 1,
            "pattern": f"^{PARAGRAPH_CHARACTERS}*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{PARAGRAPH_CHARACTERS}*$",
        }
    ),
]


class ReasonIn(Schema):
    reason: NonBlankText


class MessageIn(Schema):
    message: NonBlankText


class Error(Schema):
    detail: str | list[dict] = Field(description="What went wrong, in words (or a list of field errors).")
