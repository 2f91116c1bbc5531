"""Rate limits on what anyone may do without signing in and what costs us an e-mail or a call to Microsoft.

Each limit counts attempts per client address (`portal.core.net.client_ip`) and, where the action
e-mails someone, per target e-mail address (kept only as a keyed hash). Counters are rows
(`RateCounter`) in fixed windows, shared by every process; one upsert counts an attempt atomically on
SQLite and PostgreSQL alike, and windows that have closed are deleted as new ones open.

The limits are settings written "<count>/<period>" (`10/h`, `120/10m`, `5/30s`); `off` turns one off.
Over a limit, the view answers 429 with `Retry-After`: the page the user was on, with what they typed,
or under /api/ JSON `{"detail": …}` (the API's handler of `RateLimited`).
"""

import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.env import parse_duration
from portal.core.models import RateCounter
from portal.core.net import client_ip

# The limits, each as (setting per client address, setting per e-mail address or None).
LIMITS: dict[str, tuple[str, str | None]] = {
    "submit": ("RATE_LIMIT_SUBMIT", "RATE_LIMIT_SUBMIT_PER_EMAIL"),
    "activation": ("RATE_LIMIT_ACTIVATION", "RATE_LIMIT_ACTIVATION_PER_EMAIL"),
    "password_reset": ("RATE_LIMIT_PASSWORD_RESET", "RATE_LIMIT_PASSWORD_RESET_PER_EMAIL"),
    "signing_code": ("RATE_LIMIT_SIGNING_CODE", "RATE_LIMIT_SIGNING_CODE_PER_EMAIL"),
    "prefix_check": ("RATE_LIMIT_PREFIX_CHECK", None),
    "api_token": ("RATE_LIMIT_API_TOKEN", "RATE_LIMIT_API_TOKEN_PER_EMAIL"),
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    period: timedelta


class RateLimited(Exception):
    """Too many attempts: `retry_after` seconds until the window closes."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(_("Too many attempts: please try again in %(wait)s.") % {"wait": _duration_text(retry_after)})


@lru_cache(maxsize=64)
def rate_parse(value: str, *, name: str = "rate limit") -> Rate | None:
    """'10/h', '120/10m', '5/30s' -> Rate; 'off' -> None (no limit)."""
    if value.strip().lower() in {"off", "none", ""}:
        return None
    match = _RATE.match(value)
    if not match or int(match.group(1)) == 0:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate: write a count and a period, e.g. 10/h, 120/10m, or off."
        )
    return Rate(int(match.group(1)), parse_duration(f"{match.group(2) or 1}{match.group(3)}", name=name))


@checks.register()
def rate_settings_check(**kwargs) -> list[checks.CheckMessage]:
    """Every limit is a rate or `off`, so that a typo is caught at start-up rather than on the first attempt."""
    errors: list[checks.CheckMessage] = []
    for setting in {name for pair in LIMITS.values() for name in pair if name}:
        try:
            _rate(setting)
        except (ImproperlyConfigured, AttributeError) as error:
            errors.append(checks.Error(str(error), id="portal.E001"))
    return errors


def rate_limit(request: HttpRequest, limit: str, *, emails: Iterable[str] = ()) -> None:
    """Count one attempt at `limit` from this client and for each of these e-mail addresses; raise RateLimited when over.

    Nothing is counted per e-mail address once the client address is over its limit.
    """
    per_address, per_email = LIMITS[limit]
    now = timezone.now()
    wait = _hit(f"{limit}:ip:{_client(request)}", _rate(per_address), now)
    if not wait and per_email:
        for address in sorted({e.strip().lower() for e in emails if e and e.strip()}):
            wait = _hit(f"{limit}:email:{_hashed(address)}", _rate(per_email), now)
            if wait:
                break
    if wait:
        raise RateLimited(wait)


def rate_limited_page(
    request: HttpRequest, limited: RateLimited, template: str, context: dict, *, flash: bool = True
) -> HttpResponse:
    """The page the user was on (with what they typed, in `context`), the reason as a message: 429, Retry-After."""
    if flash:
        messages.error(request, str(limited))
    return retry_after(render(request, template, context, status=429), limited)


def retry_after(response: HttpResponse, limited: RateLimited) -> HttpResponse:
    """The response, as 429 with the seconds to wait in `Retry-After`."""
    response.status_code = 429
    response["Retry-After"] = str(limited.retry_after)
    return response


def _client(request: HttpRequest) -> str:
    """The client's address; for IPv6 its /64, the block one subscriber usually holds whole."""
    address = client_ip(request)
    if ":" in address:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address or "unknown"


def _rate(setting: str) -> Rate | None:
    return rate_parse(str(getattr(settings, setting)), name=setting)


def _hashed(email: str) -> str:
    return salted_hmac("portal.core.ratelimit.email", email, algorithm="sha256").hexdigest()[:32]


def _hit(who: str, rate: Rate | None, now: datetime) -> int:
    """Count an attempt in the current window: 0 when within the rate, else the seconds until the window closes."""
    if rate is None:
        return 0
    period = max(1, int(rate.period.total_seconds()))
    window = int(now.timestamp()) // period
    closes = datetime.fromtimestamp((window + 1) * period, tz=UTC)
    hits = _count(f"{who}:{window}", closes)
    if hits == 1:  # a new window: drop the counters of windows that have closed
        RateCounter.objects.filter(expires_at__lte=now).delete()
    if hits <= rate.count:
        return 0
    return max(1, math.ceil((closes - now).total_seconds()))


def _count(bucket: str, closes: datetime) -> int:
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    sql = (
        f"INSERT INTO {table} (bucket, hits, expires_at) VALUES (%s, 1, %s) "  # noqa: S608 (names are ours)
        f"ON CONFLICT (bucket) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [bucket, connection.ops.adapt_datetimefield_value(closes)])
        return int(cursor.fetchone()[0])


def _duration_text(seconds: int) -> str:
    if seconds < 90:
        return ngettext("%(count)s second", "%(count)s seconds", seconds) % {"count": seconds}
    if seconds < 90 * 60:
        minutes = math.ceil(seconds / 60)
        return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}
    hours = math.ceil(seconds / 3600)
    return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
