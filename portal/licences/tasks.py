from django.tasks import task


@task()
def submit_change(*, change_id: int) -> str:
    from portal.licences.changes import change_run

    return change_run(change_id=change_id)
