"""Portal access: activation links for new users, the first password, password reset, staff two-step set-up
links, recovery codes and the removal of second factors."""

from datetime import timedelta

from axes.utils import reset as lockout_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from portal.accounts.models import ActivationLink, MfaEnrolmentLink, PasswordResetLink, User
from portal.companies.models import Company
from portal.core.links import link_issue, link_open, link_revoke, link_use
from portal.core.text import CONTROL_REFUSED, control_characters_in
from portal.notifications.services import absolute_url, email_queue


def activation_link_new(*, user: User) -> tuple[str, ActivationLink]:
    """A new activation link for the user; earlier ones die. Call inside the transaction that e-mails it."""
    return link_issue(
        ActivationLink, lifetime=settings.ACTIVATION_LINK_EXPIRES_AFTER, revoke_others={"user": user}, user=user
    )


def activation_url(raw: str) -> str:
    return absolute_url(reverse("activate", args=[raw]))


def activation_find(raw: str, *, lock: bool = False) -> ActivationLink:
    """LinkUnknown for an unknown token; LinkDead for a used, expired or replaced one."""
    return link_open(ActivationLink.objects.select_related("user"), raw, lock=lock)


def _password_set(user: User, password: str) -> None:
    """Django's validators, then the new password. ValidationError lists the reasons."""
    if control_characters_in(password):
        raise ValidationError(_(CONTROL_REFUSED), code="control_character")
    validate_password(password, user)
    user.set_password(password)


