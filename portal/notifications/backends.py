from collections.abc import Sequence

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from portal.notifications.models import CapturedEmail


class CaptureBackend(BaseEmailBackend):
    """Keeps every message in the database for the dev mailbox instead of sending it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            html = ""
            if isinstance(message, EmailMultiAlternatives):
                html = next((str(content) for content, mimetype in message.alternatives if mimetype == "text/html"), "")
            mime = message.message()
            CapturedEmail.objects.create(
                message_id=str(mime["Message-ID"] or ""),
                from_email=message.from_email,
                to=list(message.to),
                subject=str(message.subject),
                body_text=str(message.body),
                body_html=str(html),
                raw=mime.as_string(),
            )
        return len(email_messages)
