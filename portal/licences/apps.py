from django.apps import AppConfig


class LicencesConfig(AppConfig):
    name = "portal.licences"
    label = "licences"

    def ready(self) -> None:
        from portal.licences.changes import kind_register
        from portal.licences.kinds import subscriptions

        kind_register(
            "purchase",
            check="portal.licences.purchase.purchase_check",
            submit="portal.licences.purchase.purchase_submit",
        )
        # The subscription kinds' checks and submissions (add or remove seats, cancel, auto-renew, at renewal).
        subscriptions.register()
