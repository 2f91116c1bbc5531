from django.tasks import task


@task()
def provision_tenant(*, request_id: int) -> str:
    from portal.provisioning.services import tenant_provision

    return tenant_provision(request_id=request_id)
