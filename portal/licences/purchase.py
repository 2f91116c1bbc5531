"""Buying a licence: the `purchase` kind of change request.

The check refuses, before any call to Microsoft, what the catalogue does not sell now: an item that is not a
current, visible, purchasable availability, a term or billing it does not offer, a quantity outside the SKU's
minimum and maximum, a commitment not acknowledged. The submission creates a Partner Center cart and checks it
out with the change's one MS-RequestId; the cart's id is kept as soon as it exists, so a retry checks out the same
cart instead of making another; the orders and their subscriptions are stored once (Microsoft's ids are unique).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.accounts.models import User
from portal.catalog.models import Availability
from portal.companies.models import Company
from portal.licences.changes import Asked, ChangeRefused, change_request_create, event_add
from portal.licences.models import ChangeRequest, Order, Subscription
from portal.notifications.services import absolute_url, email_queue
from portal.pricing.services import PriceOption, price_options
from portal.provisioning.base import CartLine, PlacedOrder, get_provisioner
from portal.provisioning.models import Tenant

_DAYS = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?$")
_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
DEFAULT_REMOVAL_DAYS = 7  # only when Microsoft's refundOptions say nothing (168 hours from the addition)


@dataclass(frozen=True)
class Offer:
    """A current, visible availability of a SKU and what it sells: the facts a cart line is checked against."""

    availability: Availability
    product_id: str
    sku_id: str
    min_quantity: int
    max_quantity: int
    terms: list[dict[str, Any]]

    def term(self, duration: str, cycle: str) -> dict[str, Any] | None:
        return next((t for t in self.terms if t.get("duration") == duration and t.get("billingCycle") == cycle), None)


def offer_find(catalog_item_id: str) -> Offer | None:
    """The offer a catalogItemId names, if customers may buy it now."""
    availability = (
        Availability.objects.select_related("sku__product")
        .filter(
            catalog_item_id=catalog_item_id,
            is_current=True,
            is_purchasable=True,
            sku__is_offered=True,
            sku__product__is_offered=True,
            sku__product__listing__visible=True,
        )
        .first()
    )
    if availability is None:
        return None
    sku = availability.sku
    return Offer(
        availability=availability,
        product_id=sku.product.product_id,
        sku_id=sku.sku_id,
        min_quantity=sku.min_quantity,
        max_quantity=sku.max_quantity,
        terms=list(availability.terms),
    )


def removal_days(term: dict[str, Any] | None) -> int:
    """How many days after seats are added they can be removed, from the term's refundOptions."""
    days = []
    for policy in (term or {}).get("cancellationPolicies") or []:
        for option in policy.get("refundOptions") or []:
            match = _DAYS.fullmatch(str(option.get("expiresAfter") or ""))
            if match and any(match.groups()):
                days.append(int(match[1] or 0) * 7 + int(match[2] or 0))
    return max(days) if days else DEFAULT_REMOVAL_DAYS


def commitment_words(term_duration: str, billing_cycle: str, days: int) -> str:
    """The commitment in words, as the buyer ticks it: "12 months, billed monthly; seats can be removed …"."""
    months = _MONTHS.get(term_duration, 0)
    length = ngettext("%(count)d month", "%(count)d months", months) % {"count": months}
    billing = {"monthly": _("billed monthly"), "annual": _("billed annually"), "triennial": _("billed every 3 years")}
    window = ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    return _(
        "%(length)s, %(billing)s; seats can be removed only within %(window)s of being added, "
        "and the subscription renews at the end of the term unless auto-renew is turned off."
    ) % {"length": length, "billing": billing.get(billing_cycle, billing_cycle), "window": window}


def option_price(product_id: str, sku_id: str, duration: str, cycle: str, *, company: Company) -> PriceOption | None:
    """The company's price of one term of a SKU today, if the price sheet has it."""
    return next(
        (
            option
            for option in price_options(product_id, sku_id, company=company)
            if (option.term_duration, option.billing_cycle) == (duration, cycle)
        ),
        None,
    )


