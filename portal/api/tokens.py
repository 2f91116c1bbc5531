"""API tokens: e-mail, password and (for an account with an authenticator, and staff where required) a TOTP code,
in exchange for a bearer token."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status

from portal.accounts.lockout import lockout_notice
from portal.accounts.models import ApiToken
from portal.accounts.second_factor import second_factor_required
from portal.accounts.services import RESET_ASKED, password_reset_ask
from portal.api import schemas
from portal.core.ratelimit import rate_limit
from portal.core.tokens import token_new

router = Router(tags=["authentication"])


@router.post(
    "/auth/token",
    response={201: schemas.TokenOut, 400: schemas.Error, 401: schemas.Error, 422: schemas.Error, 429: schemas.Error},
    auth=None,
    summary="Exchange credentials for a bearer token",
)
def token(request, payload: schemas.TokenIn):
    rate_limit(request, "api_token", emails=[payload.email])
    email = payload.email.strip().lower()
    known = len(email) <= 254 and "\x00" not in email
    user = authenticate(request, email=email, password=payload.password) if known else None
    if getattr(request, "axes_locked_out", False):
        detail, _ = lockout_notice(email)
        raise HttpError(429, detail)
    if user is None or not user.is_active:
        raise HttpError(401, "This e-mail and password do not match an account.")
    mfa_verified = False
    if second_factor_required(user):  # an account with an authenticator, or staff where STAFF_REQUIRE_MFA asks it
        code = (payload.otp or "").strip()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            raise HttpError(401, "Staff must enrol an authenticator app first: sign in once in the browser.")
        if not code or not device.verify_token(code):
            who = "staff" if user.is_staff else "this account, which has two-step sign-in"
            raise HttpError(401, f'A valid TOTP code ("otp") is required for {who}.')
        mfa_verified = True
    raw, hashed = token_new()
    created = ApiToken.objects.create(
        user=user,
        token_hash=hashed,
        expires_at=timezone.now() + settings.API_TOKEN_EXPIRES_AFTER,
        mfa_verified=mfa_verified,
    )
    return Status(201, {"token": raw, "expires_at": created.expires_at})


class PasswordResetIn(schemas.Schema):
    email: schemas.Email


@router.post(
    "/auth/password-reset",
    response={202: schemas.Error, 400: schemas.Error, 422: schemas.Error, 429: schemas.Error},
    auth=None,
    summary="E-mail a link to choose a new password (the same answer whether or not the account exists)",
)
def password_reset(request, payload: PasswordResetIn):
    rate_limit(request, "password_reset", emails=[payload.email])
    password_reset_ask(email=payload.email)
    return Status(202, {"detail": RESET_ASKED})
