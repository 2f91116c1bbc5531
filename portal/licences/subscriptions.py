"""A company's subscriptions as Microsoft reports them, and what New Commerce lets its members do with each now.

The portal never guesses a window: what may be removed, and until when, comes from Microsoft's own
`cancellationAllowedUntilDate`, `refundableQuantity` and `refundOptions` as last synced. One function answers one
question (`seats_removable`, `can_cancel`, `still_possible`, …), so pages, the API and the kinds' checks agree.
Subscriptions are synced hourly and after each change the portal makes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.catalog.models import Sku
from portal.core.models import Timer
from portal.core.timers import timer_set
from portal.licences.models import ChangeRequest, LicenceEvent, Subscription
from portal.licences.tasks import renewal_notices, subscriptions_sync_all
from portal.pricing.services import price_options
from portal.provisioning.base import ProvisionerError, get_provisioner
from portal.provisioning.models import Tenant
from portal.provisioning.nce import iso_duration, moment

BRUSSELS = ZoneInfo("Europe/Brussels")
SYNC_EVERY = timedelta(hours=1)
NOTICES_AT_HOUR = 8  # the daily renewal notices leave at 08:00, Brussels time
SYNC_KEY, NOTICES_KEY = "licences-sync", "licences-renewal-notices"
BABEL_LOCALES = {"en": "en_IE", "nl": "nl_BE", "fr": "fr_BE"}
# The SKU limits of the reseller's offers (Microsoft's minimumQuantity / maximumQuantity): small-business
# offers stop at 300 seats. Used until the catalogue knows the SKU.
SMALL_BUSINESS = {"CFQ7TTC0LH18", "CFQ7TTC0LDPB", "CFQ7TTC0LCHC", "CFQ7TTC0RQN1", "CFQ7TTC0HCH2"}
TERMS = {"P1M": ("monthly",), "P1Y": ("monthly", "annual"), "P3Y": ("annual",)}


# Sync


def fields_of(resource: dict[str, Any]) -> dict[str, Any]:
    """The portal's copy of Microsoft's Subscription resource."""
    catalog_item_id = str(resource.get("offerId") or "")
    product_id, _sep, rest = catalog_item_id.partition(":")
    return {
        "order_id": str(resource.get("orderId") or ""),
        "catalog_item_id": catalog_item_id,
        "product_id": product_id,
        "sku_id": rest.partition(":")[0],
        "friendly_name": str(resource.get("friendlyName") or resource.get("offerName") or catalog_item_id)[:200],
        "quantity": int(resource.get("quantity") or 0),
        "status": str(resource.get("status") or "none"),
        "term_duration": str(resource.get("termDuration") or ""),
        "billing_cycle": str(resource.get("billingCycle") or ""),
        "auto_renew": bool(resource.get("autoRenewEnabled")),
        "effective_start": moment(resource.get("effectiveStartDate")),
        "commitment_end": moment(resource.get("commitmentEndDate")),
        "cancellation_allowed_until": moment(resource.get("cancellationAllowedUntilDate")),
        "refundable_quantity": int(resource.get("refundableQuantity") or 0),
        "refund_options": resource.get("refundOptions") or [],
        "scheduled_next_term": resource.get("scheduledNextTermInstructions") or None,
        "raw": resource,
        "synced_at": timezone.now(),
    }


def subscription_store(*, tenant: Tenant, resource: dict[str, Any]) -> Subscription:
    """Store what Microsoft said of one subscription; a scheduled change that disappeared without the portal
    asking is recorded as cleared (a mid-term change deletes it), with what it was."""
    fields = fields_of(resource)
    with transaction.atomic():
        current = Subscription.objects.select_for_update().filter(pc_id=resource["id"]).first()
        if current is None:
            return Subscription.objects.create(
                company_id=tenant.company_id, tenant=tenant, pc_id=resource["id"], **fields
            )
        cleared = current.scheduled_next_term and not fields["scheduled_next_term"]
        for name, value in fields.items():
            setattr(current, name, value)
        if cleared:
            current.scheduled_cleared_at = timezone.now()
            LicenceEvent.objects.create(
                company_id=current.company_id,
                subscription=current,
                message=f"Microsoft cleared the change scheduled for renewal ({schedule_words_en(current)}): "
                "a mid-term change deletes it.",
            )
        elif fields["scheduled_next_term"]:
            current.scheduled_cleared_at = None
        current.save()
    return current


def schedule_words_en(subscription: Subscription) -> str:
    """The cleared instructions, in English for the timeline (read before the subscription forgets them)."""
    with translation.override("en"):
        return scheduled_words(subscription.scheduled_next_term or {})


def subscriptions_sync(*, tenant_id: int) -> int:
    """Read every subscription of the tenant's customer from Microsoft and store it; returns how many."""
    tenant = Tenant.objects.get(pk=tenant_id)
    resources = get_provisioner().subscriptions_list(customer_id=tenant.customer_id)
    for resource in resources:
        subscription_store(tenant=tenant, resource=resource)
    licence_timers_arm()
    return len(resources)


