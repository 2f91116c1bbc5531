from django.tasks import task


@task()
def provision_tenant(*, request_id: int) -> str:
    from portal.provisioning.services import tenant_provision

    return tenant_provision(request_id=request_id)


@task()
def sync_billing_profile(*, tenant_id: int) -> str:
    from portal.provisioning.billing_profiles import billing_profile_sync

    return billing_profile_sync(tenant_id=tenant_id)
