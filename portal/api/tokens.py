"""API tokens: e-mail, password and (for an account with a second factor, and staff where required) a TOTP code or
a recovery code, in exchange for a bearer token."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status

from portal.accounts.lockout import lockout_notice
from portal.accounts.models import ApiToken, User
from portal.accounts.second_factor import code_verify, has_authenticator, has_passkey, second_factor_required
from portal.accounts.services import RESET_ASKED, password_reset_ask, recovery_code_used
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
        detail, _minutes = lockout_notice(email)
        raise HttpError(429, detail)
    if user is None or not user.is_active:
        raise HttpError(401, _("This e-mail and password do not match an account."))
    mfa_verified = False
    if second_factor_required(user):  # an account with a second factor, or staff where STAFF_REQUIRE_MFA asks it
        _second_step(user, (payload.otp or "").strip())
        mfa_verified = True
    raw, hashed = token_new()
    created = ApiToken.objects.create(
        user=user,
        token_hash=hashed,
        expires_at=timezone.now() + settings.API_TOKEN_EXPIRES_AFTER,
        mfa_verified=mfa_verified,
    )
    return Status(201, {"token": raw, "expires_at": created.expires_at})


PASSKEYS_ONLY = gettext_lazy(
    'This account signs in with a passkey, which the API cannot use: send one of your recovery codes as "otp", '
    "or add an authenticator app on /accounts/security/."
)


def _second_step(user: User, code: str) -> None:
    """The "otp" of a token request: the authenticator app's code, or a recovery code (used up by this). A passkey
    cannot sign an API request, so an account with passkeys alone is told what does."""
    if not has_authenticator(user):
        if has_passkey(user):
            if not code or code_verify(user, code) is None:
                raise HttpError(401, str(PASSKEYS_ONLY))
            recovery_code_used(user=user)
            return
        raise HttpError(401, _("Staff must enrol an authenticator app first: sign in once in the browser."))
    device = code_verify(user, code) if code else None
    if device is None:
        raise HttpError(
            401,
            _('A valid TOTP code or recovery code ("otp") is required for staff.')
            if user.is_staff
            else _(
                'A valid TOTP code or recovery code ("otp") is required for this account, which has two-step sign-in.'
            ),
        )
    if isinstance(device, StaticDevice):
        recovery_code_used(user=user)


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
    return Status(202, {"detail": str(RESET_ASKED)})
