import base64
from collections.abc import Callable
from io import BytesIO
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from portal.accounts.forms import (
    ConfirmPasswordForm,
    NewPasswordForm,
    PasswordChangeForm,
    ProfileForm,
    ResendForm,
    SecondStepForm,
    SignInForm,
    TotpForm,
)
from portal.accounts.lockout import lockout_notice
from portal.accounts.lockout import username as lockout_username
from portal.accounts.models import ActivationLink, MfaEnrolmentLink, PasswordResetLink, User
from portal.accounts.recent_auth import recent_auth_record, recent_auth_required
from portal.accounts.second_factor import (
    FRESH_CODES,
    code_verify,
    has_authenticator,
    has_passkey,
    has_second_factor,
    second_factor_expect,
    second_factor_given,
    second_factor_required,
)
from portal.accounts.services import (
    RESET_ASKED,
    LastSecondFactor,
    MfaEnrolmentTooSoon,
    activation_complete,
    activation_find,
    activation_resend,
    device_remove,
    mfa_enrolment_complete,
    mfa_enrolment_find,
    mfa_enrolment_link_send,
    password_change,
    password_reset_ask,
    password_reset_complete,
    password_reset_find,
    profile_update,
    recovery_code_used,
    recovery_codes_left,
    recovery_codes_new,
    second_factor_added,
    sessions_end_elsewhere,
    user_devices,
)
from portal.core.links import link_view
from portal.core.ratelimit import RateLimited, rate_limit, rate_limited_page


