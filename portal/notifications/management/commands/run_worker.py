from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.core.workers import tasks_recover_orphans, worker_id_new
from portal.notifications.services import outbox_recover


class Command(BaseCommand):
    help = (
        "Run background jobs and due timers until stopped (SIGTERM finishes the job in hand). "
        "A thin front to the task backend's db_worker."
    )

    requires_system_checks: list[str] = []  # a worker starts fast; `manage.py check` runs at deploy

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run everything due now, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls when idle.")
        parser.add_argument("--worker-id", default=None, help="Unique id of this worker (default: random).")

    def handle(self, *args, once: bool, interval: float, worker_id: str | None, verbosity: int, **options):
        orphans = tasks_recover_orphans()
        if orphans and verbosity:
            self.stdout.write(f"Re-queued {orphans} job(s) left running by a worker that stopped.")
        recovered = outbox_recover()
        if recovered and verbosity:
            self.stdout.write(f"Re-queued {recovered} e-mail(s) whose job had been lost.")
        call_command(
            "db_worker",
            batch=once,
            interval=interval,
            reload=False,
            startup_delay=not once,
            verbosity=verbosity,
            worker_id=worker_id or worker_id_new(),
        )
