"""What happens to a tenant request: submit, validate, reject, ask for changes, correct."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.agreements.services import agreement_send
from portal.companies.models import COMPANY_DETAILS, Company, Contact, Membership
from portal.companies.validation import EU_COUNTRIES
from portal.core.links import link_issue, link_open, link_use
from portal.core.text import text_checked
from portal.notifications.services import absolute_url, email_queue
from portal.onboarding import pipeline
from portal.onboarding.emails import email_context
from portal.onboarding.forms import ContactData, RequestData
from portal.onboarding.models import IdempotencyRecord, RequestLink, TenantRequest, TimelineEntry
from portal.onboarding.stages import Stage
from portal.onboarding.tasks import check_vat, follow_up_request
from portal.onboarding.timeline import timeline_append


class PrefixTaken(Exception):
    """Another open request took the prefix between the check and the save."""


def _company_details(data: RequestData) -> dict[str, str]:
    return {field: getattr(data, field) for field in COMPANY_DETAILS}


def _contact_upsert(company: Company, data: ContactData, kind: str) -> Contact:
    """The company's contact with this address, updated (and back among its contacts if it was removed)."""
    contact, created = Contact.objects.update_or_create(
        company=company,
        email=data.email,
        defaults={
            "first_name": data.first_name,
            "last_name": data.last_name,
            "phone": data.phone,
            "job_title": data.job_title,
            "removed_at": None,
        },
        create_defaults={**asdict(data), "kind": kind},
    )
    if not created and contact.kind == Contact.Kind.OTHER:
        contact.kind = kind
        contact.save(update_fields=["kind"])
    return contact


def _contacts_save(company: Company, data: RequestData, *, new_company: bool) -> tuple[Contact, Contact]:
    """The two contacts (one when they are the same person); a new company's are inserted together."""
    technical_kind, commercial_kind = Contact.Kind.TECHNICAL, Contact.Kind.COMMERCIAL
    if not new_company:
        technical = _contact_upsert(company, data.technical, technical_kind)
        return technical, _contact_upsert(company, data.commercial, commercial_kind)
    if data.commercial.email == data.technical.email:
        technical = Contact.objects.create(company=company, kind=technical_kind, **asdict(data.technical))
        return technical, technical
    technical, commercial = Contact.objects.bulk_create(
        [
            Contact(company=company, kind=technical_kind, **asdict(data.technical)),
            Contact(company=company, kind=commercial_kind, **asdict(data.commercial)),
        ]
    )
    return technical, commercial


def user_company(user: User | None) -> Company | None:
    if user is None or not user.is_authenticated or user.is_staff:
        return None
    membership = Membership.objects.filter(user=user).select_related("company").order_by("created_at").first()
    return membership.company if membership else None


def _progress_link(request: TenantRequest) -> str:
    raw, _ = link_issue(
        RequestLink,
        lifetime=settings.TRACKING_LINK_EXPIRES_AFTER,
        revoke_others=None,  # every confirmation's progress link keeps working
        request=request,
        purpose=RequestLink.Purpose.PROGRESS,
    )
    return absolute_url(reverse("onboarding:track", args=[raw]))


def _confirmations_queue(request: TenantRequest, *, corrected: bool = False) -> None:
    progress_url = _progress_link(request)
    for contact in _contacts(request):
        email_queue(
            template="request-confirmation",
            language=request.language,
            to=[contact.email],
            request=request,
            context=email_context(request, recipient=contact, progress_url=progress_url, corrected=corrected),
        )


def _contacts(request: TenantRequest) -> list[Contact]:
    technical, commercial = request.technical_contact, request.commercial_contact
    return [technical] if technical.pk == commercial.pk else [technical, commercial]


def _vat_check_first(country: str) -> str:
    """Where the VAT check of a new request starts: VIES has nothing to say outside the EU."""
    return TenantRequest.VatCheck.UNCONFIRMED if country in EU_COUNTRIES else TenantRequest.VatCheck.NOT_APPLICABLE


def _vat_check_queue(request: TenantRequest) -> None:
    if request.applicant.country in EU_COUNTRIES:
        if settings.VIES_URL:
            check_vat.enqueue(request_id=request.pk, attempt=1)
    elif request.vat_check != TenantRequest.VatCheck.NOT_APPLICABLE:
        request.vat_check = TenantRequest.VatCheck.NOT_APPLICABLE
        request.save(update_fields=["vat_check"])


class Submission(NamedTuple):
    request: TenantRequest
    timeline: list[TimelineEntry]  # the new request's whole timeline: its submission


