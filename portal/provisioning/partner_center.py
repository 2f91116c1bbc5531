"""The real provisioner: an HTTP client of Microsoft's Partner Center REST API (standard library only).

Settings (all read from django.conf.settings, with these defaults):

PARTNER_CENTER_API_URL         "https://api.partnercenter.microsoft.com"
    Base URL of the Partner Center REST API; calls go to <URL>/v1/...
PARTNER_CENTER_PRICES_URL      "https://api.partner.microsoft.com"
    Base URL of Microsoft's partner pricing API; the licence-based price sheet is
    <URL>/v1.0/sales/pricesheets(Market='BE',PricesheetView='updatedlicensebased')/$value?timeline=...
    (app+user authentication only: set PARTNER_CENTER_REFRESH_TOKEN).
PARTNER_CENTER_TOKEN_URL       "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    Microsoft Entra ID token endpoint; "{tenant}" is replaced by PARTNER_CENTER_TENANT_ID.
PARTNER_CENTER_TENANT_ID       ""   the partner's own Entra tenant (id or domain).
PARTNER_CENTER_CLIENT_ID       ""   application (client) id of the partner's app registration.
PARTNER_CENTER_CLIENT_SECRET   ""   a client secret of that app registration.
PARTNER_CENTER_REFRESH_TOKEN   ""   refresh token of a partner user who consented to the app (app+user
    authentication). When set, access tokens come from the refresh-token grant; when empty, from the
    client-credentials grant (app only). Creating customers works app-only, but Microsoft accepts the
    confirmation of the Microsoft Customer Agreement only with app+user tokens.
PARTNER_CENTER_TIMEOUT         20   seconds to wait for one HTTP answer.
PARTNER_CENTER_MAX_RETRIES     4    further attempts after a passing failure (429, 5xx, timeout, network).
PARTNER_CENTER_MAX_WAIT        60   longest pause, in seconds, before a retry. When Microsoft asks for a
    longer pause (Retry-After), the call stops at once with ProvisionerUnavailable(retry_after=...) so
    the job can be rescheduled instead of holding a worker.

Behaviour:
- One Entra ID access token (scope https://api.partnercenter.microsoft.com/.default) is kept in memory
  until shortly before it expires; a 401 from the API fetches a new one and repeats the call once.
- Every HTTP request carries Authorization, Accept, MS-CorrelationId and MS-RequestId, as Microsoft's
  "Partner Center REST headers" page says: the correlation id is new for every request; the request id
  names one call and is kept only while that call is repeated without an answer from Microsoft (408,
  429, 5xx, timeouts, network errors, a renewed token after a 401), so that Microsoft can deduplicate.
  After an answer, success or refusal, the next call gets a new request id. For the changes
  (create_customer, accept_customer_agreement) the request id derives from the caller's idempotency key
  and the request body: a later job repeating the same attempt repeats the same call; after a refusal the
  caller passes a new key, so Microsoft is asked again instead of replaying its refusal. If Microsoft
  answers that the domain exists, the customer is looked up among the partner's own customers and
  returned (without admin credentials) instead of failing.
- The billing profile (GET / PUT /v1/customers/{id}/profiles/billing) travels whole: an update sends the
  resource as read, with the portal's fields replaced, and If-Match with the ETag it was read with; its
  request id derives from the customer, that ETag and the body. A 412 (the profile changed at Microsoft in
  between) raises PreconditionFailed, so that the caller reads it again and decides again.
- The catalogue (GET /v1/products?country=&targetView=OnlineServices&targetSegment=commercial, each product's
  /skus, each SKU's /availabilities) is read with X-Locale set to the locale asked for (en-US, nl-BE, fr-BE),
  following `links.next` and its MS-ContinuationToken when Microsoft pages a collection.
- 429, 408, 5xx, timeouts and network errors are retried after Retry-After or an exponential back-off;
  when attempts run out ProvisionerUnavailable is raised. A refused token (Entra ID answers e.g.
  invalid_grant for an expired or revoked refresh token) or a 401 / 403 from Partner Center becomes
  ProvisionerNotAuthorized; other refusals become ProvisionerError. All carry a message in plain words
  for staff and a short `code`.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from portal.provisioning.base import (
    CATALOG_SEGMENT,
    CATALOG_TARGET_VIEW,
    PRICE_SHEET_VIEW,
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
    ProvisionerNotAuthorized,
    ProvisionerUnavailable,
    billing_profile_of,
    catalog_availability_of,
    catalog_product_of,
    catalog_sku_of,
)

logger = logging.getLogger(__name__)

API_SCOPE = "https://api.partnercenter.microsoft.com/.default"
MICROSOFT_CUSTOMER_AGREEMENT = "MicrosoftCustomerAgreement"

BACKOFF_BASE = 0.5  # seconds before the first retry without Retry-After; doubles each time
TOKEN_MARGIN = 120  # seconds before expiry at which a cached token is renewed
CUSTOMER_PAGE_SIZE = 100
MAX_PAGES = 100  # a collection longer than this many pages is a loop in Microsoft's links, not a catalogue

_IDS = uuid.UUID("6f1c3a52-2f7e-4c55-9d0b-7d4b1e0c2a61")  # namespace of the ids derived from idempotency keys
_TRANSPORT_ERRORS = (OSError, HTTPException)  # URLError, timeouts, refused and reset connections
_DOMAIN_TAKEN = re.compile(
    r"domain.*(already|in use|exists|taken|not available|unavailable)", re.IGNORECASE | re.DOTALL
)
_ADDRESS = re.compile(r"\b(address|postal ?code|zip|city|region|state)\b", re.IGNORECASE)
_ALREADY = re.compile(r"already|duplicate|exists", re.IGNORECASE)
_REGISTRATION_NUMBER_CODES = {"600049", "600050", "600002"}
_REGISTRATION_NUMBER_NOT_SUPPORTED = "600002"
_ADDRESS_CODES = {"2007", "60071"}
# What Microsoft Entra ID's token errors mean for the portal (RFC 6749 section 5.2 codes; Entra adds AADSTS details).
_TOKEN_REFUSALS = {
    "invalid_client": "the app registration's client secret is wrong or has expired",
    "unauthorized_client": "the app registration is not known in the partner's directory",
    "invalid_scope": "the app registration may not ask for access to Partner Center",
    "interaction_required": "a partner admin must sign in and consent again",
    "consent_required": "a partner admin must consent to the app again",
}


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return {}


def _derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_IDS, "\x1f".join(parts)))


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _retry_after(response: _Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), if the answer has a usable one."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_details(response: _Response) -> tuple[str, str]:
    """Microsoft's error code and description, from {"code", "description"} (or the 429 / Entra shapes)."""
    body = response.json()
    if not isinstance(body, dict):
        return "", ""
    code = body.get("code") or body.get("statusCode") or body.get("error") or ""
    description = body.get("description") or body.get("message") or body.get("error_description") or ""
    description = html.unescape(str(description)).strip()
    if description.startswith("{"):
        try:
            nested = json.loads(description)
        except ValueError:
            nested = None
        if isinstance(nested, dict):
            code = f"{code}/{nested['code']}" if nested.get("code") else code
            description = html.unescape(str(nested.get("reason") or nested.get("description") or description))
    description = " ".join(description.split())
    if len(description) > 400:
        description = description[:397] + "..."
    return str(code), description


