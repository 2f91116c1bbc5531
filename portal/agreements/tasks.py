from django.tasks import task

from portal.agreements import services


@task()
def signature_remind(*, invitation_id: int) -> str:
    return services.signature_remind(invitation_id=invitation_id)


@task()
def signature_expire(*, invitation_id: int) -> str:
    return services.signature_expire(invitation_id=invitation_id)
