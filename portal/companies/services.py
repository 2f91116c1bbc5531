"""What a company's members do in the portal."""

from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
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
