import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tasks_db.compat import TASKS_LOGGER

from portal.notifications.services import outbox_recover
from portal.worker.workers import SweepingWorker, tasks_recover_orphans, worker_id_new


class Command(BaseCommand):
    help = (
        "Run background jobs and due timers until stopped (SIGTERM finishes the job in hand). "
        "A thin front to the task backend's db_worker that also queues the timers that fell due (reminders, "
        "expiries, retries) before each claim, and every WORKER_SWEEP_EVERY puts back the jobs of dead workers "
        "and queues again the e-mails whose sending lease ran out."
    )

    requires_system_checks: list[str] = []  # a worker starts fast; `manage.py check` runs at deploy

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run everything due now, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls when idle.")
        parser.add_argument("--worker-id", default=None, help="Unique id of this worker (default: host:pid:random).")

    def handle(self, *args, once: bool, interval: float, worker_id: str | None, verbosity: int, **options):
        level = {0: logging.CRITICAL, 1: logging.INFO}.get(verbosity, logging.DEBUG)
        for name in (TASKS_LOGGER, "django_tasks_db", "portal.worker.workers"):  # as db_worker does, and ours
            logging.getLogger(name).setLevel(level)
        worker = SweepingWorker(
            sweep=lambda: self.sweep(verbosity),
            sweep_every=settings.WORKER_SWEEP_EVERY,
            interval=interval,
            batch=once,
            startup_delay=not once,
            worker_id=worker_id or worker_id_new(),
        )
        # The worker's handlers hold for its run only: a caller that runs it in-process (`--once`)
        # gets its own handlers back afterwards.
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
        worker.configure_signals()
        try:
            worker.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def sweep(self, verbosity: int) -> None:
        orphans = tasks_recover_orphans()
        if orphans and verbosity:
            self.stdout.write(f"Re-queued {orphans} job(s) left running by a worker that stopped.")
        recovered = outbox_recover()
        if recovered and verbosity:
            self.stdout.write(f"Re-queued {recovered} e-mail(s) whose sending stopped or whose job had been lost.")
