"""The provisioner: our one interface to Microsoft (Partner Center), picked by the PROVISIONER setting."""

import copy
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class ProvisionerError(Exception):
    """Microsoft refused or failed. `message` is in plain words for staff; `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, code: str = "", permanent: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after


class ProvisionerUnavailable(ProvisionerError):
    """Microsoft could not be asked right now (network, throttling, 5xx): try again later."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None):
        super().__init__(message, code=code, permanent=False, retry_after=retry_after)


class ProvisionerNotAuthorized(ProvisionerError):
    """Microsoft refused the portal's credentials or permissions (Entra ID token refused, HTTP 401 or 403).

    Waiting does not help: someone must renew the consent (a new refresh token), fix the app registration or
    the permissions. Customers are never shown this message; staff are.
    """

    def __init__(self, message: str, *, code: str = "not_authorized"):
        super().__init__(message, code=code, permanent=True)


class PreconditionFailed(ProvisionerError):
    """The billing profile changed at Microsoft since it was read (HTTP 412 on If-Match): read it again."""

    def __init__(self, message: str, *, code: str = "precondition_failed"):
        super().__init__(message, code=code, permanent=False)


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class CustomerProfile:
    """What Microsoft needs to create a customer tenant."""

    domain_prefix: str
    company_name: str
    registration_number: str  # the VAT or company-register number
    email: str  # billing contact (the commercial contact)
    first_name: str
    last_name: str
    phone: str  # E.164
    culture: str  # e.g. "en-US"
    language: str  # e.g. "en"
    address: Address


def billing_profile_of(profile: CustomerProfile) -> dict[str, Any]:
    """The billing profile a customer is created with, in Partner Center's names (billingProfile of the creation)."""
    address = {
        "country": profile.address.country.upper(),
        "city": profile.address.city,
        "addressLine1": profile.address.line1,
        "postalCode": profile.address.postal_code,
        "firstName": profile.first_name,
        "lastName": profile.last_name,
        "phoneNumber": profile.phone,
    }
    if profile.address.line2:
        address["addressLine2"] = profile.address.line2
    return {
        "email": profile.email,
        "culture": profile.culture,
        "language": profile.language,
        "companyName": profile.company_name,
        "defaultAddress": address,
    }


@dataclass(frozen=True)
class Customer:
    id: str  # Microsoft's customer (tenant) id
    domain: str  # <prefix>.onmicrosoft.com
    admin_user: str = ""  # the tenant's first admin, as Microsoft returns it when creating
    admin_password: str = ""


@dataclass(frozen=True)
class AgreementSigner:
    first_name: str
    last_name: str
    email: str
    phone: str
    signed_at: datetime


# The fields of a customer's billing profile that the portal keeps: "defaultAddress.city" is the city inside
# defaultAddress. Everything else in the resource (id, region, state, links, attributes) is Microsoft's own.
BILLING_PROFILE_FIELDS = (
    "companyName",
    "firstName",
    "lastName",
    "email",
    "culture",
    "language",
    "defaultAddress.addressLine1",
    "defaultAddress.addressLine2",
    "defaultAddress.postalCode",
    "defaultAddress.city",
    "defaultAddress.country",
    "defaultAddress.firstName",
    "defaultAddress.lastName",
    "defaultAddress.phoneNumber",
)


@dataclass(frozen=True)
class BillingProfile:
    """A customer's billing profile at Microsoft: the whole resource as Partner Center keeps it, and its ETag.

    An update sends the whole resource back (Microsoft replaces it), so what the portal does not keep travels
    through unchanged.
    """

    resource: dict[str, Any]
    etag: str

    def value(self, field: str) -> str:
        section, _, name = field.rpartition(".")
        holder = self.resource.get(section) if section else self.resource
        found = holder.get(name) if isinstance(holder, dict) else None
        return "" if found is None else str(found)

    def values(self) -> dict[str, str]:
        return {field: self.value(field) for field in BILLING_PROFILE_FIELDS}

    def with_values(self, values: dict[str, str]) -> dict[str, Any]:
        """The whole resource with these fields replaced, for an update."""
        resource = copy.deepcopy(self.resource)
        for field, new in values.items():
            section, _, name = field.rpartition(".")
            holder = resource.setdefault(section, {}) if section else resource
            holder[name] = new
        return resource


# The catalogue's languages: the portal's language code and the X-Locale Partner Center localizes titles by.
CATALOG_LOCALES = {"en": "en-US", "nl": "nl-BE", "fr": "fr-BE"}
CATALOG_TARGET_VIEW = "OnlineServices"  # New Commerce licence-based offers
CATALOG_SEGMENT = "commercial"


