from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.catalog.models import CatalogSync
from portal.catalog.services import catalog_sync_and_schedule


class Command(BaseCommand):
    help = (
        "Read Microsoft's catalogue (products, SKUs, availabilities, titles in en, nl and fr) through the "
        "provisioner and store it, then set the daily sync (CATALOG_SYNC_AT) that keeps it fresh."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--country", default=settings.CATALOG_COUNTRY, help="ISO country code (default: %(default)s)."
        )

    def handle(self, *args, country: str, **options):
        run = catalog_sync_and_schedule(country=country.upper())
        if run.status != CatalogSync.Status.SUCCEEDED:
            raise CommandError(f"The catalogue sync of {run.country} failed: {run.message}")
        self.stdout.write(
            f"Catalogue of {run.country}: {run.products} product(s), {run.skus} SKU(s), "
            f"{run.availabilities} availability(ies)."
        )
