"""The signed-in person (`/me`) and their companies, under the company permission table."""

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import Field

from portal.accounts.models import User
from portal.accounts.recent_auth import recent_auth_check
from portal.accounts.services import profile_update
from portal.agreements.models import Agreement
from portal.api import schemas
from portal.api.auth import SIGNED_IN
from portal.companies.forms import CONTACT_FIELDS, EDITABLE, CompanyProfileForm, ContactForm, IdentityChangeForm
from portal.companies.models import Company, Contact, Invitation, Membership, ProfileChange
from portal.companies.permissions import Action, company_for
from portal.companies.services import (
    AlreadyMember,
    ContactRefused,
    IdentityChangeRefused,
    LastAdmin,
    TwoStepRuleRefused,
    company_profile_update,
    contact_add,
    contact_remove,
    contact_update,
    contacts_current,
    identity_change_request,
    identity_change_withdraw,
    invitation_revoke,
    invitation_send,
    member_remove,
    member_role_change,
    two_step_rule_set,
)
from portal.notifications.services import absolute_url

router = Router(tags=["account and companies"], auth=SIGNED_IN)
CompanyId = schemas.Path(..., ge=1, le=2**63 - 1)


class CompanyRole(schemas.Schema):
    id: int
    name: str
    role: Literal["admin", "billing", "technical", "readonly"]


class MeOut(schemas.Schema):
    email: str
    first_name: str
    last_name: str
    language: Literal["en", "nl", "fr"]
    companies: list[CompanyRole]


class MeIn(schemas.PartialBody):
    first_name: schemas.ShortText | None = None
    last_name: schemas.ShortText | None = None
    language: Literal["en", "nl", "fr"] | None = None


class TenantOfCompany(schemas.Schema):
    domain: str
    tenant_id: str = schemas.Field(alias="customer_id", description="Microsoft's customer (tenant) id.")


class CompanyDetailOut(schemas.Schema):
    id: int
    legal_name: str
    vat_number: str
    address: schemas.AddressOut
    phone: str
    website: str
    tenants: list[TenantOfCompany]
    require_mfa: bool = Field(description="Every member must sign in with a second factor to use the company.")

    @staticmethod
    def resolve_address(company) -> object:
        return company

    @staticmethod
    def resolve_tenants(company) -> list:
        return list(company.tenants.order_by("created_at"))


def _companies(user: User) -> list[dict]:
    memberships = Membership.objects.filter(user=user).select_related("company").order_by("company__legal_name")
    return [{"id": m.company_id, "name": m.company.legal_name, "role": m.role} for m in memberships]


def _me(user: User) -> dict:
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "language": user.language,
        "companies": _companies(user),
    }


@router.get("/me", response={200: MeOut, 401: schemas.Error}, summary="Who is signed in, and their companies")
def me(request):
    return _me(request.auth)


@router.patch(
    "/me",
    response={200: MeOut, 400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 422: schemas.Error},
    summary="Change your name or language",
)
def me_update(request, payload: MeIn):
    user = request.auth
    profile_update(
        user=user,
        first_name=user.first_name if payload.first_name is None else payload.first_name,
        last_name=user.last_name if payload.last_name is None else payload.last_name,
        phone=user.phone,
        language=payload.language or user.language,
    )
    return _me(user)


@router.get(
    "/companies", response={200: list[CompanyRole], 401: schemas.Error}, summary="Your companies, with your role"
)
def companies(request):
    return _companies(request.auth)


@router.get(
    "/companies/{company_id}",
    response={200: CompanyDetailOut, **schemas.READ_ERRORS},
    summary="A company of yours: its profile and tenants",
)
def company(request, company_id: int = CompanyId):
    found, _role = company_for(request.auth, company_id, Action.VIEW)
    return found


RoleName = Literal["admin", "billing", "technical", "readonly"]
MemberId = schemas.Path(..., ge=1, le=2**63 - 1)
MEMBER_ERRORS = schemas.CHANGE_ERRORS


class MemberOut(schemas.Schema):
    id: int
    email: str
    role: RoleName

    @staticmethod
    def resolve_email(membership: Membership) -> str:
        return membership.user.email


class MemberRoleIn(schemas.Schema):
    role: RoleName


