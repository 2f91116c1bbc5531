"""Sign-in lockout: per account on one address, and per account everywhere at a higher count; never per address.

One client failing with many e-mail addresses locks none of those accounts (behind a proxy, every user may share
one address). Whoever fails on one account from one address is stopped after AXES_FAILURE_LIMIT tries there; a
guessing campaign spread over many addresses stops after AXES_ACCOUNT_FAILURE_LIMIT tries on that account.
"""

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

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
