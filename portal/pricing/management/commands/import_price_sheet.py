from django.core.management.base import BaseCommand, CommandError

from portal.pricing.models import PriceSheet
from portal.pricing.sheets import price_sheets_refresh, price_sheets_schedule


class Command(BaseCommand):
    help = (
        "Download and import Microsoft's licence-based price sheets (this month's and next month's) through the "
        "provisioner, and arm the monthly import (the first of each month)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--if-missing", action="store_true", help="Import only when no sheet was ever imported (make run)."
        )

    def handle(self, *args, if_missing: bool = False, **options) -> None:
        price_sheets_schedule()
        if if_missing and PriceSheet.objects.exists():
            self.stdout.write("Price sheets already imported; the monthly import is armed.")
            return
        outcomes = price_sheets_refresh()
        for timeline, outcome in outcomes.items():
            self.stdout.write(f"{timeline}: {outcome}")
        if "failed" in outcomes.values():
            raise CommandError("A price sheet was not imported: the back-office prices page says why.")
