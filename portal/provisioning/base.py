"""The provisioner: our one interface to Microsoft (Partner Center), picked by the PROVISIONER setting."""

from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class ProvisionerUnavailable(Exception):
    """Microsoft could not be asked right now; the caller may try again later."""


class Provisioner(Protocol):
    def domain_available(self, *, prefix: str) -> bool:
        """Is <prefix>.onmicrosoft.com free at Microsoft?"""
        ...


PROVISIONERS = {
    "simulated": "portal.provisioning.simulated.SimulatedProvisioner",
}


@cache
def _provisioner(name: str) -> Provisioner:
    return import_string(PROVISIONERS[name])()


def get_provisioner() -> Provisioner:
    return _provisioner(settings.PROVISIONER)