def _next_url(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        assert form.user is not None
        login(request, form.user, backend="django.contrib.auth.backends.ModelBackend")
        landing = _next_url(request, form.user.landing_path())
        if second_factor_required(form.user):
            second_factor_expect(request)
            return redirect(f"/accounts/mfa/?next={quote(landing)}")
        return redirect(landing)
    return render(
        request,
        "accounts/sign_in.html",
        {"form": form, "next": _next_url(request, "")},
        status=400 if form.errors else 200,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("/")


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


WRONG_CODE = gettext_lazy("This code is not right, or it has expired: enter the code your app shows now.")
WRONG_RECOVERY_CODE = gettext_lazy(
    "This recovery code is not right, or it was already used: each recovery code works once."
)


@login_required
def mfa(request: HttpRequest) -> HttpResponse:
    """The second step: the authenticator's code, a passkey, or a recovery code. Without a device, customers set up
    an authenticator app here; staff set one up from an e-mailed link only."""
    user = request.user
    if has_second_factor(user):
        return _second_step_page(request, "accounts/mfa.html")
    if user.is_staff:
        return _mfa_setup_ask(request)
    return _totp_page(request)


def _second_step_page(request: HttpRequest, template: str, context: dict | None = None) -> HttpResponse:
    """A code form (authenticator app or recovery code) beside the passkey button; on success the session is
    verified, counts as a recent sign-in, and goes on to `next`."""
    user = request.user
    assert isinstance(user, User)  # login_required
    form = SecondStepForm(request.POST if "code" in request.POST else None)
    if form.is_bound and form.is_valid():
        code = form.cleaned_data["code"]
        device = code_verify(user, code)
        if device is not None:
            second_factor_given(request, device)
            if isinstance(device, StaticDevice):
                recovery_code_used(user=user)
            return redirect(_next_url(request, user.landing_path()))
        form.add_error("code", WRONG_CODE if code.strip().isdigit() else WRONG_RECOVERY_CODE)
    page = {
        **(context or {}),
        "form": form,
        "next": _next_url(request, ""),
        "has_authenticator": has_authenticator(user),
        "has_passkey": has_passkey(user),
        "codes_left": recovery_codes_left(user=user),
    }
    return render(request, template, page, status=400 if form.errors else 200)


def _codes_shown_next(request: HttpRequest, codes: list[str], then: str) -> HttpResponse:
    """Keep new recovery codes for the codes page, which shows them once, then goes on to `then`."""
    request.session[FRESH_CODES] = codes
    return redirect(f"{reverse('accounts:security_codes')}?next={quote(then)}")


def _totp_page(request: HttpRequest, *, on_enrolled=None, done: str = "") -> HttpResponse:
    """Enrol a new authenticator app: QR code and key, then a code from the app confirms it. The user's first
    device comes with recovery codes, shown next."""
    user = request.user
    assert isinstance(user, User)  # login_required
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            if on_enrolled is not None:
                on_enrolled()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = second_factor_added(user=user)
            second_factor_given(request, device)
            then = _next_url(request, done or ("/backoffice/" if user.is_staff else "/"))
            return _codes_shown_next(request, codes, then) if codes else redirect(then)
        form.add_error("code", WRONG_CODE)
    context = {
        "form": form,
        "enrolling": True,
        "next": _next_url(request, ""),
        "qr": _qr_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode(),
    }
    return render(request, "accounts/mfa.html", context, status=400 if form.errors else 200)


def _mfa_setup_ask(request: HttpRequest) -> HttpResponse:
    """A password alone never enrols a staff authenticator: the set-up link goes to the account's mailbox."""
    assert isinstance(request.user, User)  # login_required
    notice = ""
    status = 200
    if request.method == "POST":
        try:
            mfa_enrolment_link_send(user=request.user)
        except MfaEnrolmentTooSoon as wait:
            notice, status = str(wait), 429
        else:
            notice = _("We e-mailed a set-up link to %(email)s. Open it in this browser.") % {
                "email": request.user.email
            }
    return render(
        request, "accounts/mfa_setup_ask.html", {"notice": notice, "next": _next_url(request, "")}, status=status
    )


def _own_enrolment_link(request: HttpRequest, token: str) -> MfaEnrolmentLink:
    """Only the account the link was sent to opens it: another account's link is unknown."""
    assert isinstance(request.user, User)  # login_required
    return mfa_enrolment_find(raw=token, user=request.user)


@login_required
@link_view(
    _own_enrolment_link,
    dead_template="accounts/mfa_setup_ask.html",
    dead_context={"dead": True, "next": ""},
)
def mfa_enrol(request: HttpRequest, link: MfaEnrolmentLink, token: str) -> HttpResponse:
    """The e-mailed set-up link, opened by the signed-in account it was sent to: scan, enter a code, done."""
    if has_second_factor(link.user):
        return redirect("accounts:mfa")
    return _totp_page(request, on_enrolled=lambda: mfa_enrolment_complete(raw=token, user=link.user))


def locked_out(request: HttpRequest, credentials=None, *args, **kwargs) -> HttpResponse:
    """Too many failed sign-ins on this account: say until when, and that a new password opens it now."""
    detail, minutes = lockout_notice(lockout_username(request, credentials) or "")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": detail}, status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def _new_password(request: HttpRequest, complete: Callable[[str], User]) -> tuple[NewPasswordForm, User | None]:
    """The new-password form of an e-mailed link; the user once `complete` took the password (its validators'
    reasons go beside the field)."""
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            return form, complete(form.cleaned_data["password1"])
        except ValidationError as error:
            form.add_error("password1", error)
    return form, None


def _password_page(request: HttpRequest, template: str, form: NewPasswordForm, person: User) -> HttpResponse:
    return render(request, template, {"form": form, "person": person}, status=400 if form.errors else 200)


@link_view(
    lambda request, token: activation_find(token),
    dead_template="accounts/activation_dead.html",
    dead_context=lambda dead: {"form": ResendForm()},
)
def activate(request: HttpRequest, link: ActivationLink, token: str) -> HttpResponse:
    """First sign-in of a new technical contact: set a password, then land in the portal on the company."""
    form, user = _new_password(request, lambda password: activation_complete(raw=token, password=password))
    if user is None:
        return _password_page(request, "accounts/activate.html", form, link.user)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Welcome: your password is set. You can also set up two-step sign-in below."))
    return redirect("/")


def _link_asked(request: HttpRequest, *, limit: str, template: str, ask: Callable[[str], None], notice: str):
    """Someone asks for a link by e-mail address: rate-limited, and the same answer whether or not it is known."""
    form = ResendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit(request, limit, emails=[form.cleaned_data["email"]])
        except RateLimited as limited:
            return rate_limited_page(request, limited, template, {"form": form})
        ask(form.cleaned_data["email"])
        messages.info(request, notice)
        return redirect("accounts:login")
    return render(request, template, {"form": form}, status=400 if form.errors else 200)


def activation_ask(request: HttpRequest) -> HttpResponse:
    """Ask for a new activation link."""
    return _link_asked(
        request,
        limit="activation",
        template="accounts/activation_ask.html",
        ask=lambda email: activation_resend(email=email),
        notice=_("If this address has portal access waiting to be activated, a new link is on its way."),
    )


def password_reset_request(request: HttpRequest) -> HttpResponse:
    """Forgot the password."""
    return _link_asked(
        request,
        limit="password_reset",
        template="accounts/password_reset_ask.html",
        ask=lambda email: password_reset_ask(email=email),
        notice=str(RESET_ASKED),
    )


@link_view(
    lambda request, token: password_reset_find(token),
    dead_template="accounts/password_reset_dead.html",
    dead_context=lambda dead: {"form": ResendForm()},
)
def password_reset(request: HttpRequest, link: PasswordResetLink, token: str) -> HttpResponse:
    """The e-mailed link: choose a new password, then sign in with it (and the code, where there is one)."""
    form, user = _new_password(request, lambda password: password_reset_complete(raw=token, password=password))
    if user is None:
        return _password_page(request, "accounts/password_reset.html", form, link.user)
    logout(request)
    messages.success(request, _("Your password is changed, and every session signed in before is closed: sign in."))
    return redirect("accounts:login")


def _account_page(request: HttpRequest, *, profile=None, password=None, status: int = 200) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "language": user.language,
    }
    context = {
        "profile_form": profile or ProfileForm(initial=initial),
        "password_form": password or PasswordChangeForm(user),
        "two_step": has_second_factor(user),
    }
    return render(request, "accounts/profile.html", context, status=status)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own account: name, phone, language, password, sessions, two-step sign-in."""
    if request.method != "POST":
        return _account_page(request)
    assert isinstance(request.user, User)
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _account_page(request, profile=form, status=400)
    profile_update(user=request.user, **form.cleaned_data)
    messages.success(request, _("Your details are saved."))
    return redirect("accounts:profile")


@login_required
@require_POST
def password_change_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        try:
            password_change(user=request.user, password=form.cleaned_data["password1"])
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            update_session_auth_hash(request, request.user)  # this session stays; the others close
            messages.success(request, _("Your password is changed. Every other session is signed out."))
            return redirect("accounts:profile")
    return _account_page(request, password=form, status=400)


@login_required
@require_POST
def sessions_end_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    sessions_end_elsewhere(user=request.user)
    update_session_auth_hash(request, request.user)
    messages.success(request, _("You are signed out everywhere else; this browser stays signed in."))
    return redirect("accounts:profile")


DEVICE_KINDS = {"authenticator": TOTPDevice, "passkey": WebAuthnCredential}


def _device_rows(user: User) -> list[dict]:
    kinds = {model: kind for kind, model in DEVICE_KINDS.items()}
    return [
        {
            "kind": kinds[type(device)],
            "label": _("Authenticator app") if isinstance(device, TOTPDevice) else _("Passkey or security key"),
            "name": device.name,
            "added": device.created_at,
            "last_used": device.last_used_at,
            "remove_url": reverse("accounts:device_remove", args=[kinds[type(device)], device.pk]),
        }
        for device in user_devices(user=user)
    ]


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """The user's second factors: authenticator apps and passkeys (add, remove), and the recovery codes."""
    user = request.user
    assert isinstance(user, User)  # login_required
    if request.session.get(FRESH_CODES):  # a passkey just registered as the first device
        return redirect(f"{reverse('accounts:security_codes')}?next={quote(reverse('accounts:security'))}")
    context = {
        "devices": _device_rows(user),
        "codes_left": recovery_codes_left(user=user),
        "has_device": has_second_factor(user),
        "may_enrol_here": has_second_factor(user) or not user.is_staff,
        "next": _next_url(request, ""),
    }
    return render(request, "accounts/security.html", context)


@login_required
def security_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once (and offered as a .txt file); a second look shows none."""
    codes = request.session.pop(FRESH_CODES, None) or []
    text = "".join(f"{code[:4]}-{code[4:]}\n" for code in codes)
    context = {
        "codes": [f"{code[:4]}-{code[4:]}" for code in codes],
        "download": "data:text/plain;charset=utf-8,"
        + quote(_("%(site)s recovery codes") % {"site": request.get_host()} + f"\n\n{text}"),
        "next": _next_url(request, reverse("accounts:security")),
    }
    response = render(request, "accounts/security_codes.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def authenticator_add(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app from the security page (staff without any device use their e-mailed link)."""
    if request.user.is_staff and not has_second_factor(request.user):
        return redirect("accounts:mfa")
    return _totp_page(request, done=reverse("accounts:security"))


@login_required
@require_POST
@recent_auth_required
def device_remove_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    model = DEVICE_KINDS.get(kind)
    device = model.objects.filter(user=user, pk=pk, confirmed=True).first() if model is not None else None
    if device is None:
        raise Http404("No such device of yours.")
    try:
        device_remove(user=user, device=device)
    except LastSecondFactor as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            _("%(device)s is removed: it no longer signs you in.") % {"device": device.name}
            if device.name
            else _("The device is removed: it no longer signs you in."),
        )
    return redirect("accounts:security")


