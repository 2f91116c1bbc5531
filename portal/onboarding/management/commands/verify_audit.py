from django.core.management.base import BaseCommand, CommandError

from portal.onboarding.timeline import timeline_verify


class Command(BaseCommand):
    help = "Check the hash chain of every request's timeline; exit 1 and say where it breaks."

    def add_arguments(self, parser):
        parser.add_argument("--request", type=int, action="append", dest="requests", help="Only this request (repeatable).")

    def handle(self, *args, requests=None, **options):
        checked, breaks = timeline_verify(request_ids=requests)
        for found in breaks:
            self.stderr.write(f"request #{found.request_id}, entry {found.seq}: {found.reason}")
        if breaks:
            raise CommandError(f"The timeline is broken in {len(breaks)} place(s) ({checked} entries checked).")
        self.stdout.write(self.style.SUCCESS(f"Timeline intact: {checked} entries checked."))