def subscription_resync(subscription: Subscription) -> Subscription:
    """Read one subscription again from Microsoft (after a change, or when a page needs it fresh)."""
    resource = get_provisioner().subscription_get(
        customer_id=subscription.tenant.customer_id, subscription_id=subscription.pc_id
    )
    return subscription_store(tenant=subscription.tenant, resource=resource)


def subscriptions_sync_every_tenant() -> str:
    """The hourly job: sync every tenant's subscriptions, then set the next run. One tenant's outage does not stop
    the others; it is tried again at the next run."""
    timer_set(subscriptions_sync_all, at=timezone.now() + SYNC_EVERY, key=SYNC_KEY)  # first: nothing below stops it
    synced, failed = 0, 0
    for tenant_id in Tenant.objects.order_by("pk").values_list("pk", flat=True):
        try:
            synced += subscriptions_sync(tenant_id=tenant_id)
        except ProvisionerError:
            failed += 1
    return f"{synced} subscriptions synced, {failed} tenants failed"


def next_notices_run(now: datetime) -> datetime:
    local = now.astimezone(BRUSSELS).replace(hour=NOTICES_AT_HOUR, minute=0, second=0, microsecond=0)
    return local if local > now else local + timedelta(days=1)


def licence_timers_arm() -> None:
    """Start the hourly sync and the daily renewal notices, if they are not waiting already."""
    now = timezone.now()
    waiting = set(Timer.objects.filter(key__in=[SYNC_KEY, NOTICES_KEY]).values_list("key", flat=True))
    if SYNC_KEY not in waiting:
        timer_set(subscriptions_sync_all, at=now + SYNC_EVERY, key=SYNC_KEY)
    if NOTICES_KEY not in waiting:
        timer_set(renewal_notices, at=next_notices_run(now), key=NOTICES_KEY)


# New Commerce's rules, one question each


def seats_added_at(subscriptions: list[Subscription]) -> dict[int, datetime]:
    """When the portal last added seats to each of these subscriptions (one query), for the windows Microsoft
    opens per addition."""
    rows = (
        ChangeRequest.objects.filter(
            subscription__in=subscriptions, kind=ChangeRequest.Kind.ADD_SEATS, status=ChangeRequest.Status.SUCCEEDED
        )
        .values("subscription_id")
        .annotate(last=Max("finished_at"))
    )
    return {row["subscription_id"]: row["last"] for row in rows if row["last"]}


def refund_window(subscription: Subscription) -> timedelta:
    """How long added seats stay removable: Microsoft's refund option (`expiresAfter`), 168 h if it gives none."""
    options = subscription.refund_options or []
    given = options[0].get("expiresAfter", "") if options and isinstance(options[0], dict) else ""
    return iso_duration(given, default=timedelta(hours=168)) or timedelta(hours=168)


def is_active(subscription: Subscription) -> bool:
    return subscription.status == "active"


def removal_until(subscription: Subscription, now: datetime, *, added_at: datetime | None = None) -> datetime | None:
    """Until when the refundable seats can be removed: Microsoft's cancellationAllowedUntilDate; for seats the
    portal added after it, the addition's time plus the refund window. None when no window is open."""
    if not is_active(subscription) or subscription.refundable_quantity <= 0:
        return None
    until = subscription.cancellation_allowed_until
    if until is not None and until > now:
        return until
    if added_at is not None and added_at + refund_window(subscription) > now:
        return added_at + refund_window(subscription)
    return None


