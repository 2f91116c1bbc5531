"""The `.onmicrosoft.com` prefix of a new tenant: Microsoft's rules, our reservations, availability."""

import logging
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.onboarding.models import TenantRequest
from portal.onboarding.stages import CLOSED_STAGES
from portal.provisioning.base import ProvisionerError, get_provisioner

logger = logging.getLogger(__name__)

MAX_LENGTH = 27
_WELL_FORMED = re.compile(r"^[a-z0-9]+$")
RESERVED = frozenset(
    "admin administrator azure microsoft msft office office365 onmicrosoft outlook root support "
    "teams test windows www mail postmaster hostmaster webmaster sharepoint exchange".split()
)
CANNOT_CHECK = gettext_lazy(
    "We cannot check this name right now: you can still send your request; "
    "we check the name with Microsoft before your tenant is created."
)


@dataclass(frozen=True)
class Availability:
    prefix: str
    available: bool
    reason: str  # for the customer: why the name is refused, or that it could not be checked
    # Why Microsoft could not be asked (throttled, down, our credentials refused), in plain words for staff.
    # The name may well be free: an unchecked name is unknown, not refused.
    problem: ProvisionerError | None = None

    @property
    def checked(self) -> bool:
        return self.problem is None


def prefix_normalise(raw: str) -> str:
    value = (raw or "").strip().lower()
    return value.removesuffix(".onmicrosoft.com")


def prefix_problem(prefix: str) -> str:
    """Why a prefix is not well-formed, or '' when it is."""
    if not prefix:
        return _("Choose a name for your tenant: it becomes <name>.onmicrosoft.com.")
    if not prefix.isascii():
        return _("Use only the letters a–z and digits: accents and other scripts are not allowed.")
    if "-" in prefix:
        return _("Hyphens are not allowed in an .onmicrosoft.com name: use only letters and digits.")
    if not _WELL_FORMED.match(prefix):
        return _("Use only the letters a–z and digits, without spaces, dots or symbols.")
    if len(prefix) > MAX_LENGTH:
        return _("Use at most %(max)s characters (this one has %(length)s).") % {
            "max": MAX_LENGTH,
            "length": len(prefix),
        }
    if prefix in RESERVED:
        return _("“%(name)s” is reserved by Microsoft: choose another name.") % {"name": prefix}
    return ""


def prefix_availability(raw: str, *, exclude_request_id: int | None = None) -> Availability:
    """Is the prefix well-formed, free among our requests, and free at Microsoft?"""
    prefix = prefix_normalise(raw)
    problem = prefix_problem(prefix)
    if problem:
        return Availability(prefix, False, problem)
    open_requests = TenantRequest.objects.filter(domain_prefix=prefix).exclude(stage__in=CLOSED_STAGES)
    if exclude_request_id is not None:
        open_requests = open_requests.exclude(pk=exclude_request_id)
    if open_requests.exists():
        return Availability(
            prefix,
            False,
            _("%(domain)s is already requested: choose another name.") % {"domain": f"{prefix}.onmicrosoft.com"},
        )
    try:
        free = get_provisioner().domain_available(prefix=prefix)
    except ProvisionerError as error:  # passing or not (e.g. a revoked refresh token), never the customer's fault
        logger.warning("Could not check %s.onmicrosoft.com with the provisioner: %s", prefix, error.message)
        return Availability(prefix, False, str(CANNOT_CHECK), problem=error)
    if not free:
        return Availability(
            prefix,
            False,
            _("%(domain)s is already taken: choose another name.") % {"domain": f"{prefix}.onmicrosoft.com"},
        )
    return Availability(prefix, True, "")
