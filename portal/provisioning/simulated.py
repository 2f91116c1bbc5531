from django.conf import settings


class SimulatedProvisioner:
    """Deterministic stand-in for Partner Center, for development and demonstrations."""

    def domain_available(self, *, prefix: str) -> bool:
        return prefix.lower() not in settings.SIMULATED_TAKEN_DOMAINS