def _refusals[T](change: Callable[[], T], *, missing: type[Exception], not_found: str, refused: type[Exception]) -> T:
    """A change of the company's: 404 (saying `not_found`) when its object is not the company's, 409 when a rule
    refuses it."""
    try:
        return change()
    except missing:
        raise HttpError(404, not_found) from None
    except refused as error:
        raise HttpError(409, str(error)) from None


def _member_change(change: Callable[[], Membership]) -> Membership:
    return _refusals(
        change, missing=Membership.DoesNotExist, not_found=_("No such member of this company."), refused=LastAdmin
    )


@router.get(
    "/companies/{company_id}/members",
    response={200: list[MemberOut], **schemas.READ_ERRORS},
    summary="The people with access to a company of yours, and their roles",
)
def members(request, company_id: int = CompanyId):
    found, _role = company_for(request.auth, company_id, Action.VIEW)
    return list(found.memberships.select_related("user").order_by("user__email"))


@router.patch(
    "/companies/{company_id}/members/{member_id}",
    response={200: MemberOut, **MEMBER_ERRORS},
    summary="Change a member's role (administrators; the last administrator stays one)",
)
def member_update(request, payload: MemberRoleIn, company_id: int = CompanyId, member_id: int = MemberId):
    company_for(request.auth, company_id, Action.MANAGE_MEMBERS)
    recent_auth_check(request)
    return _member_change(lambda: member_role_change(company_id=company_id, member_id=member_id, role=payload.role))


@router.delete(
    "/companies/{company_id}/members/{member_id}",
    response={204: None, **MEMBER_ERRORS},
    summary="Take a member's access away (administrators; the last administrator stays)",
)
def member_delete(request, company_id: int = CompanyId, member_id: int = MemberId):
    company_for(request.auth, company_id, Action.MANAGE_MEMBERS)
    recent_auth_check(request)
    _member_change(lambda: member_remove(company_id=company_id, member_id=member_id))
    return Status(204, None)


class AddressPatch(schemas.Schema):
    line1: schemas.Text | None = None
    line2: schemas.Text | None = None
    postal_code: schemas.ShortText | None = None
    city: schemas.ShortText | None = None
    country: schemas.ShortText | None = None


class CompanyPatch(schemas.PartialBody):
    address: AddressPatch | None = None
    phone: schemas.ShortText | None = None
    website: schemas.Text | None = None
    require_mfa: bool | None = Field(
        None, description="Require two-step sign-in of every member (administrators, after a recent sign-in)."
    )


# Form field <- where it is in the JSON body, so that an error points at the JSON field.
PROFILE_LOCATIONS = {
    "address_line1": ("address", "line1"),
    "address_line2": ("address", "line2"),
    "postal_code": ("address", "postal_code"),
    "city": ("address", "city"),
    "country": ("address", "country"),
    "phone": ("phone",),
    "website": ("website",),
}


@router.patch(
    "/companies/{company_id}",
    response={200: CompanyDetailOut, **MEMBER_ERRORS},
    summary="Change the address, phone or website (administrators, billing), or the two-step rule (administrators)",
)
def company_update(request, payload: CompanyPatch, company_id: int = CompanyId):
    sent = payload.dict(exclude_none=True)
    rule = sent.pop("require_mfa", None)
    if rule is not None:
        company_for(request.auth, company_id, Action.MANAGE_MEMBERS)
        recent_auth_check(request)
    company, _role = company_for(request.auth, company_id, Action.EDIT_PROFILE if sent else Action.VIEW)
    changes = _profile_changes(company, sent) if sent else {}
    with transaction.atomic():
        if changes:
            company = company_profile_update(company_id=company_id, changes=changes)
        if rule is not None:
            try:
                company = two_step_rule_set(company_id=company_id, on=rule, by=request.auth)
            except TwoStepRuleRefused as refused:
                raise HttpError(409, str(refused)) from None
    return company


def _profile_changes(company: Company, sent: dict) -> dict[str, str]:
    """The profile as the body changes it, checked by the page's form: {field: value}, or FieldErrors (422)."""
    data = {field: getattr(company, field) for field in EDITABLE}
    for field, location in PROFILE_LOCATIONS.items():
        value: object = sent
        for part in location:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            data[field] = value
    form = CompanyProfileForm(data)
    if not form.is_valid():
        raise schemas.form_field_errors(form, PROFILE_LOCATIONS)
    return {field: form.cleaned_data[field] for field in EDITABLE}


