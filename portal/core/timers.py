"""Timers: a job to run later (a reminder, an expiry, a retry after a back-off) waits as a row of its own.

The task queue could hold such jobs itself (`run_after`), but then every claim of a ready job orders past all
of them: with 100,000 reminders waiting, claiming an e-mail scans 100,000 rows. A timer waits in its own table,
indexed by due time; every worker, on each poll, moves the due timers into the queue as immediate jobs, so the
queue holds only work that can run now and a claim costs the same however many timers wait.

`timer_set` writes the timer in the caller's transaction, as `enqueue` does: it exists only if its cause
committed. A timer job re-checks the state it was set for when it runs (a reminder for a signed agreement does
nothing), so one that fires late or after a change does no harm.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.tasks import Task
from django.utils import timezone
from django.utils.json import normalize_json
from django.utils.module_loading import import_string
from django_tasks_db.utils import exclusive_transaction

from portal.core.models import Timer

logger = logging.getLogger(__name__)

FIRE_BATCH = 100  # timers moved per transaction: a worker's poll stays short however many fall due at once
MISSING_TASK_RETRY = timedelta(hours=1)


def timer_set(task: Task, *, at: datetime, key: str | None = None, **kwargs: Any) -> None:
    """Run `task(**kwargs)` once `at` has come, in the caller's transaction.

    With a `key`, at most one timer of that key waits: setting it again moves it to the new time and arguments.
    """
    if task.run_after is not None:
        raise ValueError("A timer says when the task runs: pass `at`, not a task with run_after.")
    timer = Timer(due_at=at, task_path=task.module_path, kwargs=normalize_json(kwargs), key=key)
    if key is None:
        timer.save()
        return
    Timer.objects.bulk_create(
        [timer],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["due_at", "task_path", "kwargs", "created_at"],
    )


def timers_fire(*, limit: int = FIRE_BATCH) -> int:
    """Move up to `limit` due timers into the task queue as immediate jobs and delete them, in one transaction.

    Nothing due costs one indexed query. Timers another worker is moving are skipped (FOR UPDATE SKIP LOCKED on
    PostgreSQL; SQLite lets one writer at a time), so workers firing side by side never queue one timer twice.
    Returns how many due timers it took: queued, or postponed when their task no longer exists.
    """
    now = timezone.now()
    due = Timer.objects.filter(due_at__lte=now)
    if not due.exists():
        return 0
    with exclusive_transaction(due.db):
        timers = list(due.order_by("due_at", "pk").select_for_update(skip_locked=True)[:limit])
        fired = [timer.pk for timer in timers if _enqueue(timer, now=now)]
        Timer.objects.filter(pk__in=fired).delete()
    return len(timers)


def _enqueue(timer: Timer, *, now: datetime) -> bool:
    """Queue the timer's job; a timer whose task no longer exists is kept, logged, and tried again later."""
    try:
        task = import_string(timer.task_path)
    except ImportError:
        task = None
    if not isinstance(task, Task):
        logger.error(
            "Timer %s: %s is not a task (renamed or removed?); kept, tried again in %s.",
            timer.pk,
            timer.task_path,
            MISSING_TASK_RETRY,
        )
        Timer.objects.filter(pk=timer.pk).update(due_at=now + MISSING_TASK_RETRY)
        return False
    task.enqueue(**timer.kwargs)
    return True
