from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import Field, StringConstraints  # noqa: F401 (Field re-exported)

Text = Annotated[str, StringConstraints(max_length=300)]
ShortText = Annotated[str, StringConstraints(max_length=100)]


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


class TenantRequestIn(Schema):
    company: CompanyIn
    tenant: TenantIn
    technical_contact: ContactIn
    commercial_contact: ContactIn
    accept_terms: bool


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
    email: Text
    password: Annotated[str, StringConstraints(max_length=4096)]
    otp: Annotated[str, StringConstraints(max_length=10)] | None = None


class TokenOut(Schema):
    token: str
    expires_at: datetime


class ReasonIn(Schema):
    reason: Annotated[str, StringConstraints(max_length=4000)]


class MessageIn(Schema):
    message: Annotated[str, StringConstraints(max_length=4000)]


class Error(Schema):
    detail: str | list[dict] = Field(description="What went wrong, in words (or a list of field errors).")