def seats_removable(subscription: Subscription, now: datetime, *, added_at: datetime | None = None) -> int:
    """How many seats can be removed now: the refundable quantity inside its window, keeping the SKU's minimum."""
    if removal_until(subscription, now, added_at=added_at) is None:
        return 0
    floor = quantity_limits(subscription)[0]
    return max(0, min(subscription.refundable_quantity, subscription.quantity - floor))


def can_cancel(subscription: Subscription, now: datetime) -> bool:
    """Cancelling (status deleted) is allowed only until Microsoft's cancellationAllowedUntilDate."""
    until = subscription.cancellation_allowed_until
    return is_active(subscription) and until is not None and now <= until


def seats_addable(subscription: Subscription) -> int:
    return max(0, quantity_limits(subscription)[1] - subscription.quantity) if is_active(subscription) else 0


def can_schedule(subscription: Subscription) -> bool:
    """A change at renewal needs auto-renew on (Microsoft applies it when it renews)."""
    return is_active(subscription) and subscription.auto_renew


def _fallback_limits(subscription: Subscription) -> tuple[int, int]:
    return (1, 300 if subscription.product_id in SMALL_BUSINESS else 10000)


def sku_limits_load(subscriptions: list[Subscription]) -> None:
    """Read the SKUs' minimum and maximum seats from the catalogue for these subscriptions, in one query."""
    if not subscriptions:
        return
    found = {
        (product_id, sku_id): (low, high)
        for product_id, sku_id, low, high in Sku.objects.filter(
            product__product_id__in={s.product_id for s in subscriptions}, sku_id__in={s.sku_id for s in subscriptions}
        ).values_list("product__product_id", "sku_id", "min_quantity", "max_quantity")
    }
    for subscription in subscriptions:
        limits = found.get((subscription.product_id, subscription.sku_id)) or _fallback_limits(subscription)
        subscription.__dict__["sku_limits"] = limits


def quantity_limits(subscription: Subscription) -> tuple[int, int]:
    """The SKU's minimum and maximum seats, as Microsoft's catalogue gives them (minimumQuantity,
    maximumQuantity); the reseller's known limits while the catalogue does not have the SKU."""
    if "sku_limits" not in subscription.__dict__:
        sku_limits_load([subscription])
    return subscription.__dict__["sku_limits"]


def unit_price(subscription: Subscription) -> tuple[Decimal, str] | None:
    """The company's price of one seat for the subscription's whole term (the price sheet and the reseller's
    rules), or None when the prices do not have this term."""
    for option in price_options(subscription.product_id, subscription.sku_id, company=subscription.company):
        if (option.term_duration, option.billing_cycle) == (subscription.term_duration, subscription.billing_cycle):
            return option.term_price, option.currency
    return None


def terms_offered(subscription: Subscription) -> list[tuple[str, str]]:
    """(termDuration, billingCycle) pairs the renewal can take."""
    offered = [(term, cycle) for term, cycles in TERMS.items() for cycle in cycles]
    if subscription.product_id in SMALL_BUSINESS - {"CFQ7TTC0LCHC"}:
        offered = [pair for pair in offered if pair[0] != "P3Y"]
    return offered


def still_possible(subscription: Subscription, now: datetime) -> list[str]:
    """What the member can still do when a removal or a cancellation is refused."""
    possible = []
    if is_active(subscription) and subscription.auto_renew:
        possible.append(_("Turn off auto-renew: the subscription ends at the end of its term."))
        possible.append(_("Schedule fewer seats at renewal."))
    elif is_active(subscription):
        possible.append(_("Turn auto-renew back on to schedule fewer seats at renewal."))
    return possible


def mid_term_warning(subscription: Subscription) -> str:
    """What a mid-term change costs: Microsoft deletes the change scheduled for renewal."""
    if not subscription.scheduled_next_term:
        return ""
    return _(
        "This subscription has a change scheduled for renewal (%(change)s). A change now clears it: schedule it "
        "again afterwards if you still want it."
    ) % {"change": scheduled_words(subscription.scheduled_next_term)}


def prorated_estimate(
    subscription: Subscription, *, seats: int, unit_price: Decimal | None, now: datetime
) -> Decimal | None:
    """What `seats` added now cost until the term ends: the unit price for the whole term, prorated by day."""
    if unit_price is None or subscription.effective_start is None or subscription.commitment_end is None:
        return None
    term_days = max(1, (subscription.commitment_end - subscription.effective_start).days + 1)
    left = max(0, min(term_days, (subscription.commitment_end - now).days + 1))
    return (unit_price * seats * Decimal(left) / Decimal(term_days)).quantize(Decimal("0.01"), ROUND_HALF_UP)


