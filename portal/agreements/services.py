"""Steps 3 to 5: the contract e-mail, the online signature with an e-mailed code, reminders, expiry, the seal."""

import hmac
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.accounts.models import User
from portal.agreements import tasks
from portal.agreements.documents import agreement_render, language_name, sha256, signed_document_update
from portal.agreements.models import Agreement, SigningInvitation
from portal.agreements.seal import seal_pdf
from portal.core.links import LinkUnknown, link_issue, link_open, link_revoke
from portal.core.text import CONTROL_REFUSED, control_characters_in, text_checked
from portal.core.timers import timer_set
from portal.core.tokens import token_hash
from portal.notifications.services import absolute_url, email_queue, email_queue_staff
from portal.onboarding import pipeline
from portal.onboarding.emails import email_context
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.stages import Stage
from portal.onboarding.timeline import timeline_append
from portal.provisioning.services import provisioning_start

logger = logging.getLogger(__name__)

CODE_TRIES = 5
CODE_MIN_INTERVAL_SECONDS = 60
CODES_PER_INVITATION = 10
# Sealed with the signature, in the agreement's language: fixed texts of SIGNING_CONSENT_VERSION, not a catalogue's.
CONSENT_TEXT = {
    "en": "I have read the {brand} Service Agreement, version {version}. I confirm that I have the authority to sign "
    "it on behalf of {company}, and I sign it electronically: my typed name, the one-time code sent to {email} and "
    "this record are my signature.",
    "nl": "Ik heb de dienstverleningsovereenkomst van {brand}, versie {version}, gelezen. Ik bevestig dat ik bevoegd ben om ze "
    "namens {company} te ondertekenen, en ik onderteken ze elektronisch: mijn getypte naam, de eenmalige code die naar "
    "{email} werd gestuurd en dit verslag vormen mijn handtekening.",
    "fr": "J'ai lu le contrat de service {brand}, version {version}. Je confirme avoir le pouvoir de le signer au nom "
    "de {company}, et je le signe électroniquement : mon nom tapé, le code à usage unique envoyé à {email} et le "
    "présent relevé constituent ma signature.",
}


class SigningRefused(Exception):
    """What the signer typed cannot be accepted; `field` says where."""

    def __init__(self, field: str, message: str, *, tries_left: int | None = None):
        self.field = field
        self.tries_left = tries_left
        super().__init__(message)


class SealUnavailable(Exception):
    """The portal could not seal the signed agreement right now (certificate or time-stamp server)."""

    def __init__(self):
        super().__init__(
            _("We could not complete your signature just now: nothing was recorded. Please try again in a minute.")
        )


class CodeTooSoon(Exception):
    def __init__(self, wait_seconds: int):
        self.wait_seconds = wait_seconds
        super().__init__(
            ngettext(
                "A code was sent moments ago: wait %(count)s second before asking for another.",
                "A code was sent moments ago: wait %(count)s seconds before asking for another.",
                wait_seconds,
            )
            % {"count": wait_seconds}
        )


def dead_reason(invitation: SigningInvitation) -> str:
    """What a dead signing link's page says: used, expired, resent, withdrawn or declined."""
    if invitation.used_at:
        return _("This agreement was already signed with this link.")
    reasons = {
        "expired": _("This link expired before the agreement was signed."),
        "resent": _("A newer link was sent: use the most recent e-mail."),
        "withdrawn": _("The agreement was withdrawn."),
        "declined": _("The signature was declined with this link."),
    }
    if invitation.revoked_at:
        return reasons.get(invitation.revoked_reason, _("This link was withdrawn."))
    return reasons["expired"]


