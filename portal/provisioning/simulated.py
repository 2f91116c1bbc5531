import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.provisioning import nce
from portal.provisioning.base import (
    AgreementSigner,
    BillingProfile,
    Cart,
    CartLine,
    CartRefused,
    CatalogAvailability,
    CatalogProduct,
    CatalogSku,
    Customer,
    CustomerProfile,
    PlacedOrder,
    PreconditionFailed,
    ProvisionerError,
    ProvisionerUnavailable,
    billing_profile_of,
    catalog_availability_of,
    catalog_product_of,
    catalog_sku_of,
)
from portal.provisioning.models import SimulatedBillingProfile, SimulatedCart, SimulatedCustomer, SimulatedSubscription
from portal.provisioning.simulated_catalog import (
    LICENCES,
    Licence,
    availability_resource,
    licence_of,
    product_resource,
    sku_resource,
)
from portal.provisioning.simulated_prices import simulated_price_sheet


def _new_etag() -> str:
    return secrets.token_hex(8)


def _billing_resource(profile: CustomerProfile) -> dict[str, Any]:
    """The billing profile Partner Center keeps for a customer created with this profile."""
    created = billing_profile_of(profile)
    return {
        "id": str(uuid.uuid4()),
        "firstName": profile.first_name,
        "lastName": profile.last_name,
        **created,
        "defaultAddress": {"region": "", "state": "", "addressLine2": "", **created["defaultAddress"]},
        "attributes": {"objectType": "CustomerBillingProfile"},
    }


def simulated_subscription_add(*, customer_id: str, resource: dict[str, Any]) -> SimulatedSubscription:
    """Store a subscription at the simulated Microsoft (a purchase, demo data, a test): all its refundable seats in
    one addition, until its cancellationAllowedUntilDate."""
    addition = {
        "quantity": resource.get("refundableQuantity", 0),
        "until": resource.get("cancellationAllowedUntilDate"),
    }
    return SimulatedSubscription.objects.create(
        customer_id=customer_id, subscription_id=resource["id"], resource=resource, additions=[addition]
    )