def _quoted(description: str) -> str:
    return f": “{description}”" if description else ""


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# Microsoft's cart line error codes, in plain words for staff and customers.
_LINE_ERRORS = {
    "10001": "the catalogue item is not valid (no longer sold, or unknown): refresh the catalogue and choose again",
    "10003": "Microsoft has no inventory left for this item",
    "10012": "the customer must first accept the attestation of this product",
    "10009": "the quantity is outside what Microsoft allows for this item",
}


def _line_error(item: dict[str, Any]) -> str:
    error = item.get("error") or {}
    code = str(error.get("errorCode") or "")
    description = " ".join(str(error.get("errorDescription") or "").split())
    plain = _LINE_ERRORS.get(code, "Microsoft gave no reason in plain words")
    return f"{item.get('catalogItemId', 'a line')}: {plain} (code {code}{_quoted(description)})."


def _checked_url(name: str, value: str) -> str:
    if urllib.parse.urlsplit(value).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, not {value!r}.")
    return value


class PartnerCenterProvisioner:
    """Creates customers (tenants) and records their Microsoft Customer Agreement through Partner Center."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.api_url = _checked_url("PARTNER_CENTER_API_URL", settings.PARTNER_CENTER_API_URL).rstrip("/")
        self.prices_url = _checked_url("PARTNER_CENTER_PRICES_URL", settings.PARTNER_CENTER_PRICES_URL).rstrip("/")
        self.tenant_id = settings.PARTNER_CENTER_TENANT_ID
        token_url = settings.PARTNER_CENTER_TOKEN_URL
        self.token_url = _checked_url(
            "PARTNER_CENTER_TOKEN_URL", token_url.replace("{tenant}", urllib.parse.quote(self.tenant_id))
        )
        self._token_url_needs_tenant = "{tenant}" in token_url
        self.client_id = settings.PARTNER_CENTER_CLIENT_ID
        self.client_secret = settings.PARTNER_CENTER_CLIENT_SECRET
        self._refresh_token = settings.PARTNER_CENTER_REFRESH_TOKEN
        self.timeout = settings.PARTNER_CENTER_TIMEOUT
        self.max_retries = settings.PARTNER_CENTER_MAX_RETRIES
        self.max_wait = settings.PARTNER_CENTER_MAX_WAIT
        self._sleep = sleep
        self._clock = clock
        self._opener = urllib.request.build_opener()
        self._lock = threading.Lock()
        self._access_token = ""
        self._token_renew_at = 0.0
        self._agreement_template_id = ""

    # The Provisioner interface

    def domain_available(self, *, prefix: str) -> bool:
        domain = self._domain(prefix)
        response = self._api("HEAD", f"/v1/domains/{urllib.parse.quote(domain)}")
        if response.status == 200:
            return False
        if response.status == 404:
            return True
        raise self._refusal(response, f"check whether {domain} is free")

    def customer_find(self, *, domain_prefix: str) -> Customer | None:
        return self._find(self._domain(domain_prefix))

    def create_customer(self, *, profile: CustomerProfile, idempotency_key: str) -> Customer:
        domain = self._domain(profile.domain_prefix)
        body = self._customer_body(profile, domain, with_registration_number=bool(profile.registration_number))
        response = self._create(body, idempotency_key)
        if not response.ok and body["companyProfile"].get("organizationRegistrationNumber"):
            code, _ = _error_details(response)
            if code == _REGISTRATION_NUMBER_NOT_SUPPORTED:
                logger.info("Partner Center does not take a registration number for %s; creating without it", domain)
                body = self._customer_body(profile, domain, with_registration_number=False)
                response = self._create(body, idempotency_key)
        if response.ok:
            return self._created_customer(response.json(), domain)
        error = self._creation_refusal(response, domain)
        if error.code == "domain_taken":
            existing = self._find(domain)
            if existing is not None:
                logger.warning(
                    "Partner Center already has %s as our customer %s (an earlier attempt created it); using it",
                    domain,
                    existing.id,
                )
                return existing
        raise error

    def accept_customer_agreement(
        self, *, customer_id: str, signer: AgreementSigner, idempotency_key: str = ""
    ) -> None:
        template_id = self._customer_agreement_template()
        contact = {"firstName": signer.first_name, "lastName": signer.last_name, "email": signer.email}
        if signer.phone:
            contact["phoneNumber"] = signer.phone
        body = {
            "primaryContact": contact,
            "templateId": template_id,
            "dateAgreed": _iso_utc(signer.signed_at),
            "type": MICROSOFT_CUSTOMER_AGREEMENT,
        }
        response = self._api(
            "POST",
            f"/v1/customers/{urllib.parse.quote(customer_id)}/agreements",
            json_body=body,
            request_id=_derived_id("agreement", customer_id, idempotency_key, _digest(body)),
        )
        if response.ok:
            return
        _, description = _error_details(response)
        if response.status == 409 or (response.status == 400 and _ALREADY.search(description)):
            logger.info("Partner Center already has the customer agreement of %s: %s", customer_id, description)
            return
        raise self._agreement_refusal(
            response, f"record that customer {customer_id} accepted the Microsoft Customer Agreement"
        )

    def billing_profile_get(self, *, customer_id: str) -> BillingProfile:
        response = self._api("GET", self._billing_profile_path(customer_id))
        if not response.ok:
            raise self._refusal(response, f"read the billing profile of customer {customer_id}")
        return self._billing_profile(response, customer_id)

    def billing_profile_update(self, *, customer_id: str, profile: dict[str, Any], etag: str) -> BillingProfile:
        # The request id names this update of this version: a repeat after a lost answer is deduplicated, and an
        # update decided again after a 412 (a new ETag) is a new call.
        response = self._api(
            "PUT",
            self._billing_profile_path(customer_id),
            json_body=profile,
            headers={"If-Match": etag},
            request_id=_derived_id("billing-profile", customer_id, etag, _digest(profile)),
        )
        if response.status == 412:
            raise PreconditionFailed(
                _("The billing profile of customer %(customer)s changed at Microsoft since the portal read it.")
                % {"customer": customer_id}
            )
        if not response.ok:
            raise self._refusal(response, f"update the billing profile of customer {customer_id}")
        return self._billing_profile(response, customer_id)

    # Subscriptions (New Commerce)

    @staticmethod
    def _subscriptions_path(customer_id: str, subscription_id: str = "") -> str:
        path = f"/v1/customers/{urllib.parse.quote(customer_id)}/subscriptions"
        return f"{path}/{urllib.parse.quote(subscription_id)}" if subscription_id else path

    def subscriptions_list(self, *, customer_id: str) -> list[dict[str, Any]]:
        response = self._api("GET", self._subscriptions_path(customer_id))
        if not response.ok:
            raise self._refusal(response, f"list the subscriptions of customer {customer_id}")
        body = response.json()
        return [item for item in (body.get("items") or []) if isinstance(item, dict)] if isinstance(body, dict) else []

    def subscription_get(self, *, customer_id: str, subscription_id: str) -> dict[str, Any]:
        response = self._api("GET", self._subscriptions_path(customer_id, subscription_id))
        if not response.ok:
            raise self._refusal(response, f"read the subscription {subscription_id}")
        return response.json()

    def subscription_patch(
        self, *, customer_id: str, subscription_id: str, resource: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        response = self._api(
            "PATCH",
            self._subscriptions_path(customer_id, subscription_id),
            json_body=resource,
            request_id=request_id,
        )
        if not response.ok:
            raise self._refusal(response, f"change the subscription {subscription_id}")
        return response.json()

    def catalog_products(self, *, country: str, locale: str) -> list[CatalogProduct]:
        query = {"country": country, "targetView": CATALOG_TARGET_VIEW, "targetSegment": CATALOG_SEGMENT}
        items = self._collection(
            "/v1/products?" + urllib.parse.urlencode(query),
            locale=locale,
            doing=f"list the products of its catalogue for {country}",
        )
        return [catalog_product_of(item) for item in items]

    def catalog_skus(self, *, product_id: str, country: str, locale: str) -> list[CatalogSku]:
        query = {"country": country, "targetSegment": CATALOG_SEGMENT}
        items = self._collection(
            f"/v1/products/{urllib.parse.quote(product_id)}/skus?" + urllib.parse.urlencode(query),
            locale=locale,
            doing=f"list the SKUs of product {product_id} for {country}",
        )
        return [catalog_sku_of(item, product_id=product_id) for item in items]

    def catalog_availabilities(self, *, product_id: str, sku_id: str, country: str) -> list[CatalogAvailability]:
        query = {"country": country, "targetSegment": CATALOG_SEGMENT}
        path = f"/v1/products/{urllib.parse.quote(product_id)}/skus/{urllib.parse.quote(sku_id)}/availabilities?"
        items = self._collection(
            path + urllib.parse.urlencode(query),
            locale="en-US",
            doing=f"list the availabilities of {product_id}:{sku_id} for {country}",
        )
        return [catalog_availability_of(item, product_id=product_id, sku_id=sku_id) for item in items]

    def price_sheet(self, *, market: str, timeline: str) -> bytes:
        sheet = f"pricesheets(Market='{urllib.parse.quote(market)}',PricesheetView='{PRICE_SHEET_VIEW}')"
        path = f"/v1.0/sales/{sheet}/$value?" + urllib.parse.urlencode({"timeline": timeline})
        response = self._api("GET", path, base=self.prices_url, headers={"Accept": "text/csv"})
        if not response.ok:
            raise self._refusal(response, f"download the {timeline} price sheet of market {market}")
        return response.body

    # Licences: carts and orders

    def cart_create(self, *, customer_id: str, lines: list[CartLine], request_id: str) -> Cart:
        body: dict[str, Any] = {
            "lineItems": [
                {
                    "id": number,
                    "catalogItemId": line.catalog_item_id,
                    "quantity": line.quantity,
                    "billingCycle": line.billing_cycle,
                    "termDuration": line.term_duration,
                    "provisioningContext": {},
                    "customTermEndDate": None,
                    "promotionId": None,
                }
                for number, line in enumerate(lines)
            ]
        }
        response = self._api("POST", f"{self._customer_path(customer_id)}/carts", json_body=body, request_id=request_id)
        if not response.ok:
            raise self._cart_refusal(response, f"create a cart for customer {customer_id}")
        cart = response.json()
        errors = [_line_error(item) for item in cart.get("lineItems") or [] if item.get("error")]
        if errors:
            raise CartRefused("Microsoft refused the order: " + " ".join(errors), code="line_error")
        if not cart.get("id"):
            raise ProvisionerUnavailable("Partner Center answered the cart without its id; asking again later.")
        return Cart(id=str(cart["id"]), raw=cart)

    def cart_checkout(self, *, customer_id: str, cart_id: str, request_id: str) -> list[PlacedOrder]:
        path = f"{self._customer_path(customer_id)}/carts/{urllib.parse.quote(cart_id)}/checkout"
        response = self._api("POST", path, request_id=request_id)
        if not response.ok:
            raise self._cart_refusal(response, f"check out cart {cart_id} of customer {customer_id}")
        result = response.json()
        errors = [
            f"{error.get('description') or 'no reason given'} (code {error.get('code')})"
            for error in result.get("orderErrors") or []
        ]
        if errors:
            raise CartRefused("Microsoft refused the checkout: " + "; ".join(errors) + ".", code="order_error")
        return [
            PlacedOrder(
                id=str(order["id"]),
                status=str(order.get("status") or ""),
                raw=order,
                subscriptions=[self._ordered_subscription(customer_id, line) for line in order.get("lineItems") or []],
            )
            for order in result.get("orders") or []
        ]

    def _ordered_subscription(self, customer_id: str, line: dict[str, Any]) -> dict[str, Any]:
        """The subscription an order line made, as Microsoft reports it (the line alone while it is not listed)."""
        subscription_id = str(line.get("subscriptionId") or "")
        if subscription_id:
            response = self._api(
                "GET", f"{self._customer_path(customer_id)}/subscriptions/{urllib.parse.quote(subscription_id)}"
            )
            if response.ok:
                return response.json()
        return {
            "id": subscription_id,
            "offerId": line.get("offerId", ""),
            "friendlyName": line.get("friendlyName", ""),
            "quantity": line.get("quantity", 0),
            "termDuration": line.get("termDuration", ""),
            "status": "pending",
        }

    @staticmethod
    def _customer_path(customer_id: str) -> str:
        return f"/v1/customers/{urllib.parse.quote(customer_id)}"

    def _cart_refusal(self, response: _Response, doing: str) -> ProvisionerError:
        code, description = _error_details(response)
        if response.status in {400, 409}:
            return CartRefused(
                f"Microsoft refused to {doing} (HTTP {response.status}"
                + (f", code {code}" if code else "")
                + f"){_quoted(description)}.",
            )
        return self._refusal(response, doing)

    # Operations

    def _collection(self, path: str, *, locale: str, doing: str) -> list[dict[str, Any]]:
        """Every item of a catalogue collection, following Microsoft's `links.next` (and its continuation header)."""
        items: list[dict[str, Any]] = []
        headers = {"X-Locale": locale}
        for _page in range(MAX_PAGES):
            response = self._api("GET", path, headers=headers)
            if not response.ok:
                raise self._refusal(response, doing)
            body = response.json()
            if not isinstance(body, dict):
                break
            items.extend(item for item in body.get("items") or [] if isinstance(item, dict))
            following = (body.get("links") or {}).get("next")
            if not isinstance(following, dict) or not following.get("uri"):
                break
            uri = str(following["uri"])
            path = uri if uri.startswith("/v1/") else "/v1" + ("" if uri.startswith("/") else "/") + uri
            headers = {"X-Locale": locale} | {
                str(h.get("key")): str(h.get("value")) for h in following.get("headers") or [] if h.get("key")
            }
        return items

    @staticmethod
    def _billing_profile_path(customer_id: str) -> str:
        return f"/v1/customers/{urllib.parse.quote(customer_id)}/profiles/billing"

    @staticmethod
    def _billing_profile(response: _Response, customer_id: str) -> BillingProfile:
        body = response.json()
        etag = (body.get("attributes") or {}).get("etag") if isinstance(body, dict) else None
        if not etag:
            raise ProvisionerUnavailable(
                _(
                    "Partner Center answered with a billing profile of customer %(customer)s without its ETag; "
                    "trying again later."
                )
                % {"customer": customer_id},
                code="bad_answer",
            )
        return BillingProfile(resource=body, etag=str(etag))

    @staticmethod
    def _domain(prefix: str) -> str:
        return f"{prefix.strip().lower()}.onmicrosoft.com"

    def _create(self, body: dict, idempotency_key: str) -> _Response:
        return self._api(
            "POST",
            "/v1/customers",
            json_body=body,
            request_id=_derived_id("create", idempotency_key, _digest(body)),
        )

    @staticmethod
    def _customer_body(profile: CustomerProfile, domain: str, *, with_registration_number: bool) -> dict:
        company: dict[str, str] = {"domain": domain, "companyName": profile.company_name}
        if with_registration_number and profile.registration_number:
            company["organizationRegistrationNumber"] = profile.registration_number
        return {"companyProfile": company, "billingProfile": billing_profile_of(profile)}

    @staticmethod
    def _created_customer(body: dict, domain: str) -> Customer:
        company = body.get("companyProfile") or {}
        customer_id = body.get("id") or company.get("tenantId")
        if not customer_id:
            raise ProvisionerUnavailable(
                _("Partner Center answered the creation of the customer without its id; checking again later."),
                code="bad_answer",
            )
        actual_domain = company.get("domain") or domain
        credentials = body.get("userCredentials") or {}
        user = credentials.get("userName") or ""
        if user and "@" not in user:
            user = f"{user}@{actual_domain}"
        return Customer(
            id=customer_id, domain=actual_domain, admin_user=user, admin_password=credentials.get("password") or ""
        )

    def _find(self, domain: str) -> Customer | None:
        """Our customer with exactly this domain: the search starts with the full domain, so one page holds it."""
        search = json.dumps({"Field": "Domain", "Value": domain, "Operator": "starts_with"}, separators=(",", ":"))
        path = "/v1/customers?" + urllib.parse.urlencode({"size": CUSTOMER_PAGE_SIZE, "filter": search})
        response = self._api("GET", path)
        if response.status == 404:
            return None
        if not response.ok:
            raise self._refusal(response, f"look up the customer {domain}")
        for item in response.json().get("items") or []:
            company = item.get("companyProfile") or {}
            customer_id = item.get("id") or company.get("tenantId")
            if customer_id and str(company.get("domain", "")).lower() == domain:
                return Customer(id=str(customer_id), domain=domain)
        return None

    def _customer_agreement_template(self) -> str:
        if self._agreement_template_id:
            return self._agreement_template_id
        response = self._api("GET", f"/v1/agreements?agreementType={MICROSOFT_CUSTOMER_AGREEMENT}")
        if not response.ok:
            raise self._agreement_refusal(response, "read the Microsoft Customer Agreement's details")
        items = [
            item
            for item in response.json().get("items") or []
            if (item.get("agreementType") or item.get("type")) == MICROSOFT_CUSTOMER_AGREEMENT
            and item.get("templateId")
        ]
        if not items:
            raise ProvisionerError(
                _(
                    "Partner Center did not name a Microsoft Customer Agreement template; "
                    "try again later or contact Microsoft support."
                ),
                code="agreement_template_missing",
                permanent=False,
            )
        items.sort(key=lambda item: item.get("versionRank") or item.get("VersionRank") or 0)
        self._agreement_template_id = items[0]["templateId"]
        return self._agreement_template_id

    # Errors in plain words

    def _refusal(self, response: _Response, doing: str) -> ProvisionerError:
        """Any operation's refusal: credentials, permissions, something missing, or a plain no."""
        code, description = _error_details(response)
        status = response.status
        detail = f"HTTP {status}" + (f", code {code}" if code else "")
        if status == 401:
            return ProvisionerNotAuthorized(
                f"Partner Center refused our credentials when trying to {doing} ({detail}){_quoted(description)}. "
                "Check the app registration (PARTNER_CENTER_TENANT_ID, PARTNER_CENTER_CLIENT_ID, PARTNER_CENTER_CLIENT_SECRET) "
                "and, for app+user access, PARTNER_CENTER_REFRESH_TOKEN."
            )
        if status == 403:
            return ProvisionerNotAuthorized(
                f"Partner Center refused our permissions: it did not allow the portal to {doing} ({detail}){_quoted(description)}. "
                "Check the app registration's Partner Center permissions and consent, the partner user's roles "
                "(customer creation and agreement confirmation need app+user access) and the GDAP relationship with this customer."
            )
        if status == 404:
            return ProvisionerError(
                f"Partner Center could not find what was needed to {doing} ({detail}){_quoted(description)}.",
                code="not_found",
            )
        return ProvisionerError(f"Microsoft refused to {doing} ({detail}){_quoted(description)}.", code="refused")

    def _creation_refusal(self, response: _Response, domain: str) -> ProvisionerError:
        """Creating a customer: the name is taken, or the address or registration number is refused."""
        code, description = _error_details(response)
        status = response.status
        if status == 409 or _DOMAIN_TAKEN.search(description):
            return ProvisionerError(
                _("%(domain)s is already taken at Microsoft: choose another tenant name.") % {"domain": domain},
                code="domain_taken",
            )
        if code.split("/")[0] in _ADDRESS_CODES or (
            status == 400 and _ADDRESS.search(description) and "email" not in description.lower()
        ):
            return ProvisionerError(
                # Translators: %(details)s is Microsoft's own words, as ': “…”', or nothing.
                _("Microsoft refused the company address%(details)s. Check street, postal code, city and country.")
                % {"details": _quoted(description)},
                code="invalid_address",
            )
        if code in _REGISTRATION_NUMBER_CODES:
            return ProvisionerError(
                # Translators: %(details)s is Microsoft's own words, as ': “…”', or nothing.
                _("Microsoft refused the company's registration number%(details)s. Check the VAT or registry number.")
                % {"details": _quoted(description)},
                code="invalid_registration_number",
            )
        return self._refusal(response, f"create the customer {domain}")

    def _agreement_refusal(self, response: _Response, doing: str) -> ProvisionerError:
        """Recording the Microsoft Customer Agreement: an unknown customer, or a signer Microsoft will not take."""
        code, description = _error_details(response)
        status = response.status
        if status in {400, 404, 409, 412}:
            detail = f"HTTP {status}" + (f", code {code}" if code else "")
            what = (
                "the customer is unknown to Partner Center"
                if status == 404
                else "check the signer's name, e-mail address and phone number"
            )
            return ProvisionerError(
                f"Microsoft refused to {doing} ({detail}){_quoted(description)}: {what}.", code="agreement_refused"
            )
        return self._refusal(response, doing)

    # Tokens

    def _token(self) -> str:
        with self._lock:
            if self._access_token and self._clock() < self._token_renew_at:
                return self._access_token
            self._fetch_token()
            return self._access_token

    def _forget_token(self, token: str) -> None:
        with self._lock:
            if self._access_token == token:
                self._access_token = ""

    def _fetch_token(self) -> None:
        missing = [
            name
            for name, value in (
                ("PARTNER_CENTER_TENANT_ID", self.tenant_id if self._token_url_needs_tenant else "-"),
                ("PARTNER_CENTER_CLIENT_ID", self.client_id),
                ("PARTNER_CENTER_CLIENT_SECRET", self.client_secret),
            )
            if not value
        ]
        if missing:
            raise ProvisionerError(
                _("Partner Center is not configured: set %(settings)s.") % {"settings": ", ".join(missing)},
                code="not_configured",
            )
        form = {"client_id": self.client_id, "client_secret": self.client_secret, "scope": API_SCOPE}
        if self._refresh_token:
            form |= {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        else:
            form |= {"grant_type": "client_credentials"}
        data = urllib.parse.urlencode(form).encode()
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        response = self._retrying("Microsoft Entra ID", lambda: self._send("POST", self.token_url, headers, data))
        body = response.json()
        if not response.ok or not body.get("access_token"):
            raise self._token_refusal(response)
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = TOKEN_MARGIN if lifetime > 2 * TOKEN_MARGIN else lifetime / 2
        self._access_token = body["access_token"]
        self._token_renew_at = self._clock() + lifetime - margin
        if body.get("refresh_token"):
            self._refresh_token = body["refresh_token"]

    def _token_refusal(self, response: _Response) -> ProvisionerNotAuthorized:
        """Entra ID's refusal in plain words: which credential failed, and what staff must do about it."""
        error, description = _error_details(response)
        description = description.split(" Trace ID")[0]
        fix = (
            "Check the app registration: PARTNER_CENTER_TENANT_ID, PARTNER_CENTER_CLIENT_ID and "
            "PARTNER_CENTER_CLIENT_SECRET."
        )
        if error == "invalid_grant" and self._refresh_token:
            what = "the refresh token has expired or was revoked"
            fix = "Have a partner admin consent to the portal's app again and set the new PARTNER_CENTER_REFRESH_TOKEN."
        elif error in _TOKEN_REFUSALS:
            what = _TOKEN_REFUSALS[error]
            if self._refresh_token:
                fix += " For app+user access, check PARTNER_CENTER_REFRESH_TOKEN too."
        else:
            what = "Microsoft Entra ID did not issue an access token"
        return ProvisionerNotAuthorized(
            f"Partner Center refused our credentials: {what}{f' ({error})' if error else ''}. "
            f"Microsoft Entra ID answered HTTP {response.status}{_quoted(description)}. {fix}"
        )

    # HTTP

    def _api(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        request_id: str = "",
        headers: dict[str, str] | None = None,
        base: str = "",
    ) -> _Response:
        """One Partner Center call, repeated on passing failures and once with a new token after a 401.

        The request id stays the same while the call is repeated without an answer, so that Microsoft can
        deduplicate it; every HTTP request gets its own correlation id, as Microsoft asks.
        """
        data = json.dumps(json_body).encode() if json_body is not None else None
        request_id = request_id or str(uuid.uuid4())
        used: list[str] = []
        correlation_ids: list[str] = []

        def attempt() -> _Response:
            token = self._token()
            used.append(token)
            correlation_ids.append(str(uuid.uuid4()))
            sent = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "MS-RequestId": request_id,
                "MS-CorrelationId": correlation_ids[-1],
                "X-Locale": "en-US",
                **(headers or {}),
            }
            if data is not None:
                sent["Content-Type"] = "application/json"
            return self._send(method, (base or self.api_url) + path, sent, data)

        response = self._retrying("Partner Center", attempt)
        if response.status == 401:
            logger.info("Partner Center answered 401 to %s %s; fetching a new token", method, path)
            self._forget_token(used[-1])
            response = self._retrying("Partner Center", attempt)
        if response.status >= 400 and response.status != 404:  # what Microsoft support asks for, beside the time
            logger.info(
                "Partner Center answered HTTP %s to %s %s (MS-RequestId %s, MS-CorrelationId %s)",
                response.status,
                method,
                path,
                request_id,
                correlation_ids[-1],
            )
        return response

    def _retrying(self, service: str, attempt: Callable[[], _Response]) -> _Response:
        tries = 0
        while True:
            try:
                response = attempt()
            except _TRANSPORT_ERRORS as error:
                reason = getattr(error, "reason", None) or error
                problem = f"{service} could not be reached ({reason})"
                code, wanted = "unreachable", None
            else:
                if not (response.status in {408, 429} or response.status >= 500):
                    return response
                _, description = _error_details(response)
                if response.status == 429:
                    problem = f"{service} is throttling the portal's requests (HTTP 429)"
                    code = "throttled"
                else:
                    problem = f"{service} is not answering properly (HTTP {response.status}){_quoted(description)}"
                    code = "unavailable"
                wanted = _retry_after(response)
            tries += 1
            delay = (
                wanted
                if wanted is not None
                else min(self.max_wait, BACKOFF_BASE * 2 ** (tries - 1)) * random.uniform(0.8, 1.2)
            )
            if tries > self.max_retries or delay > self.max_wait:
                logger.warning("%s; giving up after %d attempt(s)", problem, tries)
                raise ProvisionerUnavailable(
                    f"{problem}; gave up after {tries} attempt{'s' if tries > 1 else ''}. Trying again later.",
                    code=code,
                    retry_after=max(1.0, round(delay, 1)),
                )
            logger.info("%s; retrying in %.1f s", problem, delay)
            self._sleep(delay)

    def _send(self, method: str, url: str, headers: dict[str, str], data: bytes | None) -> _Response:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (http/https checked)
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                return _Response(reply.status, reply.headers, reply.read())
        except urllib.error.HTTPError as reply:
            with reply:
                return _Response(reply.code, reply.headers, reply.read())
