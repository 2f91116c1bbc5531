"""A task that does nothing: what the task backend itself costs per job."""

from django.tasks import task


@task()
def noop() -> None:
    return None