class SimulatedProvisioner:
    """A deterministic stand-in for Partner Center, kept in the database, for development and demonstrations.

    SIMULATED_TAKEN_DOMAINS are taken; SIMULATED_DELAY_SECONDS slows every call; SIMULATED_FAILURES injects
    failures by domain prefix: "<prefix>:unavailable" answers as a throttled Microsoft would (passing, retried),
    "<prefix>:invalid_address" as a refused address (permanent).
    """

    def _pause(self) -> None:
        if settings.SIMULATED_DELAY_SECONDS:
            time.sleep(settings.SIMULATED_DELAY_SECONDS)

    def _inject(self, prefix: str) -> None:
        failure = settings.SIMULATED_FAILURES.get(prefix)
        if failure == "unavailable":
            raise ProvisionerUnavailable(
                _("Microsoft is throttling requests (simulated); trying again later."),
                code="throttled",
                retry_after=30,
            )
        if failure == "invalid_address":
            raise ProvisionerError(
                _("Microsoft refused the company address (simulated): check street, postal code and city."),
                code="invalid_address",
            )

    def domain_available(self, *, prefix: str) -> bool:
        prefix = prefix.lower()
        return (
            prefix not in settings.SIMULATED_TAKEN_DOMAINS
            and not SimulatedCustomer.objects.filter(domain=f"{prefix}.onmicrosoft.com").exists()
        )

    def customer_find(self, *, domain_prefix: str) -> Customer | None:
        found = SimulatedCustomer.objects.filter(domain=f"{domain_prefix}.onmicrosoft.com").first()
        return Customer(id=found.customer_id, domain=found.domain) if found else None

    def create_customer(self, *, profile: CustomerProfile, idempotency_key: str) -> Customer:
        self._pause()
        self._inject(profile.domain_prefix)
        if profile.domain_prefix in settings.SIMULATED_TAKEN_DOMAINS:
            raise ProvisionerError(
                _("%(domain)s is already taken at Microsoft: choose another tenant name.")
                % {"domain": f"{profile.domain_prefix}.onmicrosoft.com"},
                code="domain_taken",
            )
        domain = f"{profile.domain_prefix}.onmicrosoft.com"
        try:
            with transaction.atomic():
                created = SimulatedCustomer.objects.create(
                    customer_id=str(uuid.uuid4()),
                    domain=domain,
                    company_name=profile.company_name,
                    idempotency_key=idempotency_key,
                )
                SimulatedBillingProfile.objects.create(
                    customer_id=created.customer_id, resource=_billing_resource(profile), etag=_new_etag()
                )
        except IntegrityError:
            existing = SimulatedCustomer.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise ProvisionerError(
                    _("%(domain)s is already taken at Microsoft: choose another tenant name.") % {"domain": domain},
                    code="domain_taken",
                ) from None
            return Customer(id=existing.customer_id, domain=existing.domain)
        return Customer(
            id=created.customer_id,
            domain=domain,
            admin_user=f"admin@{domain}",
            admin_password=secrets.token_urlsafe(12),
        )

    def accept_customer_agreement(
        self, *, customer_id: str, signer: AgreementSigner, idempotency_key: str = ""
    ) -> None:

        self._pause()
        SimulatedCustomer.objects.filter(customer_id=customer_id, agreement_accepted_at=None).update(
            agreement_accepted_at=timezone.now()
        )

    def billing_profile_get(self, *, customer_id: str) -> BillingProfile:
        self._pause()
        stored = self._billing_profile(customer_id)
        return self._as_billing_profile(stored)

    def billing_profile_update(self, *, customer_id: str, profile: dict[str, Any], etag: str) -> BillingProfile:
        self._pause()
        with transaction.atomic():
            stored = self._billing_profile(customer_id, lock=True)
            if stored.etag != etag:
                raise PreconditionFailed(
                    _(
                        "The billing profile of customer %(customer)s changed at Microsoft (simulated) since the portal read it."
                    )
                    % {"customer": customer_id}
                )
            stored.resource = {**profile, "id": stored.resource.get("id"), "attributes": {}}
            stored.etag = _new_etag()
            stored.updated_at = timezone.now()
            stored.save(update_fields=["resource", "etag", "updated_at"])
        return self._as_billing_profile(stored)

    # Subscriptions (New Commerce), with Microsoft's rules against the clock (portal.provisioning.nce)

    def subscriptions_list(self, *, customer_id: str) -> list[dict[str, Any]]:
        self._pause()
        rows = SimulatedSubscription.objects.filter(customer_id=customer_id).order_by("pk")
        return [self._subscription_now(row) for row in rows]

    def subscription_get(self, *, customer_id: str, subscription_id: str) -> dict[str, Any]:
        self._pause()
        return self._subscription_now(self._subscription_row(customer_id, subscription_id))

    def subscription_patch(
        self, *, customer_id: str, subscription_id: str, resource: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        self._pause()
        now = timezone.now()
        with transaction.atomic():
            row = self._subscription_row(customer_id, subscription_id, lock=True)
            if request_id in row.request_ids:  # the same MS-RequestId: Microsoft answers as the first time
                return self._subscription_now(row)
            current = self._subscription_now(row)
            refused = nce.refusal(current, resource, refundable_now=current["refundableQuantity"], now=now)
            if refused:
                raise ProvisionerError(
                    _("Microsoft refused to change the subscription (simulated): %(reason)s") % {"reason": refused},
                    code="refused",
                )
            row.resource, row.additions = nce.applied(current, resource, row.additions, now)
            row.request_ids = [*row.request_ids, request_id][-50:]
            row.save(update_fields=["resource", "additions", "request_ids"])
        return self._subscription_now(row)

    @staticmethod
    def _subscription_row(customer_id: str, subscription_id: str, *, lock: bool = False) -> SimulatedSubscription:
        rows = SimulatedSubscription.objects.select_for_update() if lock else SimulatedSubscription.objects
        found = rows.filter(customer_id=customer_id, subscription_id=subscription_id).first()
        if found is None:
            raise ProvisionerError(
                _("Microsoft does not know the subscription %(subscription)s (simulated).")
                % {"subscription": subscription_id},
                code="not_found",
            )
        return found

    @staticmethod
    def _subscription_now(row: SimulatedSubscription) -> dict[str, Any]:
        return {**row.resource, "refundableQuantity": nce.refundable(row.additions, timezone.now())}

    def catalog_products(self, *, country: str, locale: str) -> list[CatalogProduct]:
        self._pause()
        return [catalog_product_of(product_resource(licence, locale=locale)) for licence in LICENCES]

    def catalog_skus(self, *, product_id: str, country: str, locale: str) -> list[CatalogSku]:
        licence = self._licence(product_id)
        return [catalog_sku_of(sku_resource(licence, locale=locale), product_id=product_id)]

    def catalog_availabilities(self, *, product_id: str, sku_id: str, country: str) -> list[CatalogAvailability]:
        licence = self._licence(product_id)
        if licence.sku_id != sku_id:
            return []
        resource = availability_resource(licence, country=country)
        return [catalog_availability_of(resource, product_id=product_id, sku_id=sku_id)]

    @staticmethod
    def _licence(product_id: str) -> Licence:
        licence = licence_of(product_id)
        if licence is None:
            raise ProvisionerError(
                _("Microsoft's catalogue has no product %(product)s (simulated).") % {"product": product_id},
                code="not_found",
            )
        return licence

    def price_sheet(self, *, market: str, timeline: str) -> bytes:
        self._pause()
        return simulated_price_sheet(market=market, timeline=timeline, today=timezone.localdate())

    @staticmethod
    def _billing_profile(customer_id: str, *, lock: bool = False) -> SimulatedBillingProfile:
        """The stored profile; a customer created before profiles were kept gets one from its name."""
        customer = SimulatedCustomer.objects.filter(customer_id=customer_id).first()
        if customer is None:
            raise ProvisionerError(
                _("Microsoft does not know the customer %(customer)s (simulated).") % {"customer": customer_id},
                code="not_found",
            )
        rows = SimulatedBillingProfile.objects.select_for_update() if lock else SimulatedBillingProfile.objects
        stored, _created = rows.get_or_create(
            customer_id=customer_id,
            defaults={
                "resource": {"id": str(uuid.uuid4()), "companyName": customer.company_name, "defaultAddress": {}},
                "etag": _new_etag(),
            },
        )
        return stored

    @staticmethod
    def _as_billing_profile(stored: SimulatedBillingProfile) -> BillingProfile:
        attributes = {"etag": stored.etag, "objectType": "CustomerBillingProfile"}
        return BillingProfile(resource={**stored.resource, "attributes": attributes}, etag=stored.etag)

    # Licences: carts and orders, with New Commerce's rules (an item sold now, its terms, its quantity limits)

    def cart_create(self, *, customer_id: str, lines: list[CartLine], request_id: str) -> Cart:
        self._pause()
        existing = SimulatedCart.objects.filter(request_id=request_id).first()
        if existing is not None:
            return Cart(id=existing.cart_id, raw={"id": existing.cart_id, "lineItems": existing.lines})
        problems = [problem for line in lines if (problem := _line_problem(line))]
        if problems:
            raise CartRefused(
                _("Microsoft refused the order (simulated): %(problems)s") % {"problems": " ".join(problems)}
            )
        items = [
            {
                "id": number,
                "catalogItemId": line.catalog_item_id,
                "quantity": line.quantity,
                "termDuration": line.term_duration,
                "billingCycle": line.billing_cycle,
            }
            for number, line in enumerate(lines)
        ]
        cart = SimulatedCart.objects.create(
            cart_id=str(uuid.uuid4()), customer_id=customer_id, request_id=request_id, lines=items
        )
        return Cart(id=cart.cart_id, raw={"id": cart.cart_id, "lineItems": items})

    def cart_checkout(self, *, customer_id: str, cart_id: str, request_id: str) -> list[PlacedOrder]:
        self._pause()
        with transaction.atomic():
            cart = SimulatedCart.objects.select_for_update().filter(cart_id=cart_id, customer_id=customer_id).first()
            if cart is None:
                raise CartRefused(_("Microsoft does not know this cart (simulated)."))
            if cart.orders is None:
                cart.orders = [_simulated_order(customer_id, cart.lines)]
                cart.save(update_fields=["orders"])
                for subscription in cart.orders[0]["subscriptions"]:  # the subscriptions the simulation then serves
                    simulated_subscription_add(customer_id=customer_id, resource=subscription)
        return [
            PlacedOrder(id=order["id"], status=order["status"], raw=order, subscriptions=order["subscriptions"])
            for order in cart.orders
        ]


_SOLD = {licence.catalog_item_id: licence for licence in LICENCES}
_TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}


