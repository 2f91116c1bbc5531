import base64
from collections.abc import Callable
from io import BytesIO
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.forms import NewPasswordForm, PasswordChangeForm, ProfileForm, ResendForm, SignInForm, TotpForm
from portal.accounts.lockout import lockout_notice
from portal.accounts.lockout import username as lockout_username
from portal.accounts.models import ActivationLink, MfaEnrolmentLink, PasswordResetLink, User
from portal.accounts.second_factor import second_factor_expect, second_factor_given, second_factor_required
from portal.accounts.services import (
    RESET_ASKED,
    MfaEnrolmentTooSoon,
    activation_complete,
    activation_find,
    activation_resend,
    mfa_enrolment_complete,
    mfa_enrolment_find,
    mfa_enrolment_link_send,
    password_change,
    password_reset_ask,
    password_reset_complete,
    password_reset_find,
    profile_update,
    sessions_end_elsewhere,
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
    messages.info(request, "You are signed out.")
    return redirect("/")


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


WRONG_CODE = "This code is not right, or it has expired: enter the code your app shows now."


@login_required
def mfa(request: HttpRequest) -> HttpResponse:
    """Second factor: enter the authenticator's code. Staff without one set it up from an e-mailed link only."""
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and user.is_staff:
        return _mfa_setup_ask(request)
    return _totp_page(request, device)


def _totp_page(request: HttpRequest, device: TOTPDevice | None, *, on_enrolled=None) -> HttpResponse:
    """The code form; with no confirmed device it enrols a new authenticator (QR code and key) on success."""
    user = request.user
    enrolling = device is None
    if device is None:
        device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": "Authenticator app"})
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].strip()):
            if enrolling:
                if on_enrolled is not None:
                    on_enrolled()
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            second_factor_given(request)
            return redirect(_next_url(request, "/backoffice/" if user.is_staff else "/"))
        form.add_error("code", WRONG_CODE)
    context = {"form": form, "enrolling": enrolling, "next": _next_url(request, "")}
    if enrolling:
        context.update(qr=_qr_svg(device.config_url), secret=base64.b32encode(device.bin_key).decode())
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
            notice = f"We e-mailed a set-up link to {request.user.email}. Open it in this browser."
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
    if TOTPDevice.objects.filter(user=link.user, confirmed=True).exists():
        return redirect("accounts:mfa")
    return _totp_page(request, None, on_enrolled=lambda: mfa_enrolment_complete(raw=token, user=link.user))


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
    messages.success(request, "Welcome: your password is set. You can also set up two-step sign-in below.")
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
        notice="If this address has portal access waiting to be activated, a new link is on its way.",
    )


def password_reset_request(request: HttpRequest) -> HttpResponse:
    """Forgot the password."""
    return _link_asked(
        request,
        limit="password_reset",
        template="accounts/password_reset_ask.html",
        ask=lambda email: password_reset_ask(email=email),
        notice=RESET_ASKED,
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
    messages.success(request, "Your password is changed, and every session signed in before is closed: sign in.")
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
        "two_step": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
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
    messages.success(request, "Your details are saved.")
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
            messages.success(request, "Your password is changed. Every other session is signed out.")
            return redirect("accounts:profile")
    return _account_page(request, password=form, status=400)


@login_required
@require_POST
def sessions_end_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    sessions_end_elsewhere(user=request.user)
    update_session_auth_hash(request, request.user)
    messages.success(request, "You are signed out everywhere else; this browser stays signed in.")
    return redirect("accounts:profile")
