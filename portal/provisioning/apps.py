from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "portal.provisioning"
    label = "provisioning"

    def ready(self) -> None:
        from portal.companies.models import Company
        from portal.companies.signals import profile_changed
        from portal.provisioning.billing_profiles import billing_profile_changed

        profile_changed.connect(billing_profile_changed, sender=Company, dispatch_uid="billing-profile-sync")
