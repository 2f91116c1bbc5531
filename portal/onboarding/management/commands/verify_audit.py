from django.core.management.base import BaseCommand, CommandError

from portal.onboarding.timeline import ChainBreak, timeline_verify


class Command(BaseCommand):
    help = (
        "Check every request's timeline: its keyed hash chain and the head that records where it ends; "
        "exit 1 and say where it breaks."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--request", type=int, action="append", dest="requests", help="Only this request (repeatable)."
        )

    def handle(self, *args, requests: list[int] | None = None, **options) -> None:
        checked, breaks = timeline_verify(request_ids=requests)
        for found in breaks:
            self.stderr.write(_line(found))
        if breaks:
            raise CommandError(f"The timeline is broken in {len(breaks)} place(s) ({checked} entries checked).")
        self.stdout.write(self.style.SUCCESS(f"Timeline intact: {checked} entries checked."))


def _line(found: ChainBreak) -> str:
    where = f"request #{found.request_id}" if found.seq is None else f"request #{found.request_id}, entry {found.seq}"
    return f"{where}: {found.reason}"