class InvitationIn(schemas.Schema):
    email: schemas.Email
    role: RoleName


class InvitationOut(schemas.Schema):
    id: int
    email: str
    role: RoleName
    expires_at: datetime


@router.post(
    "/companies/{company_id}/invitations",
    response={201: InvitationOut, **MEMBER_ERRORS},
    summary="Invite an e-mail address to the company with a role (administrators); the invitee gets a link",
)
def invitation_create(request, payload: InvitationIn, company_id: int = CompanyId):
    company_for(request.auth, company_id, Action.MANAGE_MEMBERS)
    email = payload.email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise HttpError(422, _("Enter a valid e-mail address.")) from None
    try:
        invitation = invitation_send(company_id=company_id, email=email, role=payload.role, by=request.auth)
    except AlreadyMember as known:
        raise HttpError(409, str(known)) from None
    return Status(201, invitation)


@router.delete(
    "/companies/{company_id}/invitations/{invitation_id}",
    response={204: None, **MEMBER_ERRORS},
    summary="Withdraw an invitation (administrators): its link stops working",
)
def invitation_delete(request, company_id: int = CompanyId, invitation_id: int = MemberId):
    company_for(request.auth, company_id, Action.MANAGE_MEMBERS)
    try:
        invitation_revoke(company_id=company_id, invitation_id=invitation_id)
    except Invitation.DoesNotExist:
        raise HttpError(404, _("No such invitation of this company.")) from None
    return Status(204, None)


class SignedAgreementOut(schemas.Schema):
    id: int
    version: str
    language: Literal["en", "nl", "fr"] = Field(description="The language the agreement was sent and signed in.")
    signed_at: datetime
    signer_name: str
    document_url: str = Field(description="The sealed PDF, for the company's members and staff.")

    @staticmethod
    def resolve_document_url(agreement: Agreement) -> str:
        return absolute_url(f"/api/v1/tenant-requests/{agreement.request_id}/agreement.pdf")


@router.get(
    "/companies/{company_id}/agreements",
    response={
        200: list[SignedAgreementOut],
        401: schemas.Error,
        403: schemas.Error,
        404: schemas.Error,
        422: schemas.Error,
    },
    summary="The signed service agreements of a company of yours",
)
def agreements(request, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.VIEW)
    return list(
        Agreement.objects.filter(request__company=company, status=Agreement.Status.SIGNED)
        .defer("pdf", "signed_pdf", "html")
        .order_by("-signed_at")
    )


KindName = Literal["technical", "commercial", "billing", "other"]


