"""Two-step sign-in: who must give a second factor, and the signed-in session still waiting for it.

Once an account has a second factor (an authenticator app or a passkey), every sign-in asks for it: the password alone opens a session that
reaches only the code page (and sign-out) until the code is given. Staff give one wherever STAFF_REQUIRE_MFA
asks it, and set up their authenticator from an e-mailed link.
"""

from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from portal.accounts.recent_auth import recent_auth_record

PENDING = "second_factor_pending"  # session key: signed in with the password, the code still to come
REACHABLE_WHILE_PENDING = (
    "/accounts/mfa/",
    "/accounts/webauthn/authentication/",
    "/accounts/webauthn/jsi18n/",
    "/accounts/logout/",
    "/static/",
)
CODE_FIRST = gettext_lazy("Enter the code of your authenticator app first: /accounts/mfa/.")
FRESH_CODES = "recovery_codes_fresh"  # session key: new recovery codes, until the codes page shows them once


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def has_passkey(user) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def has_second_factor(user) -> bool:
    """An authenticator app or a passkey: what makes every sign-in ask for a second step. Recovery codes alone do
    not count (they stand in for a lost device)."""
    return has_authenticator(user) or has_passkey(user)


def second_factor_required(user) -> bool:
    """Staff where STAFF_REQUIRE_MFA asks it; anyone who has an authenticator app or a passkey."""
    if user.is_staff and settings.STAFF_REQUIRE_MFA:
        return True
    return has_second_factor(user)


def recovery_code_clean(code: str) -> str:
    """A recovery code as typed (any case, spaces or dashes between groups) as django-otp stores it."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def code_verify(user, code: str) -> Device | None:
    """The device that accepts a typed code: an authenticator app's 6 digits, or one recovery code (used up by
    this). Wrong codes count towards django-otp's throttling of each device."""
    code = code.strip()
    with transaction.atomic():
        if code.isdigit():
            devices: list[Device] = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
        else:
            devices = list(StaticDevice.objects.select_for_update().filter(user=user, confirmed=True))
            code = recovery_code_clean(code)
        return next((device for device in devices if device.verify_token(code)), None)


def second_factor_expect(request: HttpRequest) -> None:
    """Called right after a password sign-in: this session waits for the code."""
    request.session[PENDING] = True


def second_factor_given(request: HttpRequest, device: Device) -> None:
    """The second step is done with `device`: the session is verified and counts as a recent sign-in."""
    otp_login(request, device)
    request.session.pop(PENDING, None)
    recent_auth_record(request)


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
                return JsonResponse({"detail": str(CODE_FIRST)}, status=401)
            return redirect(f"/accounts/mfa/?next={quote(request.get_full_path())}")
        return self.get_response(request)
