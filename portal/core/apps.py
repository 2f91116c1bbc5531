from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"

    def ready(self) -> None:
        from portal.core import ratelimit  # noqa: F401 (registers the check of the rate-limit settings)
