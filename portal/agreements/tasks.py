"""The agreement's jobs and timers: each task is the public name, and imports its service when it runs."""

from django.tasks import task


@task()
def signature_remind(*, invitation_id: int) -> str:
    from portal.agreements.services import signature_remind

    return signature_remind(invitation_id=invitation_id)


@task()
def signature_expire(*, invitation_id: int) -> str:
    from portal.agreements.services import signature_expire

    return signature_expire(invitation_id=invitation_id)


@task()
def follow_up_signature(*, agreement_id: int) -> str:
    from portal.agreements.services import signature_follow_up

    return signature_follow_up(agreement_id=agreement_id)
