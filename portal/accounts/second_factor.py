"""Two-step sign-in: who must give a second factor, and the signed-in session still waiting for it.

Once an account has an authenticator, every sign-in asks for its code: the password alone opens a session that
reaches only the code page (and sign-out) until the code is given. Staff give one wherever STAFF_REQUIRE_MFA
asks it, and set up their authenticator from an e-mailed link.
"""

from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django_otp.plugins.otp_totp.models import TOTPDevice

PENDING = "second_factor_pending"  # session key: signed in with the password, the code still to come
REACHABLE_WHILE_PENDING = ("/accounts/mfa/", "/accounts/logout/", "/static/")
CODE_FIRST = "Enter the code of your authenticator app first: /accounts/mfa/."


def second_factor_required(user) -> bool:
    """Staff where STAFF_REQUIRE_MFA asks it; anyone who has set up an authenticator."""
    if user.is_staff and settings.STAFF_REQUIRE_MFA:
        return True
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_factor_expect(request: HttpRequest) -> None:
    """Called right after a password sign-in: this session waits for the code."""
    request.session[PENDING] = True


def second_factor_given(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


class SecondFactorMiddleware:
    """A session signed in with the password alone, for an account that has a second factor, reaches only the
    code page: pages redirect there, the API answers 401."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        verified = getattr(user, "is_verified", bool)  # set by django-otp's OTPMiddleware, which runs first
        if (
            user.is_authenticated
            and request.session.get(PENDING)
            and not verified()
            and not request.path.startswith(REACHABLE_WHILE_PENDING)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": CODE_FIRST}, status=401)
            return redirect(f"/accounts/mfa/?next={quote(request.get_full_path())}")
        return self.get_response(request)
