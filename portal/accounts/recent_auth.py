"""A recent check of who is at the keyboard, for the actions that hurt most in a stolen session.

The session records when its user last proved who they are: the password at sign-in, the second step, or the
confirm page (`/accounts/confirm/`, the password again, or a code or passkey where the user has one). A page
decorated with `recent_auth_required` sends an older session to the confirm page, which returns to that page
(for a form's POST, to the page that holds the form). In the API a bearer token proves it while it is younger
than RECENT_AUTH_MAX_AGE: past that the answer is 403 and a new token does it.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy

SESSION_KEY = "recent_auth_at"  # POSIX time of the last proof, in the session
CONFIRM_PATH = "/accounts/confirm/"
TOKEN_TOO_OLD = gettext_lazy(
    "This needs a recent sign-in: request a new token (POST /api/v1/auth/token) and try again."
)


class RecentAuthNeeded(Exception):
    """The API caller's proof is older than RECENT_AUTH_MAX_AGE: 403."""

    def __init__(self) -> None:
        super().__init__(str(TOKEN_TOO_OLD))


def recent_auth_record(request: HttpRequest) -> None:
    request.session[SESSION_KEY] = timezone.now().timestamp()


@receiver(user_logged_in, dispatch_uid="portal.accounts.recent_auth")
def _signed_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Every sign-in with a password (or a new password from an e-mailed link) is a proof."""
    if request is not None and hasattr(request, "session"):
        recent_auth_record(request)


def _proved_at(request: HttpRequest) -> datetime | None:
    token = getattr(request, "api_token", None)
    if token is not None:
        return token.created_at
    stamp = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    return datetime.fromtimestamp(stamp, tz=UTC) if isinstance(stamp, int | float) else None


def is_recent(request: HttpRequest) -> bool:
    proved = _proved_at(request)
    return proved is not None and timezone.now() - proved <= settings.RECENT_AUTH_MAX_AGE


def recent_auth_check(request: HttpRequest) -> None:
    """For API routes: RecentAuthNeeded (403) unless the token, or the browser session, proved itself lately."""
    if not is_recent(request):
        raise RecentAuthNeeded()


def _same_site(request: HttpRequest, url: str) -> bool:
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())


def _back_to(request: HttpRequest) -> str:
    """Where the confirm page returns: this page for a GET; for a form's POST the page that holds the form."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.headers.get("Referer", "")
    if referer and _same_site(request, referer):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def recent_auth_required[V: Callable[..., HttpResponse]](view: V) -> V:
    """A page for a signed-in user that needs a proof at most RECENT_AUTH_MAX_AGE old; an older session goes to
    the confirm page first. Place it inside the decorators that answer 404 and 403, so those come first."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not is_recent(request):
            return redirect(f"{CONFIRM_PATH}?next={quote(_back_to(request))}")
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
