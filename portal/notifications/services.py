"""The e-mail outbox: render now, store a row, enqueue its sending in the same transaction."""

import logging
import re
import smtplib
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from portal.core.retry import backoff
from portal.notifications.models import OutboundAttachment, OutboundEmail

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def absolute_url(path: str) -> str:
    return settings.PORTAL_BASE_URL + path


def email_render(*, template: str, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML from templates/emails/<template>-subject.txt, -body.txt, -body.html."""
    context = {"brand": settings.PORTAL_BRAND, "support_email": settings.PORTAL_SUPPORT_EMAIL, **context}
    subject = " ".join(render_to_string(f"emails/{template}-subject.txt", context).split())
    text = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", context)
    return subject, text, html


def email_queue(
    *,
    template: str,
    to: list[str],
    context: dict,
    request=None,
    from_email: str | None = None,
    attachments: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> OutboundEmail:
    """Queue one e-mail. Call inside the transaction of the change that causes it."""
    from portal.notifications.tasks import send_email

    subject, text, html = email_render(template=template, context=context)
    email = OutboundEmail.objects.create(
        request=request,
        template=template,
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
_LINK_TOKEN = re.compile(r"/(sign|correct|track|activate)/[A-Za-z0-9_\-]{20,}/")
_CODE = re.compile(r"\b\d{6}\b")
REDACTED = "[removed after sending]"


def _redact(email: OutboundEmail) -> list[str]:
    """Strip the one-time links and codes from a sent (or abandoned) e-mail; the database keeps no usable secret."""
    fields = ["subject", "body_text", "body_html"]
    for field in fields:
        value = _LINK_TOKEN.sub(lambda m: f"/{m.group(1)}/{REDACTED}/", getattr(email, field))
        if email.template in SECRET_CODE_TEMPLATES:
            value = _CODE.sub(REDACTED, value)
        setattr(email, field, value)
    return fields


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


def email_send(*, email_id: int) -> str:
    """Send one queued e-mail once: claimed by a conditional UPDATE, marked sent, or retried later."""
    from portal.notifications.tasks import send_email

    now = timezone.now()
    claimed = (
        OutboundEmail.objects.filter(pk=email_id)
        .filter(Q(status=OutboundEmail.Status.QUEUED) | Q(status=OutboundEmail.Status.SENDING, lease_until__lt=now))
        .update(status=OutboundEmail.Status.SENDING, lease_until=now + LEASE)
    )
    if not claimed:
        return "not due"
    email = OutboundEmail.objects.get(pk=email_id)
    email.attempts += 1
    try:
        _message(email).send()
    except (smtplib.SMTPException, OSError) as exc:
        return _email_failed(email, exc, retry=send_email)
    with transaction.atomic():
        email.status = OutboundEmail.Status.SENT
        email.sent_at = timezone.now()
        email.lease_until = None
        email.last_error = ""
        email.save(update_fields=["status", "sent_at", "lease_until", "last_error", "attempts", *_redact(email)])
        _on_timeline(email, f"E-mail sent to {', '.join(email.to)}: {email.subject}")
    return "sent"


def _email_failed(email: OutboundEmail, exc: Exception, *, retry) -> str:
    error = f"{type(exc).__name__}: {exc}"[:1000]
    give_up = _is_permanent(exc) or email.attempts >= settings.EMAIL_MAX_ATTEMPTS
    with transaction.atomic():
        email.last_error = error
        email.lease_until = None
        if give_up:
            email.status = OutboundEmail.Status.FAILED
            email.save(update_fields=["status", "last_error", "lease_until", "attempts", *_redact(email)])
            _on_timeline(email, f"E-mail to {', '.join(email.to)} could not be delivered: {error}")
            logger.error("E-mail %s failed for good: %s", email.pk, error)
            return "failed"
        email.status = OutboundEmail.Status.QUEUED
        email.next_attempt_at = timezone.now() + backoff(email.attempts, first=BACKOFF_FIRST, cap=BACKOFF_MAX)
        email.save(update_fields=["status", "last_error", "lease_until", "attempts", "next_attempt_at"])
        retry.using(run_after=email.next_attempt_at).enqueue(email_id=email.pk)
    logger.warning("E-mail %s not sent (attempt %s), next try at %s: %s", email.pk, email.attempts, email.next_attempt_at, error)
    return "retry"


def _on_timeline(email: OutboundEmail, message: str) -> None:
    if email.request_id is None:
        return
    from portal.onboarding.models import TenantRequest
    from portal.onboarding.timeline import timeline_append

    request = TenantRequest.objects.select_for_update().get(pk=email.request_id)
    timeline_append(
        request=request,
        kind="email",
        message=message,
        data={"template": email.template, "message_id": email.message_id, "to": email.to},
    )


def outbox_recover(*, overdue: timedelta = timedelta(minutes=10)) -> int:
    """Re-enqueue e-mails whose job was lost (a worker killed mid-send, a task row removed)."""
    from portal.notifications.tasks import send_email

    now = timezone.now()
    stuck = OutboundEmail.objects.filter(
        Q(status=OutboundEmail.Status.QUEUED, next_attempt_at__lt=now - overdue)
        | Q(status=OutboundEmail.Status.SENDING, lease_until__lt=now)
    ).values_list("pk", flat=True)
    count = 0
    for email_id in stuck:
        send_email.enqueue(email_id=email_id)
        count += 1
    return count


def staff_addresses() -> list[str]:
    """Where staff alerts go: STAFF_NOTIFICATION_EMAIL, or every active staff user."""
    from django.contrib.auth import get_user_model

    if settings.STAFF_NOTIFICATION_EMAIL:
        return [a.strip() for a in settings.STAFF_NOTIFICATION_EMAIL.split(",") if a.strip()]
    return list(get_user_model().objects.filter(is_staff=True, is_active=True).values_list("email", flat=True))