def _line_problem(line: CartLine) -> str:
    licence = _SOLD.get(line.catalog_item_id)
    if licence is None:
        return _("%(item)s: the catalogue item is not valid (code 10001).") % {"item": line.catalog_item_id}
    if (line.term_duration, line.billing_cycle) not in licence.terms:
        return _("%(item)s: this term and billing are not offered (code 10001).") % {"item": line.catalog_item_id}
    if not licence.min_quantity <= line.quantity <= licence.max_quantity:
        return _("%(item)s: the quantity must be between %(min)s and %(max)s.") % {
            "item": line.catalog_item_id,
            "min": licence.min_quantity,
            "max": licence.max_quantity,
        }
    return ""


def _simulated_order(customer_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The order and subscriptions Partner Center makes at checkout: a 7-day window, every seat refundable."""
    now = timezone.now()
    order_id = str(uuid.uuid4())
    subscriptions = []
    for item in lines:
        licence = _SOLD[item["catalogItemId"]]
        end = now + timedelta(days=round(30.44 * _TERM_MONTHS[item["termDuration"]]))
        subscriptions.append(
            {
                "id": str(uuid.uuid4()),
                "offerId": item["catalogItemId"],
                "friendlyName": licence.titles.get("en-US", item["catalogItemId"]),
                "quantity": item["quantity"],
                "creationDate": now.isoformat(),
                "effectiveStartDate": now.isoformat(),
                "commitmentEndDate": end.isoformat(),
                "cancellationAllowedUntilDate": (now + timedelta(days=7)).isoformat(),
                "status": "active",
                "autoRenewEnabled": True,
                "billingCycle": item["billingCycle"],
                "termDuration": item["termDuration"],
                "refundOptions": [{"type": "Full", "expiresAfter": "P1D"}, {"type": "Partial", "expiresAfter": "P7D"}],
                "refundableQuantity": item["quantity"],
                "orderId": order_id,
            }
        )
    return {
        "id": order_id,
        "referenceCustomerId": customer_id,
        "status": "completed",
        "creationDate": now.isoformat(),
        "lineItems": [
            {"lineItemNumber": n, "offerId": s["offerId"], "subscriptionId": s["id"], "quantity": s["quantity"]}
            for n, s in enumerate(subscriptions)
        ],
        "subscriptions": subscriptions,
    }