def purchase_amount(offer: Offer, duration: str, cycle: str, quantity: int, *, company: Company) -> tuple[Any, str]:
    """What the purchase commits to, excluding VAT (the term's price for every seat), and its currency."""
    price = option_price(offer.product_id, offer.sku_id, duration, cycle, company=company)
    if price is None:
        return None, ""
    return price.term_price * quantity, price.currency


def purchase_asked(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload of a purchase as stored: the API's fields, nothing else."""
    return {
        "catalog_item_id": str(payload.get("catalog_item_id") or ""),
        "quantity": payload.get("quantity"),
        "term_duration": str(payload.get("term_duration") or ""),
        "billing_cycle": str(payload.get("billing_cycle") or ""),
    }


def purchase_request(
    *, company: Company, by: User, role: str, asked: dict[str, Any], acknowledged_text: str
) -> ChangeRequest:
    """A member asks to buy: priced for the company (the amount decides auto-approval), then checked and stored."""
    payload = purchase_asked(asked)
    offer = offer_find(payload["catalog_item_id"])
    amount, currency = None, ""
    if offer is not None and isinstance(payload["quantity"], int):
        amount, currency = purchase_amount(
            offer, payload["term_duration"], payload["billing_cycle"], payload["quantity"], company=company
        )
    return change_request_create(
        company=company,
        by=by,
        role=role,
        asked=Asked(
            kind=ChangeRequest.Kind.PURCHASE,
            payload=payload,
            amount=amount,
            currency=currency,
            acknowledged_text=acknowledged_text,
        ),
    )


def line_check(asked: dict[str, Any]) -> Offer:
    """A cart line the catalogue sells now (item, term and billing, seats), or ChangeRefused (422) saying why."""
    offer = offer_find(str(asked.get("catalog_item_id") or ""))
    if offer is None:
        raise ChangeRefused(
            _("%(item)s is not in the catalogue: choose a licence from the catalogue page.")
            % {"item": asked.get("catalog_item_id") or "—"},
            status=422,
        )
    if offer.term(str(asked.get("term_duration")), str(asked.get("billing_cycle"))) is None:
        offered = [commitment_words(t["duration"], t["billingCycle"], removal_days(t)) for t in offer.terms]
        raise ChangeRefused(_("This licence is not sold with that term and billing."), possible=offered, status=422)
    quantity = asked.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < offer.min_quantity:
        raise ChangeRefused(
            _("At least %(min)s seats are needed for this licence.") % {"min": offer.min_quantity}, status=422
        )
    if quantity > offer.max_quantity:
        raise ChangeRefused(
            _("At most %(max)s seats can be bought of this licence.") % {"max": offer.max_quantity}, status=422
        )
    return offer


def purchase_check(change: ChangeRequest) -> None:
    """Refuse what the catalogue does not sell now, before any call to Microsoft, with the reason."""
    line_check(change.payload)
    if not change.acknowledged_text:
        raise ChangeRefused(_("Tick the box to confirm you understand the commitment."), status=422)
    if _tenant(change.company) is None:
        raise ChangeRefused(_("The company has no Microsoft tenant yet: licences can be bought once it exists."))


def _tenant(company: Company) -> Tenant | None:
    return company.tenants.order_by("created_at", "pk").first()


def purchase_submit(change: ChangeRequest) -> str:
    """Create the cart (once) and check it out, with the change's MS-RequestId; store what Microsoft made."""
    tenant = _tenant(change.company)
    if tenant is None:
        raise ChangeRefused(_("The company has no Microsoft tenant yet: licences can be bought once it exists."))
    provisioner = get_provisioner()
    request_id = str(change.idempotency_key)
    asked = change.payload
    if not change.pc_cart_id:
        line = CartLine(
            catalog_item_id=asked["catalog_item_id"],
            quantity=asked["quantity"],
            term_duration=asked["term_duration"],
            billing_cycle=asked["billing_cycle"],
        )
        cart = provisioner.cart_create(customer_id=tenant.customer_id, lines=[line], request_id=request_id)
        # Kept at once (its own commit): a retry checks out this cart rather than creating another.
        ChangeRequest.objects.filter(pk=change.pk).update(pc_cart_id=cart.id)
        change.pc_cart_id = cart.id
    orders = provisioner.cart_checkout(customer_id=tenant.customer_id, cart_id=change.pc_cart_id, request_id=request_id)
    return orders_store(change, tenant, orders)


def orders_store(change: ChangeRequest, tenant: Tenant, orders: list[PlacedOrder]) -> str:
    """Store the orders and subscriptions of a checkout, all or nothing, once: a repeated answer adds nothing."""
    with transaction.atomic():
        new = False
        subscriptions = []
        for placed in orders:
            _order, created = Order.objects.get_or_create(
                pc_id=placed.id,
                defaults={"company": change.company, "change": change, "status": placed.status, "raw": placed.raw},
            )
            new = new or created
            for resource in placed.subscriptions:
                subscription, _created = Subscription.objects.update_or_create(
                    pc_id=str(resource["id"]),
                    defaults=subscription_values(resource, company=change.company, tenant=tenant, change=change)
                    | {"order_id": placed.id},
                )
                subscriptions.append(subscription)
        ChangeRequest.objects.filter(pk=change.pk).update(pc_order_id=orders[0].id if orders else "")
        line = (
            "Microsoft placed order "
            + ", ".join(o.id for o in orders)
            + ": "
            + (", ".join(f"{s.friendly_name} × {s.quantity}" for s in subscriptions) or "no subscription yet")
        )
        if new:
            event_add(change, line)
            _confirmation_send(change, subscriptions)
    return line


def _when(value: Any) -> datetime | None:
    return parse_datetime(str(value)) if value else None


def subscription_values(
    resource: dict[str, Any], *, company: Company, tenant: Tenant, change: ChangeRequest
) -> dict[str, Any]:
    """A Subscription's fields from Microsoft's resource (the cart line's terms where the resource is silent)."""
    asked = change.payload
    catalog_item_id = str(resource.get("offerId") or asked.get("catalog_item_id") or "")
    product_id, sku_id = (catalog_item_id.split(":") + ["", ""])[:2]
    return {
        "company": company,
        "tenant": tenant,
        "catalog_item_id": catalog_item_id,
        "product_id": product_id,
        "sku_id": sku_id,
        "friendly_name": str(resource.get("friendlyName") or resource.get("offerName") or catalog_item_id),
        "quantity": int(resource.get("quantity") or asked.get("quantity") or 0),
        "status": str(resource.get("status") or "pending"),
        "term_duration": str(resource.get("termDuration") or asked.get("term_duration") or ""),
        "billing_cycle": str(resource.get("billingCycle") or asked.get("billing_cycle") or ""),
        "auto_renew": bool(resource.get("autoRenewEnabled", True)),
        "effective_start": _when(resource.get("effectiveStartDate")),
        "commitment_end": _when(resource.get("commitmentEndDate")),
        "cancellation_allowed_until": _when(resource.get("cancellationAllowedUntilDate")),
        "refundable_quantity": int(resource.get("refundableQuantity") or 0),
        "refund_options": list(resource.get("refundOptions") or []),
        "raw": resource,
    }


def _confirmation_send(change: ChangeRequest, subscriptions: list[Subscription]) -> None:
    """The buyer's confirmation, in the buyer's language (and the approver's copy, when someone else approved)."""
    buyer = change.requested_by
    email_queue(
        template="licence-purchased",
        language=buyer.language,
        to=[buyer.email],
        context={
            "user": buyer,
            "company": change.company,
            "change": change,
            "subscriptions": subscriptions,
            "orders_url": absolute_url(reverse("licence_orders", args=[change.company_id])),
        },
    )
