from django.tasks import task

from portal.provisioning.services import tenant_provision


@task()
def provision_tenant(*, request_id: int) -> str:
    return tenant_provision(request_id=request_id)
