from django.apps import AppConfig
from django.core import checks


class AgreementsConfig(AppConfig):
    name = "portal.agreements"
    label = "agreements"

    def ready(self) -> None:
        from portal.agreements.checks import seal_certificate, seal_certificate_for_deployment

        checks.register(seal_certificate, "seal")
        checks.register(seal_certificate_for_deployment, "seal", deploy=True)
