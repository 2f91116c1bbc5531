from django.tasks import task


@task()
def sync_catalog(*, country: str) -> str:
    """The daily catalogue sync of `country`; it sets its own next run."""
    from portal.catalog.services import catalog_sync_and_schedule

    return catalog_sync_and_schedule(country=country).status
