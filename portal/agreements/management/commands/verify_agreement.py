from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from portal.agreements.seal import verify_pdf


class Command(BaseCommand):
    help = "Check the seal of a signed agreement PDF: exit 0 and a summary if intact, exit 1 and the reason if not."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="The signed agreement (PDF).")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{file}: cannot be read ({error.strerror or error}).")
        try:
            verdict = verify_pdf(data)
        except ImproperlyConfigured as problem:
            raise CommandError(f"Seals cannot be checked here: {problem}")
        if not verdict.ok:
            raise CommandError(f"{file}: NOT VALID. {verdict.reason}")
        self.stdout.write(self.style.SUCCESS(f"{file}: INTACT. {verdict.reason}"))
        self.stdout.write(f"  request:   #{verdict.request_id}")
        self.stdout.write(f"  signed by: {verdict.signer_name}")
        self.stdout.write(f"  sealed at: {verdict.sealed_at.isoformat() if verdict.sealed_at else 'unknown'}")
        self.stdout.write(f"  seal:      {verdict.sealed_by}")