# In words


def moment_words(when: datetime | None, language: str | None = None) -> str:
    """'10 December 2026, 14:30' in Brussels time, in the language."""
    if when is None:
        return ""
    locale = BABEL_LOCALES.get((language or translation.get_language() or "en")[:2], "en_IE")
    return format_datetime(when, "d MMMM y, HH:mm", tzinfo=BRUSSELS, locale=locale)


def date_words(when: datetime | None, language: str | None = None) -> str:
    if when is None:
        return ""
    locale = BABEL_LOCALES.get((language or translation.get_language() or "en")[:2], "en_IE")
    return format_datetime(when, "d MMMM y", tzinfo=BRUSSELS, locale=locale)


def months_of(term_duration: str) -> int:
    return {"P1M": 1, "P1Y": 12, "P3Y": 36}.get(term_duration, 0)


def term_words(term_duration: str, billing_cycle: str) -> str:
    """'12 months, billed monthly'."""
    months = months_of(term_duration)
    term = ngettext("%(count)s month", "%(count)s months", months) % {"count": months} if months else term_duration
    billing = {
        "monthly": _("billed monthly"),
        "annual": _("billed annually"),
        "triennial": _("billed every three years"),
    }.get(billing_cycle, billing_cycle)
    return _("%(term)s, %(billing)s") % {"term": term, "billing": billing}


def status_words(status: str) -> str:
    return {
        "active": _("Active"),
        "pending": _("Pending"),
        "suspended": _("Suspended"),
        "expired": _("Expired"),
        "disabled": _("Disabled"),
        "deleted": _("Cancelled"),
    }.get(status, status)


def scheduled_words(instructions: dict[str, Any]) -> str:
    """'10 seats, 12 months, billed annually' for Microsoft's scheduledNextTermInstructions."""
    product = instructions.get("product") or {}
    seats = int(instructions.get("quantity") or 0)
    parts = [ngettext("%(count)s seat", "%(count)s seats", seats) % {"count": seats}] if seats else []
    if product.get("termDuration"):
        parts.append(term_words(product["termDuration"], product.get("billingCycle", "")))
    return ", ".join(parts)


def removal_words(subscription: Subscription, now: datetime, *, added_at: datetime | None = None) -> str:
    """'You can remove up to 3 seats until 10 December 2026, 14:30', or '' when no seat can be removed."""
    seats = seats_removable(subscription, now, added_at=added_at)
    until = removal_until(subscription, now, added_at=added_at)
    if not seats or until is None:
        return ""
    return ngettext(
        "You can remove up to %(count)s seat until %(until)s.",
        "You can remove up to %(count)s seats until %(until)s.",
        seats,
    ) % {"count": seats, "until": moment_words(until)}


@dataclass(frozen=True)
class Card:
    """A subscription as its card and its page show it, in the reader's language."""

    subscription: Subscription
    term: str
    status: str
    renews: str
    renews_utc: str
    removal: str
    removable: int
    cancel_until: str
    can_cancel: bool
    scheduled: str
    cleared: str


def card_of(subscription: Subscription, now: datetime, *, added_at: datetime | None = None) -> Card:
    cleared = (
        _("A mid-term change cleared the change scheduled for renewal on %(date)s.")
        % {"date": moment_words(subscription.scheduled_cleared_at)}
        if subscription.scheduled_cleared_at and not subscription.scheduled_next_term
        else ""
    )
    end = subscription.commitment_end
    return Card(
        subscription=subscription,
        term=term_words(subscription.term_duration, subscription.billing_cycle),
        status=status_words(subscription.status),
        renews=date_words(end),
        renews_utc=end.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC") if end else "",
        removal=removal_words(subscription, now, added_at=added_at),
        removable=seats_removable(subscription, now, added_at=added_at),
        cancel_until=moment_words(subscription.cancellation_allowed_until) if can_cancel(subscription, now) else "",
        can_cancel=can_cancel(subscription, now),
        scheduled=scheduled_words(subscription.scheduled_next_term or {}),
        cleared=cleared,
    )