@login_required
@require_POST
@recent_auth_required
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    """Make new recovery codes: the old ones stop working."""
    assert isinstance(request.user, User)
    if not has_second_factor(request.user):
        messages.error(request, _("Recovery codes stand in for an authenticator app or a passkey: add one first."))
        return redirect("accounts:security")
    return _codes_shown_next(request, recovery_codes_new(user=request.user), reverse("accounts:security"))


@login_required
def confirm(request: HttpRequest) -> HttpResponse:
    """Prove again who you are (the password, or a code or passkey where you have one), then go on to `next`."""
    user = request.user
    assert isinstance(user, User)  # login_required
    password_form = ConfirmPasswordForm(request.POST if "password" in request.POST else None)
    if password_form.is_bound and password_form.is_valid():
        checked = authenticate(request, email=user.email, password=password_form.cleaned_data["password"])
        if checked is not None and checked.pk == user.pk:
            recent_auth_record(request)
            return redirect(_next_url(request, "/"))
        password_form.add_error("password", _("This is not your password."))
    if not has_second_factor(user):
        context = {"password_form": password_form, "next": _next_url(request, "")}
        return render(request, "accounts/confirm.html", context, status=400 if password_form.errors else 200)
    response = _second_step_page(request, "accounts/confirm.html", {"password_form": password_form})
    if password_form.errors:
        response.status_code = 400
    return response
