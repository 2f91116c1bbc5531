from django.core.management.base import BaseCommand

from portal.licences.subscriptions import licence_timers_arm, subscriptions_sync_every_tenant


class Command(BaseCommand):
    help = (
        "Read every tenant's subscriptions from Microsoft now, and set the hourly sync and the daily renewal "
        "notices (each job then sets its own next run)."
    )

    def handle(self, *args, **options):
        self.stdout.write(subscriptions_sync_every_tenant())
        licence_timers_arm()
