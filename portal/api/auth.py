"""Who calls the API: a bearer token from /auth/token, or the browser session (with its CSRF token)."""

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from portal.accounts.decorators import staff_is_verified
from portal.accounts.models import ApiToken, User
from portal.core.tokens import token_hash


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str) -> User | None:
        if not token or len(token) > 200 or not token.isascii():
            return None
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=token_hash(token), expires_at__gt=timezone.now(), user__is_active=True)
            .first()
        )
        if found is None:
            return None
        request.api_token = found
        user = found.user
        # The token recorded at issue whether the second factor was passed; the OTP middleware never sees a
        # bearer request, so the user answers django-otp's question from the token itself.
        user.is_verified = lambda: found.mfa_verified  # type: ignore[attr-defined]
        return user


class SignedInSession(SessionAuth):
    """The browser session; without a signed-in user there is nothing to protect from CSRF, and the answer is 401."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


bearer = BearerToken()
session = SignedInSession()
SIGNED_IN = [bearer, session]


def optional_user(request) -> User | None:
    """For endpoints open to anyone: the caller if signed in; a wrong token is refused, not ignored."""
    if request.headers.get("Authorization"):
        user = bearer(request)
        if user is None:
            raise AuthenticationError(
                401, _("This token is unknown or has expired: get a new one at /api/v1/auth/token.")
            )
        return user
    if request.user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS") and check_csrf(request) is not None:
            raise HttpError(403, _("CSRF check failed: send the X-CSRFToken header with the session's token."))
        return request.user
    return None


def require_staff(request) -> User:
    """Staff, verified by TOTP where STAFF_REQUIRE_MFA asks it (at sign-in or when the token was issued)."""
    user = request.auth
    if not user.is_staff:
        raise HttpError(403, _("This is for the reseller's staff."))
    if not staff_is_verified(user):
        raise HttpError(403, _('Staff must sign in with a TOTP code: ask for a token with "otp".'))
    return user
