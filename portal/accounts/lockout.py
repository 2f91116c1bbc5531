"""Sign-in lockout: per account on one address, and per account everywhere at a higher count; never per address.

One client failing with many e-mail addresses locks none of those accounts (behind a proxy, every user may share
one address). Whoever fails on one account from one address is stopped after AXES_FAILURE_LIMIT tries there; a
guessing campaign spread over many addresses stops after AXES_ACCOUNT_FAILURE_LIMIT tries on that account.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import ngettext

# The order matters: get_failures reads the counts in this order.
LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]


def username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The e-mail address tried, as the account is looked up: case and surrounding spaces do not make a new one."""
    value = (credentials or {}).get("email")
    if value is None:
        value = request.POST.get("email") if request is not None else None
    return str(value).strip().lower()[:254] if value is not None else None


class AccountLockout(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        per_account, per_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if per_account >= settings.AXES_ACCOUNT_FAILURE_LIMIT:
            return max(per_address, settings.AXES_FAILURE_LIMIT)
        return per_address


@dataclass(frozen=True)
class Lockout:
    email: str
    failures: int
    addresses: int  # how many client addresses failed on the account
    until: datetime


def lockout_until(email: str) -> datetime | None:
    """When the account's lockout ends: its last failure plus the cool-off; None when it is not locked."""
    return next((lockout.until for lockout in lockouts_current(email=email)), None)


def lockouts_current(*, email: str | None = None) -> list[Lockout]:
    """The accounts locked now, newest failure first: on one address or everywhere (see the module's rule)."""
    cool_off = get_cool_off()
    assert cool_off is not None  # AXES_COOLOFF_TIME is set
    attempts = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off).exclude(username=None)
    if email is not None:
        attempts = attempts.filter(username=email.strip().lower())
    accounts: dict[str, list[AccessAttempt]] = {}
    for attempt in attempts.order_by("username"):
        accounts.setdefault(attempt.username, []).append(attempt)
    locked = []
    for username, rows in accounts.items():
        total = sum(row.failures_since_start for row in rows)
        on_one_address = max(row.failures_since_start for row in rows)
        if on_one_address >= settings.AXES_FAILURE_LIMIT or total >= settings.AXES_ACCOUNT_FAILURE_LIMIT:
            last = max(row.attempt_time for row in rows)
            locked.append(Lockout(username, total, len(rows), last + cool_off))
    return sorted(locked, key=lambda lockout: lockout.until, reverse=True)


def lockout_lift(*, email: str) -> int:
    """Staff unlock an account: its failures are forgotten, on every address. Returns how many records went."""
    return reset(username=email.strip().lower())


def lockout_notice(email: str) -> tuple[str, int]:
    """What a locked-out person reads (until when, and the way in now), and the minutes to wait."""
    until = lockout_until(email) or timezone.now() + (get_cool_off() or timedelta(0))
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    detail = ngettext(
        "Too many failed sign-ins on this account: it is locked until %(time)s (in %(minutes)d minute). Choose a"
        " new password through “Forgot your password?” to sign in at once.",
        "Too many failed sign-ins on this account: it is locked until %(time)s (in %(minutes)d minutes). Choose a"
        " new password through “Forgot your password?” to sign in at once.",
        minutes,
    ) % {"time": date_format(timezone.localtime(until), "H:i"), "minutes": minutes}
    return detail, minutes