def request_submit(*, data: RequestData, user: User | None = None) -> TenantRequest:
    """Store a new request at To Validate; its follow-up (VIES, both confirmations) is queued with it."""
    return request_submit_with_timeline(data=data, user=user).request


def request_submit_with_timeline(*, data: RequestData, user: User | None = None) -> Submission:
    """Store a new request at To Validate and queue its follow-up job, in one transaction.

    Only what the answer shows is written now (company, contacts, request, timeline); the progress link, the
    VIES check and both contacts' confirmations wait for the worker (`request_follow_up`).
    """
    try:
        with transaction.atomic():
            # A new company is created as stated; an existing one changes only when staff validate the request.
            company = user_company(user)
            new_company = company is None
            if company is None:
                company = Company.objects.create(**_company_details(data))
            technical, commercial = _contacts_save(company, data, new_company=new_company)
            now = timezone.now()
            request = TenantRequest.objects.create(
                company=company,
                company_snapshot=_company_details(data),
                technical_contact=technical,
                commercial_contact=commercial,
                domain_prefix=data.domain_prefix,
                display_name=data.display_name,
                tenant_country=data.tenant_country,
                submitted_by=user if user is not None and user.is_authenticated else None,
                terms_version=settings.TERMS_VERSION,
                terms_accepted_at=now,
                language=data.language,
                stage=Stage.TO_VALIDATE,
                stage_changed_at=now,
                vat_check=_vat_check_first(data.country),
            )
            entry = timeline_append(
                request=request,
                first=True,
                kind=TimelineEntry.Kind.STAGE,
                actor=request.submitted_by,
                actor_name="" if request.submitted_by else f"{technical.full_name} <{technical.email}> (visitor)",
                to_stage=Stage.TO_VALIDATE,
                message=f"Request submitted for {request.domain}; terms version {settings.TERMS_VERSION} accepted.",
            )
            follow_up_request.enqueue(request_id=request.pk)
    except IntegrityError as error:
        if (
            "prefix" in str(error).lower()
            or TenantRequest.objects.filter(domain_prefix=data.domain_prefix)
            .exclude(stage__in=[Stage.REJECTED, Stage.CANCELLED])
            .exists()
        ):
            raise PrefixTaken(data.domain_prefix) from error
        raise
    return Submission(request, [entry])


class IdempotencyConflict(Exception):
    """This Idempotency-Key was used before with another body."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict  # as JSON, exactly as it was sent


def submit_once(*, key: str, fingerprint: str, submit: Callable[[], Answer]) -> Answer:
    """`submit` at most once per Idempotency-Key: its answer is kept in the request's own transaction, and a retry
    with the same body (`fingerprint`) gets it again, also a retry that raced the first. Another body with the
    same key is refused."""
    kept = _answer_kept(key, fingerprint)
    if kept is not None:
        return kept
    try:
        with transaction.atomic():
            answer = submit()
            IdempotencyRecord.objects.create(
                key=key, body_hash=fingerprint, status_code=answer.status, response=answer.body
            )
        return answer
    except (PrefixTaken, IntegrityError):
        kept = _answer_kept(key, fingerprint)  # the same request, stored a moment ago by the first of two retries
        if kept is None:
            raise
        return kept


def _answer_kept(key: str, fingerprint: str) -> Answer | None:
    record = IdempotencyRecord.objects.filter(key=key).first()
    if record is None:
        return None
    if record.body_hash != fingerprint:
        raise IdempotencyConflict()
    return Answer(record.status_code, record.response)


def request_follow_up(*, request_id: int) -> str:
    """What a new request sets off once stored: the VIES check, the progress link, both contacts' confirmations.

    Runs once per request: a job run again (its worker died after the commit) finds the confirmations queued.
    """
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        if request.emails.filter(template="request-confirmation").exists():
            return "already followed up"
        _vat_check_queue(request)
        _confirmations_queue(request)
    return "followed up"


def request_validate(*, request_id: int, by: User) -> TenantRequest:
    """Staff accept the company's information: the company record takes it, and the service agreement follows."""
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        pipeline.move(
            request, to=Stage.AWAITING_SIGNATURE, by=by, why="Information validated: the contract is prepared."
        )
        Company.objects.filter(pk=request.company_id).update(**request.company_snapshot)
        agreement_send(request=request)
    return request