def activation_complete(*, raw: str, password: str) -> User:
    """Set the first password (Django's validators apply) and kill the link. ValidationError lists the reasons."""
    with transaction.atomic():
        link = activation_find(raw, lock=True)
        user = link.user
        _password_set(user, password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        link_use(link)
    return user


RESET_ASKED = gettext_lazy(
    "If an account uses this address, a link to choose a new password is on its way: it works for one hour."
)


def password_reset_url(raw: str) -> str:
    return absolute_url(reverse("accounts:password_reset", args=[raw]))


def password_reset_ask(*, email: str) -> None:
    """Someone forgot a password: a link goes to the account's own address, earlier ones die. Nothing is said, and
    nothing is sent, when no active account uses the address."""
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None:
        return
    with transaction.atomic():
        raw, link = link_issue(
            PasswordResetLink,
            lifetime=settings.PASSWORD_RESET_LINK_EXPIRES_AFTER,
            revoke_others={"user": user},
            user=user,
        )
        email_queue(
            template="password-reset",
            language=user.language,
            to=[user.email],
            context={"user": user, "reset_url": password_reset_url(raw), "expires_at": link.expires_at},
        )


def password_reset_find(raw: str, *, lock: bool = False) -> PasswordResetLink:
    """LinkUnknown for an unknown token; LinkDead for a used, expired or replaced one."""
    return link_open(PasswordResetLink.objects.select_related("user"), raw, lock=lock)


def password_reset_complete(*, raw: str, password: str) -> User:
    """The new password (Django's validators apply); the link dies, and so does every session of the account (they
    were signed in with the old password). The account's sign-in lockout ends: its owner proved the mailbox.
    The owner is told by e-mail."""
    with transaction.atomic():
        link = password_reset_find(raw, lock=True)
        user = link.user
        _password_set(user, password)
        user.save(update_fields=["password"])
        link_use(link)
        link_revoke(PasswordResetLink.objects.filter(user=user))
        email_queue(
            template="password-changed", language=user.language, to=[user.email], context={"user": user, "how": "reset"}
        )
    lockout_reset(username=user.email)
    return user


def activation_resend(*, email: str) -> None:
    """Someone asks for a new link: sent only to a user who has not set a password yet; silent otherwise."""
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None or user.has_usable_password():
        return
    with transaction.atomic():
        raw, link = activation_link_new(user=user)
        email_queue(
            template="activation-link",
            language=user.language,
            to=[user.email],
            context={"user": user, "activation_url": activation_url(raw), "expires_at": link.expires_at},
        )


class MfaEnrolmentTooSoon(Exception):
    def __init__(self, wait_seconds: int):
        self.wait_seconds = wait_seconds
        super().__init__(
            ngettext(
                "A set-up link was sent moments ago: check your mailbox, or ask again in %(seconds)d second.",
                "A set-up link was sent moments ago: check your mailbox, or ask again in %(seconds)d seconds.",
                wait_seconds,
            )
            % {"seconds": wait_seconds}
        )


MFA_ENROLMENT_MIN_INTERVAL = timedelta(minutes=1)


def mfa_enrolment_url(raw: str) -> str:
    return absolute_url(reverse("accounts:mfa_enrol", args=[raw]))


def mfa_enrolment_link_send(*, user: User, by: User | None = None) -> MfaEnrolmentLink:
    """E-mail the user a link to set up two-step sign-in; earlier links die. At most one a minute."""
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one sender at a time per user
        last = MfaEnrolmentLink.objects.filter(user=user).order_by("-created_at").first()
        if by is None and last is not None and now - last.created_at < MFA_ENROLMENT_MIN_INTERVAL:
            raise MfaEnrolmentTooSoon(int((MFA_ENROLMENT_MIN_INTERVAL - (now - last.created_at)).total_seconds()) + 1)
        raw, link = link_issue(
            MfaEnrolmentLink,
            lifetime=settings.MFA_ENROLMENT_LINK_EXPIRES_AFTER,
            revoke_others={"user": user},
            user=user,
        )
        email_queue(
            template="mfa-enrolment",
            language=user.language,
            to=[user.email],
            context={"user": user, "enrolment_url": mfa_enrolment_url(raw), "expires_at": link.expires_at, "by": by},
        )
    return link


def mfa_enrolment_find(*, raw: str, user: User, lock: bool = False) -> MfaEnrolmentLink:
    """The signed-in user's own set-up link: LinkUnknown for an unknown token or another user's link,
    LinkDead for a used, expired or replaced one."""
    return link_open(MfaEnrolmentLink.objects.filter(user=user), raw, lock=lock)


def mfa_enrolment_complete(*, raw: str, user: User) -> None:
    """The authenticator proved itself with a code: the link dies with its first use."""
    with transaction.atomic():
        link_use(mfa_enrolment_find(raw=raw, user=user, lock=True))


def profile_update(*, user: User, first_name: str, last_name: str, phone: str, language: str) -> User:
    user.first_name, user.last_name, user.phone, user.language = first_name.strip(), last_name.strip(), phone, language
    user.save(update_fields=["first_name", "last_name", "phone", "language"])
    return user


def password_change(*, user: User, password: str) -> None:
    """A new password chosen while signed in (the caller checked the current one): every other session of the
    account closes, and its owner is told by e-mail. ValidationError lists the reasons."""
    with transaction.atomic():
        _password_set(user, password)
        user.save(update_fields=["password"])
        link_revoke(PasswordResetLink.objects.filter(user=user))
        email_queue(
            template="password-changed",
            language=user.language,
            to=[user.email],
            context={"user": user, "how": "change"},
        )


def sessions_end_elsewhere(*, user: User) -> None:
    """Sign the user out of every other browser and device: their sessions no longer pass Django's check."""
    User.objects.filter(pk=user.pk).update(sessions_epoch=models.F("sessions_epoch") + 1)
    user.refresh_from_db(fields=["sessions_epoch"])


RECOVERY_CODES = 10


def recovery_codes_new(*, user: User, notify: bool = True) -> list[str]:
    """Ten new single-use recovery codes; the old ones stop working. Shown to the user once: only django-otp's
    device keeps them. With `notify` (codes remade, not first made) the owner is told by e-mail."""
    with transaction.atomic():
        device, _created = StaticDevice.objects.select_for_update().get_or_create(
            user=user, defaults={"name": "Recovery codes", "confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        if notify:
            email_queue(
                template="recovery-codes", language=user.language, to=[user.email], context={"user": user, "how": "new"}
            )
    return codes


def recovery_codes_left(*, user: User) -> int | None:
    """How many recovery codes still work; None when the user never had any."""
    device = StaticDevice.objects.filter(user=user).first()
    return None if device is None else device.token_set.count()


def second_factor_added(*, user: User) -> list[str]:
    """A device was confirmed: the user's first one comes with recovery codes (returned to show once)."""
    if StaticDevice.objects.filter(user=user).exists():
        return []
    return recovery_codes_new(user=user, notify=False)


def recovery_code_used(*, user: User) -> None:
    """A recovery code stood in for a device: the owner is told, with how many are left."""
    left = recovery_codes_left(user=user) or 0
    email_queue(
        template="recovery-codes",
        language=user.language,
        to=[user.email],
        context={"user": user, "how": "used", "left": left},
    )


class LastSecondFactor(Exception):
    """The device is the user's last one, and a company of the user requires two-step sign-in."""


def _company_requires_two_step(user: User) -> str | None:
    """The name of a company of the user's that requires two-step sign-in, if any."""
    return Company.objects.filter(memberships__user=user, require_mfa=True).values_list("legal_name", flat=True).first()


def device_remove(*, user: User, device: Device) -> None:
    """Remove one of the user's authenticator apps or passkeys. The last one stays while a company of the user
    requires two-step sign-in; once the last one is gone, the recovery codes go too (nothing left to stand in
    for)."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one removal at a time per user
        remaining = [d for d in (*user_devices(user=user),) if d.persistent_id != device.persistent_id]
        if not remaining:
            company = _company_requires_two_step(user)
            if company is not None:
                raise LastSecondFactor(
                    _("%(company)s requires two-step sign-in: add another authenticator app or passkey first.")
                    % {"company": company}
                )
        device.delete()
        if not remaining:
            StaticDevice.objects.filter(user=user).delete()
        email_queue(
            template="device-removed",
            language=user.language,
            to=[user.email],
            context={"user": user, "device": device.name},
        )


def user_devices(*, user: User) -> list[Device]:
    """The user's authenticator apps and passkeys, oldest first."""
    apps: list[Device] = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    keys: list[Device] = list(WebAuthnCredential.objects.filter(user=user, confirmed=True))
    return sorted(apps + keys, key=lambda device: device.created_at or timezone.now())


def passkey_registered(*, user: User, credential_pk: int) -> list[str]:
    """A passkey was just registered: it gets a name the security page can show, and as the user's first device it
    comes with recovery codes (returned to show once)."""
    number = WebAuthnCredential.objects.filter(user=user).count()
    WebAuthnCredential.objects.filter(pk=credential_pk, user=user, name="").update(name=f"Passkey {number}")
    return second_factor_added(user=user)
