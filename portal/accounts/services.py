"""Portal access: activation links for new users, the first password, password reset, and staff two-step set-up
links."""

from datetime import timedelta

from axes.utils import reset as lockout_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import ActivationLink, MfaEnrolmentLink, PasswordResetLink, User
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
        raise ValidationError(CONTROL_REFUSED, code="control_character")
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


RESET_ASKED = "If an account uses this address, a link to choose a new password is on its way: it works for one hour."


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
        email_queue(template="password-changed", to=[user.email], context={"user": user, "how": "reset"})
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
            to=[user.email],
            context={"user": user, "activation_url": activation_url(raw), "expires_at": link.expires_at},
        )


class MfaEnrolmentTooSoon(Exception):
    def __init__(self, wait_seconds: int):
        self.wait_seconds = wait_seconds
        super().__init__(
            f"A set-up link was sent moments ago: check your mailbox, or ask again in {wait_seconds} seconds."
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
        email_queue(template="password-changed", to=[user.email], context={"user": user, "how": "change"})


def sessions_end_elsewhere(*, user: User) -> None:
    """Sign the user out of every other browser and device: their sessions no longer pass Django's check."""
    User.objects.filter(pk=user.pk).update(sessions_epoch=models.F("sessions_epoch") + 1)
    user.refresh_from_db(fields=["sessions_epoch"])