def request_reject(*, request_id: int, by: User, reason: str) -> TenantRequest:
    reason = reason.strip()
    if not reason:
        raise ValueError(_("Give the reason for the rejection: both contacts will read it."))
    text_checked(reason, multiline=True)
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        pipeline.move(request, to=Stage.REJECTED, by=by, why=f"Rejected: {reason}", data={"reason": reason})
        for contact in _contacts(request):
            email_queue(
                template="request-rejected",
                language=request.language,
                to=[contact.email],
                request=request,
                context=email_context(request, recipient=contact, reason=reason),
            )
    return request


def request_ask_changes(*, request_id: int, by: User, message: str) -> TenantRequest:
    """Staff ask the technical contact to correct the request, through a single-use link."""
    message = message.strip()
    if not message:
        raise ValueError(_("Say what should change: the technical contact will read it."))
    text_checked(message, multiline=True)
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        pipeline.move(
            request, to=Stage.CHANGES_REQUESTED, by=by, why=f"Changes requested: {message}", data={"message": message}
        )
        correction = {"request": request, "purpose": RequestLink.Purpose.CORRECTION}
        raw, link = link_issue(
            RequestLink, lifetime=settings.CORRECTION_LINK_EXPIRES_AFTER, revoke_others=correction, **correction
        )
        email_queue(
            template="request-changes",
            language=request.language,
            to=[request.technical_contact.email],
            request=request,
            context=email_context(
                request,
                recipient=request.technical_contact,
                message=message,
                correction_url=absolute_url(reverse("onboarding:correct", args=[raw])),
                expires_at=link.expires_at,
            ),
        )
    return request


def link_find(*, raw: str, purpose: str, lock: bool = False) -> RequestLink:
    """The link behind a token, with its request: LinkUnknown if unknown, LinkDead if used, expired or withdrawn."""
    links = RequestLink.objects.select_related(
        "request__company", "request__technical_contact", "request__commercial_contact"
    ).filter(purpose=purpose)
    return link_open(links, raw, lock=lock)


def request_correct(*, raw_token: str, data: RequestData) -> TenantRequest:
    """The customer's corrected request goes back to To Validate; the link dies with it."""
    try:
        with transaction.atomic():
            link = link_find(raw=raw_token, purpose=RequestLink.Purpose.CORRECTION, lock=True)
            request = pipeline.request_locked(link.request_id)
            link_use(link)
            before = _snapshot(request)
            request.company_snapshot = _company_details(data)
            request.technical_contact = _contact_upsert(request.company, data.technical, Contact.Kind.TECHNICAL)
            request.commercial_contact = _contact_upsert(request.company, data.commercial, Contact.Kind.COMMERCIAL)
            request.domain_prefix = data.domain_prefix
            request.display_name = data.display_name
            request.language = data.language
            request.tenant_country = data.tenant_country
            request.vat_check = TenantRequest.VatCheck.UNCONFIRMED
            request.save()
            changed = sorted(k for k, v in _snapshot(request).items() if before.get(k) != v)
            pipeline.move(
                request,
                to=Stage.TO_VALIDATE,
                by=None,
                by_name=f"{request.technical_contact.full_name} <{request.technical_contact.email}> (correction link)",
                why="Request corrected by the customer"
                + (f": {', '.join(changed)} changed." if changed else ", nothing changed."),
                data={"changed": changed},
            )
            _vat_check_queue(request)
            _confirmations_queue(request, corrected=True)
    except IntegrityError as error:
        raise PrefixTaken(data.domain_prefix) from error
    return request


def _snapshot(request: TenantRequest) -> dict:
    snap = {f"company.{f}": value for f, value in request.company_snapshot.items()}
    snap.update(
        {
            "tenant.domain_prefix": request.domain_prefix,
            "tenant.display_name": request.display_name,
            "tenant.country": request.tenant_country,
            "technical_contact": request.technical_contact.email,
            "commercial_contact": request.commercial_contact.email,
        }
    )
    return snap


def request_record_vat_check(*, request_id: int, result: str, registered_name: str = "") -> None:
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        request.vat_check = result
        request.vat_checked_at = timezone.now()
        request.vat_registered_name = registered_name
        request.save(update_fields=["vat_check", "vat_checked_at", "vat_registered_name"])
        with translation.override(None):  # the timeline keeps its English words
            label = str(TenantRequest.VatCheck(result).label)
        timeline_append(
            request=request,
            kind=TimelineEntry.Kind.NOTE,
            message=f"VAT number {request.applicant.vat_number}: {label}"
            + (f" ({registered_name})" if registered_name else "."),
            data={"vat_check": result},
        )
