from django.tasks import task


@task()
def submit_change(*, change_id: int) -> str:
    from portal.licences.changes import change_run

    return change_run(change_id=change_id)


@task()
def subscriptions_sync_all() -> str:
    """Hourly: every tenant's subscriptions from Microsoft (sets its own next run)."""
    from portal.licences.subscriptions import subscriptions_sync_every_tenant

    return subscriptions_sync_every_tenant()


@task()
def subscriptions_sync(*, tenant_id: int) -> str:
    """One tenant's subscriptions from Microsoft, e.g. after a purchase."""
    from portal.licences.subscriptions import subscriptions_sync as sync

    return f"{sync(tenant_id=tenant_id)} subscriptions synced"


@task()
def renewal_notices() -> str:
    """Daily: e-mail the renewals 30 and 7 days ahead and the removal windows about to close (sets its next run)."""
    from portal.licences.notices import renewal_notices_send

    return renewal_notices_send()
