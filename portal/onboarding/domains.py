"""The `.onmicrosoft.com` prefix of a new tenant: Microsoft's rules, our reservations, availability."""

import re
from dataclasses import dataclass

from portal.onboarding.models import TenantRequest
from portal.onboarding.stages import CLOSED_STAGES
from portal.provisioning.base import ProvisionerUnavailable, get_provisioner

MAX_LENGTH = 27
_WELL_FORMED = re.compile(r"^[a-z0-9]+$")
RESERVED = frozenset(
    "admin administrator azure microsoft msft office office365 onmicrosoft outlook root support "
    "teams test windows www mail postmaster hostmaster webmaster sharepoint exchange".split()
)


@dataclass(frozen=True)
class Availability:
    prefix: str
    available: bool
    reason: str


def prefix_normalise(raw: str) -> str:
    value = (raw or "").strip().lower()
    return value.removesuffix(".onmicrosoft.com")


def prefix_problem(prefix: str) -> str:
    """Why a prefix is not well-formed, or '' when it is."""
    if not prefix:
        return "Choose a name for your tenant: it becomes <name>.onmicrosoft.com."
    if not prefix.isascii():
        return "Use only the letters a–z and digits: accents and other scripts are not allowed."
    if "-" in prefix:
        return "Hyphens are not allowed in an .onmicrosoft.com name: use only letters and digits."
    if not _WELL_FORMED.match(prefix):
        return "Use only the letters a–z and digits, without spaces, dots or symbols."
    if len(prefix) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters (this one has {len(prefix)})."
    if prefix in RESERVED:
        return f"“{prefix}” is reserved by Microsoft: choose another name."
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
        return Availability(prefix, False, f"{prefix}.onmicrosoft.com is already requested: choose another name.")
    try:
        free = get_provisioner().domain_available(prefix=prefix)
    except ProvisionerUnavailable:
        return Availability(
            prefix, False, "We cannot check this name with Microsoft right now: please try again in a minute."
        )
    if not free:
        return Availability(prefix, False, f"{prefix}.onmicrosoft.com is already taken: choose another name.")
    return Availability(prefix, True, "")
