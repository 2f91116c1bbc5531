from django.apps import AppConfig


class LicencesConfig(AppConfig):
    name = "portal.licences"
    label = "licences"

    def ready(self) -> None:
        # The subscription kinds' checks and submissions (add or remove seats, cancel, auto-renew, at renewal).
        from portal.licences.kinds import subscriptions

        subscriptions.register()