def _code_hash(invitation: SigningInvitation, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{invitation.pk}:{code}".encode(), "sha256").hexdigest()


def _when(moment) -> str:
    """For the timeline, which is stored: in English."""
    with translation.override(None):
        return _moment(moment)


def _moment(moment) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


# For e-mails: written when the e-mail is rendered, in its recipient's language.
_when_read = lazy(_moment, str)


# --- sending -------------------------------------------------------------------------------------


def agreement_prepare(*, request: TenantRequest, language: str = "") -> Agreement:
    """Render the agreement of this request from the current template version, as it will be sent, in `language`
    (the request's unless said). LanguageMissing when the version has no text in that language."""
    version, language = settings.AGREEMENT_VERSION, language or request.language
    rendered = agreement_render(request=request, version=version, language=language)
    return Agreement.objects.create(
        request=request,
        version=version,
        language=language,
        html=rendered.html,
        pdf=rendered.pdf,
        sha256=sha256(rendered.pdf),
    )


def _invite(agreement: Agreement, *, resend: bool = False) -> SigningInvitation:
    """A new personal link for the commercial contact, its e-mail, and its reminder and expiry timers."""
    request = agreement.request
    now = timezone.now()
    raw, invitation = link_issue(
        SigningInvitation,
        lifetime=settings.SIGNATURE_EXPIRES_AFTER,
        revoke_others=None,  # a resent link replaces the last one with its own reason
        agreement=agreement,
        signer_email=request.commercial_contact.email,
    )
    email_queue(
        template="contract",
        language=agreement.language,
        to=[request.commercial_contact.email],
        request=request,
        from_email=settings.CONTRACTS_FROM_EMAIL,
        attachments=[(agreement.filename, bytes(agreement.pdf), "application/pdf")],
        context=email_context(
            request,
            recipient=request.commercial_contact,
            signing_url=absolute_url(reverse("agreements:sign", args=[raw])),
            expires_at=_when_read(invitation.expires_at),
            version=agreement.version,
            resend=resend,
        ),
    )
    first_reminder = now + settings.SIGNATURE_REMINDER_EVERY
    if first_reminder < invitation.expires_at:
        timer_set(
            tasks.signature_remind,
            at=first_reminder,
            key=f"signature-remind:{invitation.pk}",
            invitation_id=invitation.pk,
        )
    timer_set(
        tasks.signature_expire,
        at=invitation.expires_at,
        key=f"signature-expire:{invitation.pk}",
        invitation_id=invitation.pk,
    )
    return invitation


def agreement_send(*, request: TenantRequest) -> SigningInvitation:
    """Validation's consequence: the agreement is rendered and its signing link e-mailed. Caller holds the lock."""
    agreement = agreement_prepare(request=request)
    invitation = _invite(agreement)
    timeline_append(
        request=request,
        kind=TimelineEntry.Kind.NOTE,
        message=f"Service agreement {agreement.version} prepared (SHA-256 {agreement.sha256[:16]}…); "
        f"signing link for {invitation.signer_email}, valid until {_when(invitation.expires_at)}.",
        data={"agreement": agreement.pk, "sha256": agreement.sha256, "invitation": invitation.pk},
    )
    return invitation


def _live_invitation(request: TenantRequest) -> SigningInvitation | None:
    return (
        SigningInvitation.objects.select_for_update()
        .filter(agreement__request=request, used_at=None, revoked_at=None)
        .select_related("agreement")
        .order_by("-created_at")
        .first()
    )


def agreement_resend(*, request_id: int, by: User, language: str = "") -> SigningInvitation:
    """Staff send a new link with a new expiry; the old link dies. In another `language`, the agreement is
    rendered anew in it and the one sent before is withdrawn."""
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        if request.stage != Stage.AWAITING_SIGNATURE:
            raise pipeline.IllegalMove(request, Stage.AWAITING_SIGNATURE)
        current = _live_invitation(request)
        agreement = current.agreement if current else request.agreements.filter(status=Agreement.Status.SENT).first()
        if agreement is None:
            raise ValueError(_("There is no agreement awaiting signature to send again."))
        replaced = None
        if language and language != agreement.language:
            replaced = agreement
            agreement = agreement_prepare(request=request, language=language)  # LanguageMissing: nothing changes
            Agreement.objects.filter(pk=replaced.pk).update(status=Agreement.Status.WITHDRAWN)
        if current:
            link_revoke(current, revoked_reason="resent")
        invitation = _invite(agreement, resend=True)
        in_language = (
            f" The agreement is now in {language_name(agreement.language)} (SHA-256 {agreement.sha256[:16]}…)."
            if replaced
            else ""
        )
        timeline_append(
            request=request,
            kind=TimelineEntry.Kind.NOTE,
            actor=by,
            message=f"Signing link sent again to {invitation.signer_email}, valid until {_when(invitation.expires_at)}; "
            f"the previous link no longer works.{in_language}",
            data={"invitation": invitation.pk, "agreement": agreement.pk, "language": agreement.language},
        )
    return invitation


def agreement_withdraw(*, request_id: int, by: User, reason: str) -> TenantRequest:
    """Staff withdraw the agreement: the link dies and the request goes back to To Validate."""
    reason = text_checked(reason.strip(), multiline=True) or "Withdrawn by staff."
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        pipeline.move(
            request, to=Stage.TO_VALIDATE, by=by, why=f"Agreement withdrawn: {reason}", data={"reason": reason}
        )
        invitation = _live_invitation(request)
        if invitation:
            link_revoke(invitation, revoked_reason="withdrawn")
        request.agreements.filter(status=Agreement.Status.SENT).update(status=Agreement.Status.WITHDRAWN)
        email_queue(
            template="agreement-withdrawn",
            language=invitation.agreement.language if invitation else request.language,
            to=[request.commercial_contact.email],
            request=request,
            from_email=settings.CONTRACTS_FROM_EMAIL,
            context=email_context(request, recipient=request.commercial_contact, reason=reason),
        )
    return request


# --- the signer ----------------------------------------------------------------------------------


# The agreement's files are read when they are needed, not with every opening of the link.
_FILES = ("agreement__pdf", "agreement__signed_pdf")


def invitation_find(raw: str, *, lock: bool = False, used_ok: bool = False) -> SigningInvitation:
    """LinkUnknown for an unknown token; LinkDead, saying why, for a used, expired, declined or withdrawn one."""
    invitations = SigningInvitation.objects.select_related(
        "agreement__request__company", "agreement__request__commercial_contact", "agreement__request__technical_contact"
    ).defer(*_FILES)
    return link_open(invitations, raw, lock=lock, used_ok=used_ok, reason=dead_reason)


def _signing_locked(raw: str) -> tuple[TenantRequest, SigningInvitation]:
    """The request row-locked first, as expiry locks it (one of the two wins), then its live invitation."""
    of_token = SigningInvitation.objects.filter(token_hash=token_hash(raw or "")).values("agreement__request_id")
    try:
        request = pipeline.request_locked(Subquery(of_token[:1]))
    except TenantRequest.DoesNotExist:
        raise LinkUnknown() from None
    invitations = SigningInvitation.objects.select_related("agreement").defer("agreement__signed_pdf")
    invitation = link_open(invitations, raw, lock=True, reason=dead_reason)
    invitation.agreement.request = request
    return request, invitation


def signing_open(*, raw: str) -> SigningInvitation:
    invitation = invitation_find(raw)
    if invitation.first_opened_at is None:
        SigningInvitation.objects.filter(pk=invitation.pk, first_opened_at=None).update(first_opened_at=timezone.now())
        invitation.refresh_from_db(fields=["first_opened_at"])
    return invitation


def signing_code_send(*, raw: str) -> SigningInvitation:
    """E-mail a fresh 6-digit code to the signer; valid 10 minutes, 5 tries, rate-limited."""
    with transaction.atomic():
        invitation = invitation_find(raw, lock=True)
        now = timezone.now()
        if invitation.code_sent_at and (now - invitation.code_sent_at).total_seconds() < CODE_MIN_INTERVAL_SECONDS:
            raise CodeTooSoon(CODE_MIN_INTERVAL_SECONDS - int((now - invitation.code_sent_at).total_seconds()))
        if invitation.codes_sent >= CODES_PER_INVITATION:
            raise SigningRefused("code", _("Too many codes were asked for this link: please contact us for a new one."))
        code = f"{secrets.randbelow(10**6):06d}"
        invitation.code_hash = _code_hash(invitation, code)
        invitation.code_expires_at = now + settings.SIGNING_CODE_VALID_FOR
        invitation.code_tries_left = CODE_TRIES
        invitation.code_sent_at = now
        invitation.codes_sent += 1
        invitation.save(update_fields=["code_hash", "code_expires_at", "code_tries_left", "code_sent_at", "codes_sent"])
        request = invitation.agreement.request
        email_queue(
            template="signature-code",
            language=invitation.agreement.language,
            to=[invitation.signer_email],
            request=request,
            from_email=settings.CONTRACTS_FROM_EMAIL,
            context=email_context(
                request, code=code, valid_minutes=int(settings.SIGNING_CODE_VALID_FOR.total_seconds() // 60)
            ),
        )
    return invitation


@dataclass(frozen=True)
class Signature:
    full_name: str
    job_title: str
    signing_authority: bool
    code: str
    ip: str | None
    user_agent: str


def _check_signature_fields(signature: Signature) -> None:
    for field in ("full_name", "job_title", "code"):
        if control_characters_in(getattr(signature, field)):
            raise SigningRefused(field, _(CONTROL_REFUSED))
    if not signature.signing_authority:
        raise SigningRefused("signing_authority", _("Confirm that you have the authority to sign for the company."))
    if not signature.full_name.strip():
        raise SigningRefused("full_name", _("Type your full name: it is your signature."))
    if not signature.job_title.strip():
        raise SigningRefused("job_title", _("Type your job title."))
    if len(signature.full_name) > 200 or len(signature.job_title) > 200:
        raise SigningRefused("full_name", _("Name and job title are limited to 200 characters."))
    if not signature.code.strip():
        raise SigningRefused("code", _("Enter the 6-digit code we e-mailed you (ask for one first)."))


def _code_problem(invitation: SigningInvitation, code: str, now) -> SigningRefused | None:
    """Check the code, spending one try when it is wrong. Returns the refusal, or None when it is right."""
    if not invitation.code_hash or invitation.code_tries_left == 0:
        return SigningRefused("code", _("Ask for a new code: there is no valid code for this link."), tries_left=0)
    if invitation.code_expires_at is None or now >= invitation.code_expires_at:
        return SigningRefused("code", _("This code has expired: ask for a new one."), tries_left=0)
    if hmac.compare_digest(invitation.code_hash, _code_hash(invitation, code.strip())):
        return None
    invitation.code_tries_left -= 1
    if invitation.code_tries_left == 0:
        invitation.code_hash = ""
    invitation.save(update_fields=["code_tries_left", "code_hash"])
    left = invitation.code_tries_left
    message = (
        ngettext("This code is not right: %(count)s try left.", "This code is not right: %(count)s tries left.", left)
        % {"count": left}
        if left
        else _("This code is not right, and no tries are left: ask for a new code.")
    )
    return SigningRefused("code", message, tries_left=left)


def agreement_sign(*, raw: str, signature: Signature) -> Agreement:
    """The commercial contact signs: sealed PDF, request to Provisioning, both contacts told. One transaction."""
    _check_signature_fields(signature)
    refusal = None
    with transaction.atomic():
        request, invitation = _signing_locked(raw)
        now = timezone.now()
        refusal = _code_problem(invitation, signature.code, now)
        if refusal is None:
            agreement = _sign(request, invitation, signature, now)
    if refusal is not None:
        raise refusal
    return agreement


def _sign(request: TenantRequest, invitation: SigningInvitation, signature: Signature, now) -> Agreement:
    agreement = invitation.agreement
    invitation.code_verified_at = now
    invitation.used_at = now
    invitation.code_hash = ""
    invitation.save(update_fields=["code_verified_at", "used_at", "code_hash"])
    signed = {
        "status": Agreement.Status.SIGNED,
        "signed_at": now,
        "signer_name": signature.full_name.strip(),
        "signer_title": signature.job_title.strip(),
        "signer_email": invitation.signer_email,
        "signer_ip": signature.ip,
        "signer_user_agent": signature.user_agent[:500],
        "consent_version": settings.SIGNING_CONSENT_VERSION,
        "consent_text": CONSENT_TEXT[agreement.language].format(
            brand=settings.PORTAL_BRAND,
            version=agreement.version,
            company=request.applicant.legal_name,
            email=invitation.signer_email,
        ),
    }
    for field, value in signed.items():
        setattr(agreement, field, value)
    document = signed_document_update(agreement=agreement, invitation=invitation)
    try:
        agreement.signed_pdf = seal_pdf(document, request_id=request.pk, signer_name=agreement.signer_name)
    except Exception as error:  # the seal's certificate or time-stamp server: nothing is kept, the signer may retry
        logger.exception("Sealing the agreement of request %s failed", request.pk)
        raise SealUnavailable() from error
    agreement.signed_sha256 = sha256(agreement.signed_pdf)
    agreement.save(update_fields=[*signed, "signed_pdf", "signed_sha256"])
    pipeline.move(
        request,
        to=Stage.PROVISIONING,
        by=None,
        by_name=f"{agreement.signer_name} <{agreement.signer_email}> (signing link)",
        why=f"Service agreement signed by {agreement.signer_name}, {agreement.signer_title}; tenant provisioning begins.",
        data={"agreement": agreement.pk, "signed_sha256": agreement.signed_sha256, "ip": signature.ip},
    )
    tasks.follow_up_signature.enqueue(agreement_id=agreement.pk)
    provisioning_start(request=request)
    return agreement


def signature_follow_up(*, agreement_id: int) -> str:
    """After a signature: the signer gets the sealed agreement, the technical contact word that provisioning began.

    Queued in the signature's transaction; runs once per agreement (a job run again finds its e-mails queued).
    """
    with transaction.atomic():
        request = pipeline.request_locked(Agreement.objects.values_list("request_id", flat=True).get(pk=agreement_id))
        if request.emails.filter(template="agreement-signed").exists():
            return "already followed up"
        agreement = Agreement.objects.get(pk=agreement_id)
        agreement.request = request
        assert agreement.signed_pdf is not None  # sealed in the signature's transaction
        email_queue(
            template="agreement-signed",
            language=agreement.language,
            to=[agreement.signer_email],
            request=request,
            from_email=settings.CONTRACTS_FROM_EMAIL,
            attachments=[(agreement.signed_filename, bytes(agreement.signed_pdf), "application/pdf")],
            context=email_context(request, agreement=agreement),
        )
        email_queue(
            template="provisioning-started",
            language=request.language,
            to=[request.technical_contact.email],
            request=request,
            context=email_context(request, recipient=request.technical_contact, agreement=agreement),
        )
    return "followed up"


def agreement_decline(*, raw: str, reason: str, ip: str | None = None) -> TenantRequest:
    """The person who got the link is not the right signer, or will not sign: staff are told."""
    reason = reason.strip()
    if not reason:
        raise SigningRefused("reason", _("Tell us why, so that we can send the agreement to the right person."))
    if control_characters_in(reason, multiline=True):
        raise SigningRefused("reason", _(CONTROL_REFUSED))
    with transaction.atomic():
        request, invitation = _signing_locked(raw)
        link_revoke(invitation, revoked_reason="declined")
        Agreement.objects.filter(pk=invitation.agreement_id).update(status=Agreement.Status.DECLINED)
        pipeline.move(
            request,
            to=Stage.TO_VALIDATE,
            by=None,
            by_name=f"{invitation.signer_email} (signing link)",
            why=f"Signature declined: {reason}",
            data={"reason": reason, "ip": ip},
        )
        email_queue_staff(
            template="signature-declined",
            request=request,
            context=email_context(
                request,
                reason=reason,
                signer_email=invitation.signer_email,
                backoffice_url=absolute_url(reverse("backoffice:request", args=[request.pk])),
            ),
        )
    return request


# --- timers --------------------------------------------------------------------------------------


def signature_remind(*, invitation_id: int) -> str:
    """A reminder timer: re-checks the state, e-mails the signer, and sets the next one."""
    with transaction.atomic():
        invitation = (
            SigningInvitation.objects.select_for_update().select_related("agreement").filter(pk=invitation_id).first()
        )
        if invitation is None or not invitation.is_live():
            return "no longer needed"
        request = TenantRequest.objects.select_related("company", "technical_contact", "commercial_contact").get(
            pk=invitation.agreement.request_id
        )
        if request.stage != Stage.AWAITING_SIGNATURE:
            return "no longer needed"
        now = timezone.now()
        next_at = now + settings.SIGNATURE_REMINDER_EVERY
        last = next_at >= invitation.expires_at
        invitation.reminders_sent += 1
        invitation.save(update_fields=["reminders_sent"])
        email_queue(
            template="signature-reminder",
            language=invitation.agreement.language,
            to=[invitation.signer_email],
            request=request,
            from_email=settings.CONTRACTS_FROM_EMAIL,
            context=email_context(
                request,
                recipient=request.commercial_contact,
                expires_at=_when_read(invitation.expires_at),
                last=last,
                number=invitation.reminders_sent,
            ),
        )
        if not last:
            timer_set(
                tasks.signature_remind, at=next_at, key=f"signature-remind:{invitation.pk}", invitation_id=invitation.pk
            )
    return "reminded"


def signature_expire(*, invitation_id: int) -> str:
    """The expiry timer: unsigned at the deadline, the link dies and the request goes back to To Validate."""
    with transaction.atomic():
        probe = SigningInvitation.objects.select_related("agreement").filter(pk=invitation_id).first()
        if probe is None:
            return "no longer needed"
        request = pipeline.request_locked(probe.agreement.request_id)
        invitation = SigningInvitation.objects.select_for_update().select_related("agreement").get(pk=invitation_id)
        if invitation.used_at or invitation.revoked_at:
            return "no longer needed"
        if timezone.now() < invitation.expires_at:
            return "not due"
        link_revoke(invitation, revoked_reason="expired")
        Agreement.objects.filter(pk=invitation.agreement_id, status=Agreement.Status.SENT).update(
            status=Agreement.Status.EXPIRED
        )
        if request.stage != Stage.AWAITING_SIGNATURE:
            return "link expired"
        pipeline.move(
            request,
            to=Stage.TO_VALIDATE,
            by=None,
            by_name="System (signature deadline)",
            why=f"The agreement was not signed by {_when(invitation.expires_at)}: the link expired and the request is back at To Validate.",
        )
        context = email_context(
            request,
            expires_at=_when_read(invitation.expires_at),
            backoffice_url=absolute_url(reverse("backoffice:request", args=[request.pk])),
        )
        email_queue(
            template="signature-expired",
            language=invitation.agreement.language,
            to=[invitation.signer_email],
            request=request,
            from_email=settings.CONTRACTS_FROM_EMAIL,
            context={**context, "recipient": request.commercial_contact, "for_staff": False},
        )
        email_queue_staff(template="signature-expired", request=request, context={**context, "for_staff": True})
    return "expired"