@dataclass(frozen=True)
class CatalogProduct:
    """A product of Microsoft's catalogue (GET /v1/products), its title and description in one locale."""

    product_id: str
    title: str
    description: str
    product_type: str
    publisher: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class CatalogSku:
    """A SKU of a product (GET /v1/products/{id}/skus), in one locale."""

    product_id: str
    sku_id: str
    title: str
    description: str
    min_quantity: int
    max_quantity: int
    is_trial: bool
    billing_cycles: tuple[str, ...]
    raw: dict[str, Any]


@dataclass(frozen=True)
class CatalogAvailability:
    """What can be bought of a SKU in a country, and on which terms (GET …/skus/{id}/availabilities).

    `catalog_item_id` ("PRODUCT:SKU:AVAILABILITY") is what a cart line names; Microsoft changes availability ids
    over time, so it is read again, never kept forever. `terms` are Microsoft's own entries (duration,
    billingCycle, cancellationPolicies with their refundOptions).
    """

    product_id: str
    sku_id: str
    availability_id: str
    catalog_item_id: str
    country: str
    segment: str
    currency: str
    is_purchasable: bool
    is_renewable: bool
    terms: tuple[dict[str, Any], ...]
    raw: dict[str, Any]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _count(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def catalog_product_of(resource: dict[str, Any]) -> CatalogProduct:
    """A product as Partner Center's JSON resource describes it."""
    product_type = resource.get("productType") or {}
    return CatalogProduct(
        product_id=_text(resource.get("id")),
        title=_text(resource.get("title")),
        description=_text(resource.get("description")),
        product_type=_text(product_type.get("id") if isinstance(product_type, dict) else product_type),
        publisher=_text(resource.get("publisherName")),
        raw=resource,
    )


def catalog_sku_of(resource: dict[str, Any], *, product_id: str) -> CatalogSku:
    """A SKU as Partner Center's JSON resource describes it."""
    cycles = resource.get("supportedBillingCycles") or []
    return CatalogSku(
        product_id=_text(resource.get("productId")) or product_id,
        sku_id=_text(resource.get("id")),
        title=_text(resource.get("title")),
        description=_text(resource.get("description")),
        min_quantity=_count(resource.get("minimumQuantity"), 1),
        max_quantity=_count(resource.get("maximumQuantity"), 1),
        is_trial=bool(resource.get("isTrial")),
        billing_cycles=tuple(_text(cycle).lower() for cycle in cycles if _text(cycle)),
        raw=resource,
    )


def catalog_availability_of(resource: dict[str, Any], *, product_id: str, sku_id: str) -> CatalogAvailability:
    """An availability as Partner Center's JSON resource describes it."""
    currency = resource.get("defaultCurrency") or {}
    availability_id = _text(resource.get("id"))
    product_id = _text(resource.get("productId")) or product_id
    sku_id = _text(resource.get("skuId")) or sku_id
    return CatalogAvailability(
        product_id=product_id,
        sku_id=sku_id,
        availability_id=availability_id,
        catalog_item_id=_text(resource.get("catalogItemId")) or f"{product_id}:{sku_id}:{availability_id}",
        country=_text(resource.get("country")).upper(),
        segment=_text(resource.get("segment")).lower(),
        currency=_text(currency.get("code") if isinstance(currency, dict) else currency).upper(),
        is_purchasable=bool(resource.get("isPurchasable")),
        is_renewable=bool(resource.get("isRenewable")),
        terms=tuple(term for term in resource.get("terms") or [] if isinstance(term, dict)),
        raw=resource,
    )


PRICE_SHEET_VIEW = "updatedlicensebased"
PRICE_SHEET_TIMELINES = ("current", "future")

# Licences: carts and orders under New Commerce (POST /v1/customers/{id}/carts, then …/carts/{id}/checkout).


@dataclass(frozen=True)
class CartLine:
    """One line of a cart, in Partner Center's terms: what to buy, how many, for which term and billing."""

    catalog_item_id: str  # PRODUCT:SKU:AVAILABILITY
    quantity: int
    term_duration: str  # P1M, P1Y, P3Y
    billing_cycle: str  # monthly, annual, triennial


@dataclass(frozen=True)
class Cart:
    id: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class PlacedOrder:
    """An order Microsoft created at checkout, and the subscriptions it made (Microsoft's resources)."""

    id: str
    status: str
    raw: dict[str, Any]
    subscriptions: list[dict[str, Any]]


class CartRefused(ProvisionerError):
    """Microsoft refused a cart line or the checkout (an unknown item, no inventory, a limit): permanent."""

    def __init__(self, message: str, *, code: str = "cart_refused"):
        super().__init__(message, code=code, permanent=True)


class Provisioner(Protocol):
    def domain_available(self, *, prefix: str) -> bool:
        """Is <prefix>.onmicrosoft.com free at Microsoft?"""
        ...

    def customer_find(self, *, domain_prefix: str) -> Customer | None:
        """The customer that already owns <prefix>.onmicrosoft.com under this partner, if any."""
        ...

    def create_customer(self, *, profile: CustomerProfile, idempotency_key: str) -> Customer:
        """Create the customer and its tenant. Raises ProvisionerError / ProvisionerUnavailable.

        The idempotency key names one attempt of the change: repeating it repeats the same call (Microsoft may
        answer with its first answer); after a refusal the caller passes a new key to be heard again.
        """
        ...

    def accept_customer_agreement(
        self, *, customer_id: str, signer: AgreementSigner, idempotency_key: str = ""
    ) -> None:
        """Record the customer's acceptance of the Microsoft Customer Agreement (already recorded: no error)."""
        ...

    def billing_profile_get(self, *, customer_id: str) -> BillingProfile:
        """The customer's billing profile and its ETag."""
        ...

    def billing_profile_update(self, *, customer_id: str, profile: dict[str, Any], etag: str) -> BillingProfile:
        """Replace the billing profile with `profile` (the whole resource) if its ETag is still `etag`.

        PreconditionFailed when it changed since: read it again and decide again. Returns the profile as stored,
        with its new ETag.
        """
        ...

    # Subscriptions (New Commerce): Microsoft's Subscription resources as Partner Center returns them.

    def subscriptions_list(self, *, customer_id: str) -> list[dict[str, Any]]:
        """Every subscription of the customer."""
        ...

    def subscription_get(self, *, customer_id: str, subscription_id: str) -> dict[str, Any]:
        """One subscription of the customer."""
        ...

    def subscription_patch(
        self, *, customer_id: str, subscription_id: str, resource: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        """Send the whole subscription with the fields changed (Microsoft's PATCH); returns it as stored.

        `request_id` is the change's MS-RequestId, the same on every attempt. A change New Commerce refuses
        (seats beyond refundableQuantity, a cancellation after the window) is a permanent ProvisionerError.
        """

    def catalog_products(self, *, country: str, locale: str) -> list[CatalogProduct]:
        """The licence-based (New Commerce) products offered in `country`, titled in `locale` (e.g. "nl-BE")."""
        ...

    def catalog_skus(self, *, product_id: str, country: str, locale: str) -> list[CatalogSku]:
        """The product's SKUs in `country`, titled in `locale`."""
        ...

    def catalog_availabilities(self, *, product_id: str, sku_id: str, country: str) -> list[CatalogAvailability]:
        """What can be bought of the SKU in `country` now, with its terms and catalogItemId."""
        ...

    def price_sheet(self, *, market: str, timeline: str) -> bytes:
        """Microsoft's licence-based price sheet (view `updatedlicensebased`) of `market` as its CSV file.

        `timeline` is "current" (this month's prices) or "future" (next month's, published about 30 days ahead).
        """

    def cart_create(self, *, customer_id: str, lines: list[CartLine], request_id: str) -> Cart:
        """Create a cart for the customer; the same request id answers the same cart. CartRefused for a line
        Microsoft refuses (its reason in plain words)."""
        ...

    def cart_checkout(self, *, customer_id: str, cart_id: str, request_id: str) -> list[PlacedOrder]:
        """Check the cart out: its orders and their subscriptions; the same request id answers the same orders.
        CartRefused for an order error."""
        ...


PROVISIONERS = {
    "simulated": "portal.provisioning.simulated.SimulatedProvisioner",
    "partner_center": "portal.provisioning.partner_center.PartnerCenterProvisioner",
}


@cache
def _provisioner(name: str) -> Provisioner:
    if name not in PROVISIONERS:
        raise ImproperlyConfigured(f"PROVISIONER={name!r}: use one of {', '.join(PROVISIONERS)}.")
    return import_string(PROVISIONERS[name])()


def get_provisioner() -> Provisioner:
    """The configured provisioner; a configuration it refuses is a ProvisionerError, like any refusal."""
    try:
        return _provisioner(settings.PROVISIONER)
    except ImproperlyConfigured as error:
        raise ProvisionerError(f"The provisioner is not configured: {error}", code="not_configured") from error


def provisioner_reset() -> None:
    """Forget the configured provisioner (after settings change, in tests)."""
    _provisioner.cache_clear()
