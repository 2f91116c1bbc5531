from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "portal.pricing"
    label = "pricing"
