from datetime import datetime
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import ModelSchema, Path, Schema  # noqa: F401 (Path re-exported)
from pydantic import ConfigDict, Field, StringConstraints, model_validator  # noqa: F401 (Field re-exported)

from portal.companies.models import Company, Contact
from portal.core.text import PARAGRAPH_CHARACTERS, Line, Paragraph
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.selectors import tenant_of, timeline_for_customer
from portal.onboarding.stages import Stage

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
    language: Literal["en", "nl", "fr"] = Field(
        "en", description="The language of the contacts' e-mails and of the agreement."
    )


# Answers, read from the models: a field is the model's attribute of the same name, or says where it comes from.


class AddressOut(Schema):  # read from the Company
    line1: str = Field(alias="address_line1")
    line2: str = Field(alias="address_line2")
    postal_code: str
    city: str
    country: str


class CompanyOut(ModelSchema):
    registry_number: str  # blank, never null
    website: str
    address: AddressOut

    class Meta:
        model = Company
        fields = ["legal_name", "vat_number", "registry_number", "phone", "website"]

    @staticmethod
    def resolve_address(company: Company) -> Company:
        return company


class TenantOut(Schema):  # read from the request; Microsoft's customer id once the tenant exists
    domain_prefix: str
    domain: str
    display_name: str
    country: str = Field(alias="tenant_country")
    customer_id: str | None = Field(None, description="Microsoft's customer (tenant) id, once the tenant is created.")
    created_at: datetime | None = Field(None, description="When the tenant was created.")

    @staticmethod
    def resolve_customer_id(request: TenantRequest) -> str | None:
        tenant = tenant_of(request)
        return tenant.customer_id if tenant else None

    @staticmethod
    def resolve_created_at(request: TenantRequest) -> datetime | None:
        tenant = tenant_of(request)
        return tenant.created_at if tenant else None


class ContactOut(ModelSchema):
    job_title: str  # blank, never null

    class Meta:
        model = Contact
        fields = ["first_name", "last_name", "email", "phone", "job_title"]


class TimelineEntryOut(Schema):  # a timeline entry, or what the company sees of it (PublicEntry)
    seq: int
    at: datetime
    kind: str
    actor: str = Field(alias="actor_label")
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

    @staticmethod
    def resolve_stage_label(request: TenantRequest) -> str:
        return str(Stage(request.stage).label)  # a lazy label would not pass as a str

    @staticmethod
    def resolve_company_name(request: TenantRequest) -> str:
        return request.applicant.legal_name

    @staticmethod
    def resolve_vat_number(request: TenantRequest) -> str:
        return request.applicant.vat_number


class TenantRequestOut(Schema):  # for its company or for staff: `of()` gives the timeline in the reader's words
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

    resolve_stage_label = staticmethod(TenantRequestSummary.resolve_stage_label)

    @staticmethod
    def resolve_company(request: TenantRequest) -> Company:
        return request.applicant

    @staticmethod
    def resolve_tenant(request: TenantRequest) -> TenantRequest:
        return request

    @staticmethod
    def resolve_timeline(request: TenantRequest, context: dict) -> list:
        entries = context["timeline"]
        return entries if context["staff"] else timeline_for_customer(entries)

    @classmethod
    def of(
        cls, request: TenantRequest, *, staff: bool, timeline: list[TimelineEntry] | None = None
    ) -> "TenantRequestOut":
        """The answer about `request` for staff or for its company; `timeline` when the caller has it already."""
        if timeline is None:
            timeline = list(request.timeline.select_related("actor").order_by("seq"))
        return cls.model_validate(request, context={"timeline": timeline, "staff": staff})


class Page(Schema):
    count: int
    page: int
    page_size: int
    results: list[TenantRequestSummary]


class Availability(Schema):
    prefix: str
    available: bool
    reason: str


Email = Annotated[Line, StringConstraints(max_length=254)]


class TokenIn(Schema):
    email: Email
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


class FieldErrors(Exception):
    """Fields that break the form's rules: 422 with `{"detail": [{"loc", "msg"}, …]}`."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(f"{len(errors)} field error(s)")


class PartialBody(Schema):
    """A body whose fields are all optional: only its shape tells a wrong one, so it must be a JSON object."""

    @model_validator(mode="before")
    @classmethod
    def an_object(cls, value: object) -> object:
        if not isinstance(getattr(value, "_obj", value), dict):  # ninja hands the body in its DjangoGetter
            fields = ", ".join(f'"{name}"?' for name in cls.model_fields)
            raise ValueError(_("The body is a JSON object: {%(fields)s}.") % {"fields": fields})
        return value


# The answers of a route that changes something, besides its success.
CHANGE_ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error}
READ_ERRORS = {401: Error, 403: Error, 404: Error, 422: Error}


def form_field_errors(form, locations: dict[str, tuple[str, ...]]) -> FieldErrors:
    """A Django form's errors, each pointing at its place in the JSON body."""
    return FieldErrors(
        [
            {"loc": ["body", *locations.get(field, (field,))], "msg": str(error.message % (error.params or {}))}
            for field, errors in form.errors.as_data().items()
            for error in errors
        ]
    )
