"""The e-mail outbox: render now, store a row, enqueue its sending in the same transaction."""

import logging
import re
import smtplib
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F, Q
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.utils import timezone, translation

from portal.core.languages import DEFAULT as DEFAULT_LANGUAGE
from portal.core.languages import language_clean
from portal.core.retry import backoff
from portal.core.timers import timer_set
from portal.notifications.models import OutboundAttachment, OutboundEmail
from portal.notifications.tasks import send_email
from portal.onboarding.models import TenantRequest
from portal.onboarding.timeline import timeline_append
from portal.worker.workers import worker_id_new

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def absolute_url(path: str) -> str:
    return settings.PORTAL_BASE_URL + path


def email_render(*, template: str, context: dict, language: str = "en") -> tuple[str, str, str]:
    """Subject, text and HTML from templates/emails/<template>-subject.txt, -body.txt, -body.html, in `language`."""
    with translation.override(language):
        return _render(
            template, {"brand": settings.PORTAL_BRAND, "support_email": settings.PORTAL_SUPPORT_EMAIL, **context}
        )


def _render(template: str, context: dict) -> tuple[str, str, str]:
    """The subject first: the HTML is titled with it (a screen reader announces a document by its title)."""
    # A subject is plain text, not HTML: rendered without escaping, on one line (no header injection).
    subject = " ".join(
        Engine.get_default()
        .get_template(f"emails/{template}-subject.txt")
        .render(Context(context, autoescape=False))
        .split()
    )
    text = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", {**context, "subject": subject})
    return subject, text, html


def email_queue(
    *,
    template: str,
    to: list[str],
    context: dict,
    request=None,
    from_email: str | None = None,
    attachments: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    language: str = "en",
) -> OutboundEmail:
    """Queue one e-mail, written in its recipients' `language`. Call inside the transaction of the change that
    causes it."""
    language = language_clean(language) or DEFAULT_LANGUAGE
    subject, text, html = email_render(template=template, context=context, language=language)
    email = OutboundEmail.objects.create(
        request=request,
        template=template,
        language=language,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=sorted(set(to)),
        subject=subject,
        body_text=text,
        body_html=html,
        message_id=f"<{template}.{uuid.uuid4().hex}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>",
    )
    for filename, content, mimetype in attachments:
        OutboundAttachment.objects.create(email=email, filename=filename, content=content, mimetype=mimetype)
    send_email.enqueue(email_id=email.pk)
    return email


# One-time secrets in e-mails (link tokens, signing codes) live in the outbox only until the e-mail is sent.
_LINK_TOKEN = re.compile(r"/(sign|correct|track|activate|enrol|reset|invitations)/[A-Za-z0-9_\-]{20,}/")
_CODE = re.compile(r"\b\d{6}\b")
REDACTED = "[removed after sending]"


def _redact(email: OutboundEmail) -> dict[str, str]:
    """Strip the one-time links and codes from a sent (or abandoned) e-mail; the fields to save.

    The database (the row, and the timeline that quotes the subject) keeps no usable secret.
    """
    redacted = {}
    for field in ("subject", "body_text", "body_html"):
        value = _LINK_TOKEN.sub(lambda m: f"/{m.group(1)}/{REDACTED}/", getattr(email, field))
        if email.template in SECRET_CODE_TEMPLATES:
            value = _CODE.sub(REDACTED, value)
        redacted[field] = value
        setattr(email, field, value)
    return redacted


SECRET_CODE_TEMPLATES = frozenset({"signature-code"})


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600 and exc.smtp_code != 552


def _message(email: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=email.to,
        headers={"Message-ID": email.message_id},
    )
    message.attach_alternative(email.body_html, "text/html")
    for attachment in email.attachments.all():
        message.attach(attachment.filename, bytes(attachment.content), attachment.mimetype)
    return message


# A sending waits on the network about this many times (connect, greeting, EHLO, TLS, MAIL, RCPT, DATA, …).
SMTP_WAITS_PER_SEND = 10


def _mailer() -> BaseEmailBackend:
    """The default mailer, its SMTP timeout capped so that a whole sending fits in the lease."""
    mailer = mailers.default
    cap = settings.EMAIL_SEND_LEASE.total_seconds() / SMTP_WAITS_PER_SEND
    if hasattr(mailer, "timeout") and (mailer.timeout is None or mailer.timeout > cap):
        mailer.timeout = cap
    return mailer


def _lease_claim(email_id: int) -> str | None:
    """Take a queued e-mail, or one whose lease ran out, with one conditional UPDATE; the claim's owner, or None."""
    now = timezone.now()
    owner = worker_id_new()
    claimed = (
        OutboundEmail.objects.filter(pk=email_id)
        .filter(Q(status=OutboundEmail.Status.QUEUED) | Q(status=OutboundEmail.Status.SENDING, lease_until__lt=now))
        .update(
            status=OutboundEmail.Status.SENDING,
            lease_until=now + settings.EMAIL_SEND_LEASE,
            lease_owner=owner,
            attempts=F("attempts") + 1,
        )
    )
    return owner if claimed else None


def _lease_renew(email_id: int, owner: str) -> bool:
    """Right before talking to the SMTP server: still ours, and a whole lease ahead for the conversation."""
    return bool(
        OutboundEmail.objects.filter(pk=email_id, status=OutboundEmail.Status.SENDING, lease_owner=owner).update(
            lease_until=timezone.now() + settings.EMAIL_SEND_LEASE
        )
    )