class CompanyContactOut(schemas.Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str
    kind: KindName
    has_access: bool

    @staticmethod
    def resolve_has_access(contact: Contact) -> bool:
        annotated = getattr(contact, "with_access", None)  # read with the list, in one query (the contacts route)
        if annotated is not None:
            return annotated
        return Membership.objects.filter(company_id=contact.company_id, user__email__iexact=contact.email).exists()


class CompanyContactIn(schemas.Schema):
    first_name: schemas.ShortText
    last_name: schemas.ShortText
    email: schemas.Email
    phone: schemas.ShortText
    job_title: schemas.ShortText = ""
    kind: KindName = "other"


class CompanyContactPatch(schemas.PartialBody):
    first_name: schemas.ShortText | None = None
    last_name: schemas.ShortText | None = None
    email: schemas.Email | None = None
    phone: schemas.ShortText | None = None
    job_title: schemas.ShortText | None = None
    kind: KindName | None = None


def _contact_fields(company, data: dict) -> dict[str, str]:
    """The request form's rules over the contact's fields: 422 listing what is wrong."""
    form = ContactForm(data, country=company.country)
    if not form.is_valid():
        raise schemas.form_field_errors(form, {})
    return {field: form.cleaned_data[field] for field in CONTACT_FIELDS}


def _contact_change(change: Callable[[], Contact]) -> Contact:
    return _refusals(
        change, missing=Contact.DoesNotExist, not_found=_("No such contact of this company."), refused=ContactRefused
    )


@router.get(
    "/companies/{company_id}/contacts",
    response={200: list[CompanyContactOut], **schemas.READ_ERRORS},
    summary="The contacts of a company of yours",
)
def contacts(request, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.VIEW)
    members = Membership.objects.filter(company=company, user__email__iexact=OuterRef("email"))
    return list(contacts_current(company).annotate(with_access=Exists(members)))


@router.post(
    "/companies/{company_id}/contacts",
    response={201: CompanyContactOut, **MEMBER_ERRORS},
    summary="Add a contact (administrators): the request form's rules",
)
def contact_create(request, payload: CompanyContactIn, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.MANAGE_CONTACTS)
    fields = _contact_fields(company, payload.dict())
    return Status(201, _contact_change(lambda: contact_add(company_id=company_id, fields=fields)))


@router.patch(
    "/companies/{company_id}/contacts/{contact_id}",
    response={200: CompanyContactOut, **MEMBER_ERRORS},
    summary="Change a contact (administrators); the company keeps a technical and a commercial contact",
)
def contact_patch(request, payload: CompanyContactPatch, company_id: int = CompanyId, contact_id: int = MemberId):
    company, _role = company_for(request.auth, company_id, Action.MANAGE_CONTACTS)
    contact = contacts_current(company).filter(pk=contact_id).first()
    if contact is None:
        raise HttpError(404, _("No such contact of this company."))
    current = {field: getattr(contact, field) for field in CONTACT_FIELDS}
    fields = _contact_fields(company, {**current, **payload.dict(exclude_none=True)})
    return _contact_change(lambda: contact_update(company_id=company_id, contact_id=contact_id, fields=fields))


@router.delete(
    "/companies/{company_id}/contacts/{contact_id}",
    response={204: None, **MEMBER_ERRORS},
    summary="Remove a contact (administrators); the company keeps a technical and a commercial contact",
)
def contact_delete(request, company_id: int = CompanyId, contact_id: int = MemberId):
    company_for(request.auth, company_id, Action.MANAGE_CONTACTS)
    _contact_change(lambda: contact_remove(company_id=company_id, contact_id=contact_id))
    return Status(204, None)


class IdentityChangeIn(schemas.PartialBody):
    legal_name: schemas.Text | None = None
    vat_number: schemas.ShortText | None = None


class FieldChange(schemas.Schema):
    old: str
    new: str


class IdentityChangeOut(schemas.Schema):
    id: int
    status: Literal["pending", "applied", "refused", "withdrawn"]
    changes: dict[str, FieldChange] = Field(description="legal_name, vat_number, registry_number: old and new value.")
    created_at: datetime
    decided_at: datetime | None
    reason: str = Field(description="Why the reseller refused it, when it did.")


@router.get(
    "/companies/{company_id}/profile-changes",
    response={200: list[IdentityChangeOut], **schemas.READ_ERRORS},
    summary="Requested changes of a company's legal name or VAT number, newest first",
)
def identity_changes(request, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.VIEW)
    return list(company.profile_changes.all()[:50])


@router.post(
    "/companies/{company_id}/profile-changes",
    response={202: IdentityChangeOut, **MEMBER_ERRORS},
    summary="Ask for a new legal name or VAT number (administrators, billing): the reseller accepts or refuses it",
)
def identity_change_create(request, payload: IdentityChangeIn, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.REQUEST_IDENTITY_CHANGE)
    sent = payload.dict(exclude_none=True)
    form = IdentityChangeForm(
        {"legal_name": company.legal_name, "vat_number": company.vat_number, **sent}, company=company
    )
    if not form.is_valid():
        raise schemas.form_field_errors(form, {})
    try:
        change = identity_change_request(company_id=company_id, changes=form.changes(), by=request.auth)
    except IdentityChangeRefused as refused:
        raise HttpError(409, str(refused)) from None
    return Status(202, change)


@router.delete(
    "/companies/{company_id}/profile-changes/{change_id}",
    response={204: None, **MEMBER_ERRORS},
    summary="Withdraw a change of the legal name or VAT number that still waits (administrators, billing)",
)
def identity_change_delete(request, company_id: int = CompanyId, change_id: int = MemberId):
    company_for(request.auth, company_id, Action.REQUEST_IDENTITY_CHANGE)
    _refusals(
        lambda: identity_change_withdraw(company_id=company_id, change_id=change_id),
        missing=ProfileChange.DoesNotExist,
        not_found=_("No such change of this company."),
        refused=IdentityChangeRefused,
    )
    return Status(204, None)
