"""New Commerce's rules for a change of a licence-based subscription, over Microsoft's Subscription resource.

The `simulated` provisioner applies them as Partner Center does; the portal checks its own copy of them before it
asks (`portal.licences.subscriptions`). Each addition of seats (at purchase, at renewal, mid-term) keeps its own
window, of the refund option's length (`expiresAfter`, P7D today) from when it was added; the seats still inside
theirs are `refundableQuantity`, and seats removed come off the newest addition first.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def iso_duration(value: str, *, default: timedelta | None = None) -> timedelta | None:
    """An ISO-8601 duration as Microsoft writes refund windows and terms (P7D, PT168H, P1M, P1Y), approximately
    for months and years (30 and 365 days); `default` when it is empty or not one."""
    found = _DURATION.match((value or "").strip().upper())
    if not found or not any(found.groups()):
        return default
    years, months, weeks, days, hours, minutes = (int(part or 0) for part in found.groups())
    return timedelta(days=365 * years + 30 * months + 7 * weeks + days, hours=hours, minutes=minutes)


def moment(value: Any) -> datetime | None:
    """A date Partner Center wrote (ISO 8601, often with a Z), as an aware datetime."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refund_window(resource: dict[str, Any]) -> timedelta:
    """How long added seats may be removed: the first refund option's `expiresAfter` (168 h when none is given)."""
    options = resource.get("refundOptions") or []
    given = options[0].get("expiresAfter", "") if options and isinstance(options[0], dict) else ""
    return iso_duration(given, default=timedelta(hours=168)) or timedelta(hours=168)


def refundable(additions: list[dict[str, Any]], now: datetime) -> int:
    return sum(int(a["quantity"]) for a in additions if (moment(a["until"]) or now) > now)


def refusal(current: dict[str, Any], wanted: dict[str, Any], *, refundable_now: int, now: datetime) -> str:
    """Microsoft's words for a PATCH it refuses, or "" when New Commerce allows it."""
    if current.get("status") == "deleted":
        return "The subscription is cancelled: it cannot be changed."
    quantity = int(wanted.get("quantity", current["quantity"]))
    if quantity < 1:
        return "Invalid request input: quantity must be at least 1."
    decrease = int(current["quantity"]) - quantity
    if decrease > refundable_now:
        return (
            f"Quantity decrease of {decrease} is not allowed: only {refundable_now} licences were added within their "
            "cancellation window (refundableQuantity). Seats can be reduced at renewal."
        )
    until = moment(current.get("cancellationAllowedUntilDate"))
    if wanted.get("status") == "deleted" and (until is None or now > until):
        return "Cancellation is not allowed: the cancellation window of this subscription has ended."
    if wanted.get("scheduledNextTermInstructions") and not wanted.get(
        "autoRenewEnabled", current.get("autoRenewEnabled")
    ):
        return "scheduledNextTermInstructions can be set only when autoRenewEnabled is true."
    return ""


def applied(
    current: dict[str, Any], wanted: dict[str, Any], additions: list[dict[str, Any]], now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The subscription and its additions after an allowed PATCH: an increase opens its own window, a decrease
    takes the newest refundable seats, and any mid-term change deletes the scheduled instructions."""
    additions = [dict(a) for a in additions]
    before, quantity = int(current["quantity"]), int(wanted.get("quantity", current["quantity"]))
    if quantity > before:
        additions.append({"quantity": quantity - before, "until": iso(now + refund_window(current))})
    removing = before - quantity
    for addition in reversed(additions):
        if removing > 0 and (moment(addition["until"]) or now) > now:
            taken = min(int(addition["quantity"]), removing)
            addition["quantity"] = int(addition["quantity"]) - taken
            removing -= taken
    auto_renew = bool(wanted.get("autoRenewEnabled", current.get("autoRenewEnabled")))
    status = wanted.get("status", current.get("status"))
    mid_term = quantity != before or status != current.get("status") or not auto_renew
    result = {**current, "quantity": quantity, "status": status, "autoRenewEnabled": auto_renew}
    scheduled = None if mid_term else wanted.get("scheduledNextTermInstructions")
    result.pop("scheduledNextTermInstructions", None)
    if scheduled:
        result["scheduledNextTermInstructions"] = scheduled
    result["refundableQuantity"] = refundable(additions, now)
    return result, additions


def subscription_resource(
    *,
    subscription_id: str,
    catalog_item_id: str,
    title: str,
    quantity: int,
    term_duration: str = "P1Y",
    billing_cycle: str = "monthly",
    start: datetime,
    window: str = "P7D",
    order_id: str = "",
) -> dict[str, Any]:
    """A subscription as Partner Center returns it right after a purchase made at `start`."""
    product_id, sku_id, *_rest = [*catalog_item_id.split(":"), "", ""]
    term = iso_duration(term_duration, default=timedelta(days=365)) or timedelta(days=365)
    return {
        "id": subscription_id,
        "offerId": catalog_item_id,
        "offerName": title,
        "friendlyName": title,
        "productType": {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"},
        "quantity": quantity,
        "unitType": "Licenses",
        "creationDate": iso(start),
        "effectiveStartDate": iso(start),
        "commitmentEndDate": iso(start + term - timedelta(days=1)),
        "status": "active",
        "autoRenewEnabled": True,
        "billingType": "license",
        "billingCycle": billing_cycle,
        "termDuration": term_duration,
        "refundOptions": [{"type": "Full", "expiresAfter": window}],
        "refundableQuantity": quantity,
        "cancellationAllowedUntilDate": iso(start + (iso_duration(window) or timedelta(days=7))),
        "orderId": order_id,
        "links": {
            "product": {"uri": f"/products/{product_id}?country=BE", "method": "GET", "headers": []},
            "sku": {"uri": f"/products/{product_id}/skus/{sku_id}?country=BE", "method": "GET", "headers": []},
        },
        "attributes": {"objectType": "Subscription"},
    }
