"""The price sheets' jobs: each task is the public name, and imports its service when it runs."""

from django.tasks import task


@task()
def price_sheets_import(*, attempt: int = 1) -> dict[str, str]:
    """Download and import this month's and next month's sheets now (staff's "Import now", a retry)."""
    from portal.pricing.sheets import price_sheets_refresh

    return price_sheets_refresh(attempt=attempt)


@task()
def price_sheets_import_monthly() -> dict[str, str]:
    """The first of each month: import both sheets, and arm the next month's run."""
    from portal.pricing.sheets import price_sheets_monthly

    return price_sheets_monthly()
