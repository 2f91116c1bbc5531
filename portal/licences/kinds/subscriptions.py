"""The changes of an existing subscription: add or remove seats, cancel, auto-renew, a change at renewal.

Each kind has a check (New Commerce's rules over the subscription as last synced, refused before any call to
Microsoft with the reason and what is still possible) and a submit (reads the subscription at Microsoft, sends it
back whole with the change under the change's one MS-RequestId, stores Microsoft's answer). Payloads are the
API's: `{"subscription_id", "quantity"?, "auto_renew"?, "term_duration"?, "billing_cycle"?}`; `quantity` is the
number of seats to add or remove, or the seats at renewal for a schedule.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.licences.changes import ChangeRefused, kind_register
from portal.licences.models import ChangeRequest, Subscription
from portal.licences.subscriptions import (
    can_cancel,
    can_schedule,
    is_active,
    licence_timers_arm,
    mid_term_warning,
    moment_words,
    quantity_limits,
    removal_until,
    seats_addable,
    seats_added_at,
    seats_removable,
    still_possible,
    subscription_store,
    terms_offered,
)
from portal.provisioning.base import get_provisioner

Kind = ChangeRequest.Kind
SUBSCRIPTION_KINDS = (Kind.ADD_SEATS, Kind.REMOVE_SEATS, Kind.CANCEL, Kind.AUTO_RENEW, Kind.SCHEDULE)


def register() -> None:
    """Wire the kinds into `portal.licences.changes` (from the app's ready())."""
    for kind in SUBSCRIPTION_KINDS:
        kind_register(
            kind,
            check=f"portal.licences.kinds.subscriptions.check_{kind}",
            submit=f"portal.licences.kinds.subscriptions.submit_{kind}",
        )


# Checks


def _subscription(change: ChangeRequest) -> Subscription:
    """The change's subscription, which must be the company's and active."""
    if change.subscription is None:
        found = Subscription.objects.filter(
            company=change.company, pk=_int(change.payload.get("subscription_id"), default=0)
        ).first()
        if found is None:
            raise ChangeRefused(_("No such subscription in this company."), status=422)
        change.subscription = found
    subscription = change.subscription
    if not is_active(subscription):
        raise ChangeRefused(_("This subscription is not active: it cannot be changed."), status=409)
    return subscription


def _int(value: Any, *, default: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        if default is not None:
            return default
        raise ChangeRefused(_("Say how many seats, as a whole number."), status=422) from None
    return number


def _seats(change: ChangeRequest) -> int:
    seats = _int(change.payload.get("quantity"))
    if seats < 1:
        raise ChangeRefused(_("Say how many seats, at least 1."), status=422)
    return seats


def check_add_seats(change: ChangeRequest) -> None:
    subscription = _subscription(change)
    seats = _seats(change)
    if seats > seats_addable(subscription):
        raise ChangeRefused(
            _("%(product)s takes at most %(max)s seats: you can add up to %(left)s.")
            % {
                "product": subscription.friendly_name,
                "max": quantity_limits(subscription)[1],
                "left": seats_addable(subscription),
            },
            status=422,
        )


def check_remove_seats(change: ChangeRequest) -> None:
    subscription = _subscription(change)
    seats = _seats(change)
    now = timezone.now()
    added_at = seats_added_at([subscription]).get(subscription.pk)
    minimum = quantity_limits(subscription)[0]
    if subscription.quantity - seats < minimum:
        raise ChangeRefused(
            _("%(product)s needs at least %(min)s seat.") % {"product": subscription.friendly_name, "min": minimum},
            possible=[_("Cancel the subscription instead, while its cancellation window is open.")]
            if can_cancel(subscription, now)
            else still_possible(subscription, now),
            status=422,
        )
    removable = seats_removable(subscription, now, added_at=added_at)
    if seats > removable:
        until = removal_until(subscription, now, added_at=added_at)
        message = (
            ngettext(
                "Only %(count)s seat can be removed now (until %(until)s): Microsoft refunds only seats added in the "
                "last days.",
                "Only %(count)s seats can be removed now (until %(until)s): Microsoft refunds only seats added in the "
                "last days.",
                removable,
            )
            % {"count": removable, "until": moment_words(until)}
            if removable and until
            else _("The window to remove seats has closed: seats can be reduced only at renewal.")
        )
        raise ChangeRefused(message, possible=still_possible(subscription, now), status=409)


def check_cancel(change: ChangeRequest) -> None:
    subscription = _subscription(change)
    now = timezone.now()
    if not can_cancel(subscription, now):
        raise ChangeRefused(
            _("The window to cancel this subscription has closed: it can only end at renewal."),
            possible=still_possible(subscription, now),
            status=409,
        )


def check_auto_renew(change: ChangeRequest) -> None:
    _subscription(change)
    wanted = change.payload.get("auto_renew")
    if not isinstance(wanted, bool):
        raise ChangeRefused(_("Say whether auto-renew is to be on (true) or off (false)."), status=422)


def check_schedule(change: ChangeRequest) -> None:
    subscription = _subscription(change)
    if not can_schedule(subscription):
        raise ChangeRefused(
            _("A change at renewal needs auto-renew on: turn it on first."),
            possible=[_("Turn auto-renew back on to schedule fewer seats at renewal.")],
            status=409,
        )
    seats = _seats(change)
    low, high = quantity_limits(subscription)
    if not low <= seats <= high:
        raise ChangeRefused(
            _("%(product)s takes from %(min)s to %(max)s seats.")
            % {"product": subscription.friendly_name, "min": low, "max": high},
            status=422,
        )
    term = change.payload.get("term_duration") or subscription.term_duration
    cycle = change.payload.get("billing_cycle") or subscription.billing_cycle
    if (term, cycle) not in terms_offered(subscription):
        raise ChangeRefused(_("This term and billing are not offered for this product."), status=422)
    change.payload = {**change.payload, "term_duration": term, "billing_cycle": cycle}


# Submissions


def _patched(change: ChangeRequest, edit) -> str:
    """Read the subscription at Microsoft, send it back with `edit` applied, store the answer; the timeline line."""
    subscription = change.subscription
    assert subscription is not None  # every subscription kind has one (its check makes sure)
    provisioner = get_provisioner()
    customer_id = subscription.tenant.customer_id
    current = provisioner.subscription_get(customer_id=customer_id, subscription_id=subscription.pc_id)
    resource = edit(dict(current))
    answer = provisioner.subscription_patch(
        customer_id=customer_id,
        subscription_id=subscription.pc_id,
        resource=resource,
        request_id=str(change.idempotency_key),
    )
    stored = subscription_store(tenant=subscription.tenant, resource=answer)
    licence_timers_arm()
    return f"Microsoft changed {stored.friendly_name}: {stored.quantity} seats, status {stored.status}, auto-renew {'on' if stored.auto_renew else 'off'}"


def submit_add_seats(change: ChangeRequest) -> str:
    seats = int(change.payload["quantity"])
    return _patched(change, lambda r: {**r, "quantity": int(r["quantity"]) + seats})


def submit_remove_seats(change: ChangeRequest) -> str:
    seats = int(change.payload["quantity"])
    return _patched(change, lambda r: {**r, "quantity": int(r["quantity"]) - seats})


def submit_cancel(change: ChangeRequest) -> str:
    return _patched(change, lambda r: {**r, "status": "deleted"})


def submit_auto_renew(change: ChangeRequest) -> str:
    return _patched(change, lambda r: {**r, "autoRenewEnabled": bool(change.payload["auto_renew"])})


def submit_schedule(change: ChangeRequest) -> str:
    subscription = change.subscription
    assert subscription is not None
    instructions = {
        "product": {
            "productId": subscription.product_id,
            "skuId": subscription.sku_id,
            "availabilityId": subscription.catalog_item_id.rpartition(":")[2],
            "billingCycle": change.payload["billing_cycle"],
            "termDuration": change.payload["term_duration"],
        },
        "quantity": int(change.payload["quantity"]),
    }
    return _patched(change, lambda r: {**r, "autoRenewEnabled": True, "scheduledNextTermInstructions": instructions})


def warning_for(kind: str, subscription: Subscription) -> str:
    """The warning a mid-term change shows first: it clears the change scheduled for renewal."""
    return mid_term_warning(subscription) if kind in (Kind.ADD_SEATS, Kind.REMOVE_SEATS, Kind.CANCEL) else ""
