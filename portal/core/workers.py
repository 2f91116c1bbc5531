"""Jobs of a worker that died (SIGKILL, a machine lost) go back to the queue; every job is safe to run again."""

import os
import socket
import uuid
from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

STALE_AFTER = timedelta(minutes=30)


def worker_id_new() -> str:
    """host:pid:random, so that a worker on the same host can tell whether another one is still alive."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive_here(worker_id: str) -> bool | None:
    """True/False for a worker of this host; None when it ran elsewhere (or has an unknown id)."""
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:32] or not pid_text.isdigit():
        return None
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tasks_recover_orphans(*, stale_after: timedelta = STALE_AFTER) -> int:
    """Put back to READY the running jobs whose worker is dead on this host, or that ran too long anywhere."""
    recovered = 0
    too_old = timezone.now() - stale_after
    for task in DBTaskResult.objects.running().only("id", "worker_ids", "started_at"):
        last = task.worker_ids[-1] if task.worker_ids else ""
        alive = _alive_here(last)
        if alive is False or (alive is None and task.started_at and task.started_at < too_old):
            recovered += DBTaskResult.objects.filter(id=task.id, status="RUNNING").update(status="READY", started_at=None)
    return recovered