def _lease_release(email_id: int, owner: str, **outcome) -> bool:
    """Record the outcome of our sending, unless another claim took the e-mail over meanwhile."""
    return bool(
        OutboundEmail.objects.filter(pk=email_id, lease_owner=owner).update(lease_until=None, lease_owner="", **outcome)
    )


def email_send(*, email_id: int) -> str:
    """Send one queued e-mail at most once per lease: claimed, sent while the lease is ours, recorded if still ours.

    A worker that dies mid-send leaves the e-mail `sending` until its lease runs out; then a worker's
    sweep (`outbox_recover`) queues it again. The only double is an e-mail the SMTP server accepted
    just before the worker died, with the same Message-ID, which receivers can drop.
    """
    owner = _lease_claim(email_id)
    if owner is None:
        return "not due"
    email = OutboundEmail.objects.get(pk=email_id)
    message = _message(email)
    if not _lease_renew(email_id, owner):
        return "lease lost"
    try:
        _mailer().send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        return _email_failed(email, exc, owner=owner, retry=send_email)
    with transaction.atomic():
        recorded = _lease_release(
            email_id,
            owner,
            status=OutboundEmail.Status.SENT,
            sent_at=timezone.now(),
            last_error="",
            **_redact(email),
        )
        if not recorded:
            logger.warning("E-mail %s was sent after another worker took it over; it may go out twice.", email_id)
            return "sent, lease lost"
        _on_timeline(email, f"E-mail sent to {', '.join(email.to)}: {email.subject}")
    return "sent"


def _email_failed(email: OutboundEmail, exc: Exception, *, owner: str, retry) -> str:
    error = f"{type(exc).__name__}: {exc}"[:1000]
    give_up = _is_permanent(exc) or email.attempts >= settings.EMAIL_MAX_ATTEMPTS
    with transaction.atomic():
        if give_up:
            if not _lease_release(
                email.pk, owner, status=OutboundEmail.Status.FAILED, last_error=error, **_redact(email)
            ):
                return "lease lost"
            _on_timeline(email, f"E-mail to {', '.join(email.to)} could not be delivered: {error}")
            logger.error("E-mail %s failed for good: %s", email.pk, error)
            return "failed"
        next_attempt_at = timezone.now() + backoff(email.attempts, first=BACKOFF_FIRST, cap=BACKOFF_MAX)
        if not _lease_release(
            email.pk, owner, status=OutboundEmail.Status.QUEUED, last_error=error, next_attempt_at=next_attempt_at
        ):
            return "lease lost"
        timer_set(retry, at=next_attempt_at, key=f"email-send:{email.pk}", email_id=email.pk)
    logger.warning(
        "E-mail %s not sent (attempt %s), next try at %s: %s", email.pk, email.attempts, next_attempt_at, error
    )
    return "retry"


def _on_timeline(email: OutboundEmail, message: str) -> None:
    if email.request_id is None:
        return
    request = TenantRequest.objects.select_for_update().get(pk=email.request_id)
    timeline_append(
        request=request,
        kind="email",
        message=message,
        data={"template": email.template, "message_id": email.message_id, "to": email.to},
    )


def outbox_recover(*, overdue: timedelta = timedelta(minutes=10)) -> int:
    """Queue again the e-mails whose sending stopped (lease run out: a worker died) or whose job was lost.

    Each is taken back by a conditional UPDATE, so that workers sweeping side by side queue it once.
    The claim's owner stays: a worker that was only slow may still record the e-mail it sent.
    """
    now = timezone.now()
    stuck = Q(status=OutboundEmail.Status.QUEUED, next_attempt_at__lt=now - overdue) | Q(
        status=OutboundEmail.Status.SENDING, lease_until__lt=now
    )
    count = 0
    for email_id in OutboundEmail.objects.filter(stuck).values_list("pk", flat=True):
        with transaction.atomic():
            taken = OutboundEmail.objects.filter(stuck, pk=email_id).update(
                status=OutboundEmail.Status.QUEUED, lease_until=None, next_attempt_at=now
            )
            if taken:
                send_email.enqueue(email_id=email_id)
                count += 1
    return count


def staff_recipients() -> dict[str, list[str]]:
    """Staff alerts' addresses by language: STAFF_NOTIFICATION_EMAIL (written in English), or each active staff
    user in their profile's language."""
    from django.contrib.auth import get_user_model

    if settings.STAFF_NOTIFICATION_EMAIL:
        addresses = staff_addresses()
        return {DEFAULT_LANGUAGE: addresses} if addresses else {}
    groups: dict[str, list[str]] = {}
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("pk")
    for email, language in staff.values_list("email", "language"):
        groups.setdefault(language_clean(language) or DEFAULT_LANGUAGE, []).append(email)
    return groups


def email_queue_staff(*, template: str, context: dict, request=None, **options) -> list[OutboundEmail]:
    """One e-mail per language spoken by the staff who receive alerts."""
    return [
        email_queue(template=template, to=to, context=context, request=request, language=language, **options)
        for language, to in staff_recipients().items()
    ]


def staff_addresses() -> list[str]:
    """Where staff alerts go: STAFF_NOTIFICATION_EMAIL, or every active staff user."""
    from django.contrib.auth import get_user_model

    if settings.STAFF_NOTIFICATION_EMAIL:
        return [a.strip() for a in settings.STAFF_NOTIFICATION_EMAIL.split(",") if a.strip()]
    return list(get_user_model().objects.filter(is_staff=True, is_active=True).values_list("email", flat=True))
