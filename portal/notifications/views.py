from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from portal.notifications.models import CapturedEmail


def _mailbox_open() -> None:
    if not (settings.DEBUG and settings.MAIL_CAPTURED):
        raise Http404


def mailbox(request: HttpRequest) -> HttpResponse:
    """Development only: every e-mail the portal sent, newest first."""
    _mailbox_open()
    emails = CapturedEmail.objects.only("pk", "subject", "to", "captured_at", "from_email")[:200]
    return render(request, "notifications/mailbox.html", {"emails": emails})


def mailbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    _mailbox_open()
    email = get_object_or_404(CapturedEmail, pk=pk)
    return render(request, "notifications/mailbox_message.html", {"email": email})


def mailbox_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part, shown in a sandboxed frame."""
    _mailbox_open()
    email = get_object_or_404(CapturedEmail, pk=pk)
    response = HttpResponse(email.body_html)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response
