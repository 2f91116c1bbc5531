from django.core.management.base import BaseCommand, CommandError

from portal.core.catalogues import catalogues_check, catalogues_update, po_path


class Command(BaseCommand):
    help = "Extract the portal's strings into the Dutch and French catalogues and compile them (pure Python)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Change nothing; fail if a catalogue is behind.")

    def handle(self, *args, check: bool = False, **options):
        if check:
            problems = catalogues_check()
            for problem in problems:
                self.stderr.write(str(problem))
            if problems:
                raise CommandError(f"{len(problems)} problem(s) in the catalogues.")
            self.stdout.write("The catalogues match the sources, complete and compiled.")
            return
        for language, waiting in catalogues_update().items():
            self.stdout.write(f"{po_path(language)}: {waiting} message(s) to translate or review.")
