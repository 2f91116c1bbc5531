"""The client's network address, as far as the deployment's own proxies vouch for it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of whoever connected to the outermost of our `TRUSTED_PROXY_COUNT` proxies.

    Each trusted proxy appends the address it saw to X-Forwarded-For, so the client's address is the
    one `TRUSTED_PROXY_COUNT` places from the right; anything to the left of it was written by the
    client and is never believed. With no trusted proxy (the default) it is the socket's address.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            remote = hops[-count]
    return _valid(remote)


def _valid(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""
