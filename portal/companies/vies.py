"""VIES, the EU's VAT number register: a confirmation for staff, never a gate for the customer."""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)


class ViesUnavailable(Exception):
    pass


@dataclass(frozen=True)
class ViesAnswer:
    valid: bool
    name: str


def vies_lookup(vat_number: str) -> ViesAnswer:
    """Ask VIES about a compact EU VAT number (BE0403170701); ViesUnavailable if it cannot answer."""
    if not settings.VIES_URL:
        raise ViesUnavailable("VIES check is turned off (VIES_URL is empty).")
    url = f"{settings.VIES_URL.rstrip('/')}/ms/{vat_number[:2]}/vat/{vat_number[2:]}"
    try:
        with urllib.request.urlopen(url, timeout=settings.VIES_TIMEOUT) as response:  # noqa: S310 (https URL from settings)
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ViesUnavailable(str(exc)) from exc
    if body.get("userError") not in (None, "VALID", "INVALID"):
        raise ViesUnavailable(str(body.get("userError")))
    name = body.get("name") or ""
    return ViesAnswer(valid=bool(body.get("isValid")), name="" if name == "---" else name)
