"""Portal access: activation links for new users, and setting the first password."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import ActivationLink, User
from portal.core.tokens import token_hash, token_new
from portal.notifications.services import absolute_url, email_queue


class ActivationDead(Exception):
    """An activation link that was used, expired or replaced."""


def activation_link_new(*, user: User) -> tuple[str, ActivationLink]:
    """A new activation link for the user; earlier ones die. Call inside the transaction that e-mails it."""
    now = timezone.now()
    ActivationLink.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
    raw, hashed = token_new()
    link = ActivationLink.objects.create(
        user=user, token_hash=hashed, expires_at=now + settings.ACTIVATION_LINK_EXPIRES_AFTER
    )
    return raw, link


def activation_url(raw: str) -> str:
    return absolute_url(reverse("activate", args=[raw]))


def activation_find(raw: str) -> ActivationLink:
    """ActivationLink.DoesNotExist for an unknown token; ActivationDead for a used, expired or replaced one."""
    link = ActivationLink.objects.select_related("user").get(token_hash=token_hash(raw or ""))
    if not link.is_live():
        raise ActivationDead(link)
    return link


def activation_complete(*, raw: str, password: str) -> User:
    """Set the first password (Django's validators apply) and kill the link. ValidationError lists the reasons."""
    with transaction.atomic():
        link = ActivationLink.objects.select_for_update().select_related("user").get(token_hash=token_hash(raw or ""))
        if not link.is_live():
            raise ActivationDead(link)
        user = link.user
        validate_password(password, user)
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
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
