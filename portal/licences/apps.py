from django.apps import AppConfig


class LicencesConfig(AppConfig):
    name = "portal.licences"
    label = "licences"
