"""Jobs of a worker that died (SIGKILL, a machine lost) go back to the queue; every job is safe to run again.

`SweepingWorker` is the task backend's worker with two additions: before each claim it moves the due timers
into the queue (`portal.core.timers`), and every so often, busy or idle, it runs a sweep (put back the jobs of
dead workers, queue again the e-mails whose lease ran out), so that what a dead worker left behind is picked up
while the other workers run, not at the next start.
"""

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import close_old_connections
from django.db.utils import OperationalError
from django.utils import timezone
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from portal.core.timers import timers_fire

logger = logging.getLogger(__name__)

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
            recovered += DBTaskResult.objects.filter(id=task.id, status="RUNNING").update(
                status="READY", started_at=None
            )
    return recovered


class SweepingWorker(Worker):
    """The backend's worker loop (claim a ready job, run it, sleep when idle), plus due timers and `sweep`.

    The sweep runs first (what a dead worker left is recovered before anything else), then between
    jobs when it is due; due timers are moved into the queue before every claim, so `--once` runs them too.
    Signals keep the backend's meaning: SIGTERM finishes the job in hand.
    """

    def __init__(
        self,
        *,
        sweep: Callable[[], None],
        sweep_every: timedelta,
        worker_id: str,
        interval: float = 1.0,
        batch: bool = False,
        startup_delay: bool = False,
    ) -> None:
        """A worker of the portal's one queue on the default backend; `batch` runs what is due, then returns."""
        super().__init__(
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            excluded_queue_names=[],
            interval=interval,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=startup_delay,
            max_tasks=None,
            worker_id=worker_id,
        )
        self.sweep = sweep
        self.sweep_every = sweep_every.total_seconds()
        self.swept_at: float | None = None

    def sweep_if_due(self) -> None:
        # Wall-clock time, so that a clock moved backwards (or forwards, in tests) still sweeps.
        now = time.time()
        if self.swept_at is not None and self.swept_at <= now < self.swept_at + self.sweep_every:
            return
        self.swept_at = now
        try:
            self.sweep()
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                raise
            logger.warning("Sweep skipped, the database is locked; next try in %s s.", self.sweep_every)

    def fire_timers(self) -> None:
        try:
            timers_fire()
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                raise
            logger.warning("Timers not fired, the database is locked; next try at the next poll.")

    def claim_next(self) -> tuple[DBTaskResult | None, bool]:
        """The next ready job, claimed for this worker; and whether the queue could be read at all."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        try:
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                raise
            return None, False
        return task_result, True

    def run(self) -> None:
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # workers started together do not poll in step
        while self.running:
            close_old_connections()
            self.sweep_if_due()
            self.fire_timers()
            task_result, queue_read = self.claim_next()
            if task_result is not None:
                self.run_task(task_result)
            elif self.batch and queue_read:
                logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Ran %d task(s) on worker_id=%s - exiting gracefully.", self._run_tasks, self.worker_id)
                return
            close_old_connections()
            if self.running and task_result is None:
                time.sleep(self.interval)
