"""What a company's members do in the portal."""

from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.companies.forms import EDITABLE
from portal.companies.models import Company, Membership
from portal.core.sealed_box import open_text
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.timeline import timeline_append
from portal.provisioning.models import Tenant


def tenant_credentials_reveal(*, tenant_id: int, user: User) -> tuple[str, str] | None:
    """The tenant's initial admin credentials, once, to a user of the company; wiped as they are shown."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(pk=tenant_id, company__memberships__user=user).first()
        if tenant is None or not tenant.admin_secret:
            return None
        secret = open_text(bytes(tenant.admin_secret))
        tenant.admin_secret = None
        tenant.admin_secret_shown_at = timezone.now()
        tenant.save(update_fields=["admin_secret", "admin_secret_shown_at"])
        request = TenantRequest.objects.select_for_update().get(pk=tenant.request_id)
        timeline_append(
            request=request,
            kind=TimelineEntry.Kind.NOTE,
            actor=user,
            message="Initial admin credentials shown once to the technical contact, then wiped.",
        )
    return (tenant.admin_user, secret) if secret else None


class LastAdmin(Exception):
    """A company always keeps an administrator: the change would leave it none."""

    def __init__(self):
        super().__init__("A company always keeps an administrator: make someone else administrator first.")


def _membership_locked(company_id: int, member_id: int) -> Membership:
    """The membership, with its company's row locked: changes to one company's members happen one at a time, so two
    administrators demoting each other at once cannot leave the company without one."""
    Company.objects.select_for_update().get(pk=company_id)
    return Membership.objects.select_related("user").get(pk=member_id, company_id=company_id)


def _admins_left_without(membership: Membership) -> int:
    return (
        Membership.objects.filter(company_id=membership.company_id, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
    )


def member_role_change(*, company_id: int, member_id: int, role: str) -> Membership:
    """Give a member another role; LastAdmin when it would leave the company without an administrator.
    Membership.DoesNotExist when the member is not the company's."""
    with transaction.atomic():
        membership = _membership_locked(company_id, member_id)
        demoted = membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN
        if demoted and not _admins_left_without(membership):
            raise LastAdmin()
        membership.role = Membership.Role(role)
        membership.save(update_fields=["role"])
    return membership


def member_remove(*, company_id: int, member_id: int) -> Membership:
    """Take a member's access to the company away (the account stays); LastAdmin for the last administrator."""
    with transaction.atomic():
        membership = _membership_locked(company_id, member_id)
        if membership.role == Membership.Role.ADMIN and not _admins_left_without(membership):
            raise LastAdmin()
        membership.delete()
    return membership


def company_profile_update(*, company_id: int, changes: dict[str, str]) -> Company:
    """Address, phone and website, as checked by CompanyProfileForm; nothing else of the company changes here."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        for field, value in changes.items():
            setattr(company, field, value)
        company.save(update_fields=list(changes))
    return company
