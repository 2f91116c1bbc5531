from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "portal.provisioning"
    label = "provisioning"
