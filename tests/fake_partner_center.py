"""A local Partner Center and Entra ID token endpoint on 127.0.0.1, answering as Microsoft's documentation says.

Use the `fake_partner_center` fixture: it starts the server on a random port, points the PARTNER_CENTER_*
settings at it, selects PROVISIONER="partner_center", and yields the FakePartnerCenter to inspect and steer:

    fake.customers                  every customer created (dicts as Partner Center returns them)
    fake.agreements                 every agreement confirmation received
    fake.requests                   every request: method, path, query, headers, body
    fake.token_requests             every form posted to the token endpoint
    fake.taken_domains              domains (or bare prefixes) that exist elsewhere at Microsoft
    fake.invalid_address_countries  countries whose addresses Microsoft refuses
    fake.registration_number_countries  if not None, the only countries that take organizationRegistrationNumber
    fake.agreement_duplicate_status a status for a repeated agreement confirmation (None: accepted again, as documented)
    fake.max_page_size              caps the page size of GET /v1/customers (forces paging)
    fake.fail_next(path_prefix, status, body=None, retry_after=None, times=1, method=None,
                   after_processing=False, drop=False)
    fake.expire_tokens()            every access token issued so far stops working
    fake.revoke_tokens()            the partner's consent is gone: every access token stops working and Entra ID
                                    answers every token request 400 {"error": "invalid_grant", ...}
    fake.refuse_api(status)         every Partner Center call answers 401 or 403 (None: back to normal)
    fake.headers(name, ...)         one header of every Partner Center call, in order (MS-RequestId, ...)
    fake.billing_profile(customer_id)   the customer's billing profile as stored (a copy)
    fake.billing_profile_change(customer_id, {"defaultAddress.city": "Brugge", ...})
                                    someone changes the profile in Partner Center: a new ETag
    fake.change_billing_profile_before_next_put(customer_id, {...})
                                    the same change, made just before the next PUT of that profile is handled
                                    (the PUT then carries a stale If-Match and is answered 412)

    fake.catalog                    the catalogue: {(product_id, sku_id): Licence}, seeded with the simulated one
    fake.availability_ids           the current availability id of each (product_id, sku_id)
    fake.catalog_page_size          caps the page size of GET /v1/products (forces paging through links.next)
    fake.rotate_availability(product_id)  Microsoft replaces the SKU's availability: a new id and catalogItemId
                                    for the same product, SKU and terms; returns the new catalogItemId
    fake.withdraw_product(product_id)     the product is no longer offered

The catalogue: GET /v1/products?country=&targetView=OnlineServices[&targetSegment=commercial],
GET /v1/products/{id}/skus?country=, GET /v1/products/{id}/skus/{id}/availabilities?country=; titles and
descriptions in the X-Locale asked for (en-US, nl-BE, fr-BE; anything else: en-US). Without country: 400.
    fake.price_sheets               {"current": bytes, "future": bytes}: the CSV files of the licence-based price
                                    sheet (GET /v1.0/sales/pricesheets(Market='BE',PricesheetView='updatedlicensebased')
                                    /$value?timeline=current|future); by default the simulated provisioner's sheets

Licences (New Commerce): POST /v1/customers/{id}/carts checks each line against the catalogue (10001
CatalogItemIdIsNotValid for an item not sold now, 10009 for a quantity outside the SKU's minimum and maximum, a term
the availability does not offer) and answers the cart with each line's error; POST …/carts/{id}/checkout places
one order per billing cycle and creates its subscriptions (cancellationAllowedUntilDate = creation + 7 days,
refundableQuantity = quantity, commitmentEndDate = start + term). Both answer the same cart or orders again to a
repeated MS-RequestId. GET …/orders[/{id}] and GET …/subscriptions[/{id}] list them.

    fake.carts                      {cart_id: cart}
    fake.orders                     {customer_id: {order_id: order}}
    fake.subscriptions              {customer_id: {subscription_id: subscription}} (Microsoft's fields)
    fake.checked_out                set when a checkout has placed its orders
    fake.hold_answer_after_checkout an Event: the checkout's answer waits for it (the caller may be killed first)

GET /v1/customers/{id}/profiles/billing answers the profile with its ETag in attributes.etag; PUT takes the whole
resource and needs If-Match with the current ETag: without it 400, with another 412; every change gets a new ETag.

Subscriptions (New Commerce, licence-based):
    fake.subscriptions              {customer_id: {subscription_id: Subscription resource as Partner Center returns}}
    fake.subscription_add(customer_id, **fields)   seed one (bought now, unless effectiveStartDate etc. are given)

GET /v1/customers/{id}/subscriptions and GET|PATCH …/subscriptions/{sid} follow Microsoft's New Commerce rules,
against the clock (time-machine moves it): a PATCH sends the whole resource; seats can be removed only up to
refundableQuantity, the seats whose own 7-day window (refundOptions' expiresAfter from when they were added: at
purchase, at renewal or mid-term) is still open; `status: "deleted"` only until cancellationAllowedUntilDate;
scheduledNextTermInstructions only with autoRenewEnabled; any mid-term change (seats, status, auto-renew off)
deletes the scheduled instructions. Each addition keeps its own window (fake.subscription_additions), and
refundableQuantity is the sum of the additions still in theirs; seats removed come off the newest first.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.utils import timezone

from portal.provisioning.base import provisioner_reset
from portal.provisioning.simulated_catalog import (
    LICENCES,
    Licence,
    availability_resource,
    product_resource,
    sku_resource,
)
from portal.provisioning.simulated_prices import simulated_price_sheet

API_SCOPE = "https://api.partnercenter.microsoft.com/.default"
MCA_TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"
MCLA_TEMPLATE_ID = "998b88de-aa99-4388-a42c-1b3517d49490"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Failure:
    path_prefix: str
    status: int
    body: Any
    retry_after: float | None
    times: int
    method: str | None
    after_processing: bool
    drop: bool


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _camel(value: Any) -> Any:
    """Partner Center reads JSON property names case-insensitively: take "CompanyProfile" as "companyProfile"."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _new_etag() -> str:
    return str(secrets.randbits(62))


def _error(status: int, code: str | int, description: str) -> Answer:
    return Answer(status, {"code": code, "description": description, "data": [], "source": "PartnerFD"})


class FakePartnerCenter:
    tenant_id = "fake-partner-tenant"
    client_id = "portal-app-id"
    client_secret = "portal-app-secret"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.customers: list[dict] = []
        self.agreements: list[dict] = []
        self.requests: list[Recorded] = []
        self.token_requests: list[dict[str, str]] = []
        self.taken_domains: set[str] = set()
        self.invalid_address_countries: set[str] = set()
        self.registration_number_countries: set[str] | None = None
        self.agreement_duplicate_status: int | None = None
        self.max_page_size = 500
        self.token_lifetime = 3600
        self.refresh_token = "partner-user-refresh-token"
        self.agreement_templates = [
            {
                "templateId": MCA_TEMPLATE_ID,
                "agreementType": "MicrosoftCustomerAgreement",
                "agreementLink": "https://aka.ms/customeragreement",
                "versionRank": 0,
            },
            {
                "templateId": MCLA_TEMPLATE_ID,
                "agreementType": "MicrosoftCloudAgreement",
                "agreementLink": "https://aka.ms/microsoftcloudagreement",
                "versionRank": 0,
            },
        ]
        self._access_tokens: dict[str, float] = {}
        self._refresh_tokens: set[str] = {self.refresh_token}
        self._failures: list[Failure] = []
        self._answers_by_request_id: dict[str, Answer] = {}
        self._continuations: dict[str, tuple[str, int, int]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._tokens_revoked = False
        self._api_refusal: int | None = None
        self._before_billing_put: dict[str, dict[str, str]] = {}
        self.catalog: dict[tuple[str, str], Licence] = {(c.product_id, c.sku_id): c for c in LICENCES}
        self.availability_ids: dict[tuple[str, str], str] = {key: c.availability_id for key, c in self.catalog.items()}
        self.catalog_page_size = 100
        self._catalog_pages: dict[str, int] = {}
        self.customer_created = threading.Event()
        self.hold_answer_after_create: threading.Event | None = None
        self.price_sheets = {
            timeline: simulated_price_sheet(market="BE", timeline=timeline, today=timezone.localdate())
            for timeline in ("current", "future")
        }

        # Licences: carts, orders and subscriptions
        self.carts: dict[str, dict] = {}
        self.subscription_additions: dict[str, list[dict]] = {}
        self.orders: dict[str, dict[str, dict]] = {}
        self.subscriptions: dict[str, dict[str, dict]] = {}
        self.checked_out = threading.Event()
        self.hold_answer_after_checkout: threading.Event | None = None
        self._licence_answers: dict[tuple[str, ...], Answer] = {}

    # Life cycle

    def start(self) -> FakePartnerCenter:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/{{tenant}}/oauth2/v2.0/token"

    # Steering

    def fail_next(
        self,
        path_prefix: str,
        status: int = 503,
        body: Any = None,
        retry_after: float | None = None,
        times: int = 1,
        method: str | None = None,
        after_processing: bool = False,
        drop: bool = False,
    ) -> None:
        """Answer the next `times` requests whose path starts with path_prefix with `status` (or close the
        connection without answering, with drop=True). With after_processing=True the request is carried out
        first and only its answer is replaced, as when an answer is lost on the way back."""
        with self.lock:
            self._failures.append(
                Failure(path_prefix, status, body, retry_after, times, method, after_processing, drop)
            )

    def expire_tokens(self) -> None:
        with self.lock:
            self._access_tokens = dict.fromkeys(self._access_tokens, 0.0)

    def revoke_tokens(self) -> None:
        with self.lock:
            self._tokens_revoked = True
            self._access_tokens = dict.fromkeys(self._access_tokens, 0.0)

    def refuse_api(self, status: int | None) -> None:
        assert status in (None, 401, 403)
        with self.lock:
            self._api_refusal = status

    def headers(self, name: str, method: str | None = None, path_prefix: str = "/v1/") -> list[str]:
        return [r.headers.get(name.lower(), "") for r in self.api_requests(method, path_prefix)]

    def api_requests(self, method: str | None = None, path_prefix: str = "/v1/") -> list[Recorded]:
        with self.lock:
            return [
                r for r in self.requests if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    def customer(self, domain: str) -> dict | None:
        with self.lock:
            return next((c for c in self.customers if c["companyProfile"]["domain"].lower() == domain.lower()), None)

    def billing_profile(self, customer_id: str) -> dict:
        with self.lock:
            return copy.deepcopy(self._customer_by_id(customer_id)["billingProfile"])

    def billing_profile_change(self, customer_id: str, changes: dict[str, str]) -> None:
        with self.lock:
            profile = self._customer_by_id(customer_id)["billingProfile"]
            for name, value in changes.items():
                section, _, key = name.rpartition(".")
                (profile.setdefault(section, {}) if section else profile)[key] = value
            profile["attributes"]["etag"] = _new_etag()

    def change_billing_profile_before_next_put(self, customer_id: str, changes: dict[str, str]) -> None:
        with self.lock:
            self._before_billing_put[customer_id] = changes

    def rotate_availability(self, product_id: str) -> str:
        """Microsoft replaces the availability of the product's SKU: same terms, a new id. The new catalogItemId."""
        with self.lock:
            key = next(key for key in self.catalog if key[0] == product_id)
            new_id = "CFQ7TTC0" + "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ0123456789") for _ in range(4))
            self.availability_ids[key] = new_id
        return f"{key[0]}:{key[1]}:{new_id}"

    def withdraw_product(self, product_id: str) -> None:
        with self.lock:
            for key in [key for key in self.catalog if key[0] == product_id]:
                del self.catalog[key]

    def _customer_by_id(self, customer_id: str) -> dict:
        """Call with the lock held."""
        return next(c for c in self.customers if c["id"] == customer_id)

    # Dispatch (called by the handler)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        parts = urlsplit(raw_path)
        recorded = Recorded(method, parts.path, parse_qs(parts.query), headers, body)
        with self.lock:
            self.requests.append(recorded)
            failure = self._take_failure(method, parts.path)
        if failure is not None and not failure.after_processing:
            return None if failure.drop else self._failure_answer(failure)
        answer = self._route(recorded)
        if method == "POST" and parts.path.rstrip("/") == "/v1/customers" and answer.status == 201:
            self.customer_created.set()
            if self.hold_answer_after_create is not None:  # the caller may be killed before it hears back
                self.hold_answer_after_create.wait(30)
        if failure is not None:
            return None if failure.drop else self._failure_answer(failure)
        return answer

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self._failures:
            if path.startswith(failure.path_prefix) and failure.method in (None, method):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    @staticmethod
    def _failure_answer(failure: Failure) -> Answer:
        body = failure.body
        if body is None:
            if failure.status == 429:
                wait = int(failure.retry_after or 0)
                body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."}
            elif failure.status >= 500:
                body = {"code": "800003", "description": "Unexpected service error", "data": [], "source": "PartnerFD"}
            else:
                body = {
                    "code": str(failure.status),
                    "description": "Injected failure",
                    "data": [],
                    "source": "PartnerFD",
                }
        headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
        return Answer(failure.status, body, headers)

    def _route(self, request: Recorded) -> Answer:
        path = request.path
        if path == f"/{self.tenant_id}/oauth2/v2.0/token" and request.method == "POST":
            return self._token(request)
        if path.endswith("/oauth2/v2.0/token"):
            return Answer(400, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})
        if path.startswith("/v1.0/sales/"):
            return self._prices(request)
        if not path.startswith("/v1/"):
            return _error(404, "1000", "Not found")
        refused = self._check_bearer(request)
        if refused is not None:
            return refused
        segments = path.strip("/").split("/")[1:]
        match request.method, segments:
            case "HEAD", ["domains", domain]:
                return Answer(200 if self._domain_exists(domain) else 404)
            case "GET", ["customers"]:
                return self._list_customers(request)
            case "POST", ["customers"]:
                return self._idempotent(request, self._create_customer)
            case "GET", ["agreements"]:
                return self._agreement_metadata(request)
            case "POST", ["customers", customer_id, "agreements"]:
                return self._idempotent(request, lambda r: self._confirm_agreement(r, customer_id))
            case "GET", ["customers", customer_id, "profiles", "billing"]:
                return self._get_billing_profile(customer_id)
            case "PUT", ["customers", customer_id, "profiles", "billing"]:
                return self._idempotent(request, lambda r: self._put_billing_profile(r, customer_id))
            case "GET", ["products"]:
                return self._products(request)
            case "GET", ["products", product_id, "skus"]:
                return self._skus(request, product_id)
            case "GET", ["products", product_id, "skus", sku_id, "availabilities"]:
                return self._availabilities(request, product_id, sku_id)
            case _, ["customers", customer_id, "subscriptions", *rest]:
                return self._route_subscriptions(request, customer_id, rest)
            # Licences: carts, orders and subscriptions
            case "POST", ["customers", customer_id, "carts"]:
                return self._per_request(
                    request, ("cart", customer_id), lambda: self._create_cart(request, customer_id)
                )
            case "POST", ["customers", customer_id, "carts", cart_id, "checkout"]:
                return self._checkout(request, customer_id, cart_id)
            case "GET", ["customers", customer_id, "orders"]:
                return self._listed(list(self.orders.get(customer_id, {}).values()))
            case "GET", ["customers", customer_id, "orders", order_id]:
                return self._one(self.orders.get(customer_id, {}).get(order_id), "Order")
        return _error(404, "1000", "Not found")

    # Entra ID

    def _token(self, request: Recorded) -> Answer:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        with self.lock:
            self.token_requests.append(form)
        if form.get("client_id") != self.client_id:
            return Answer(
                400,
                {
                    "error": "unauthorized_client",
                    "error_description": "AADSTS700016: Application not found in the directory.",
                },
            )
        if form.get("client_secret") != self.client_secret:
            return Answer(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: 0000",
                },
            )
        if form.get("scope") != API_SCOPE:
            return Answer(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "AADSTS70011: The provided value for scope is not valid.",
                },
            )
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
        }
        with self.lock:
            if self._tokens_revoked:
                return Answer(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "AADSTS50173: The provided grant has expired due to it being revoked, "
                        "a fresh auth token is needed. Trace ID: 0000",
                        "error_codes": [50173],
                    },
                )
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self._refresh_tokens:
                    return Answer(
                        400,
                        {"error": "invalid_grant", "error_description": "AADSTS70008: The refresh token has expired."},
                    )
                rotated = secrets.token_urlsafe(24)
                self._refresh_tokens.add(rotated)
                answer["refresh_token"] = rotated
            elif form.get("grant_type") != "client_credentials":
                return Answer(
                    400,
                    {"error": "unsupported_grant_type", "error_description": "AADSTS70003: unsupported grant type."},
                )
            token = secrets.token_urlsafe(32)
            self._access_tokens[token] = time.monotonic() + self.token_lifetime
        answer["access_token"] = token
        return Answer(200, answer)

    def _check_bearer(self, request: Recorded) -> Answer | None:
        authorization = request.headers.get("authorization", "")
        challenge = {"WWW-Authenticate": f"OAuth realm=urn:cpsvc:cpid:{self.tenant_id}"}
        with self.lock:
            refusal = self._api_refusal
        if refusal == 403:
            return _error(403, "600006", "The requested action is not allowed for this partner.")
        if refusal == 401:
            answer = _error(401, "400", "Access denied")
            answer.headers = challenge
            return answer
        if not authorization.startswith("Bearer "):
            answer = _error(401, "800001", "Partner Token missing in request context")
            answer.headers = challenge
            return answer
        with self.lock:
            expires = self._access_tokens.get(authorization.removeprefix("Bearer "), 0.0)
        if expires <= time.monotonic():
            answer = _error(401, "400", "Access denied")
            answer.headers = challenge
            return answer
        return None

    # Partner Center

    def _domain_exists(self, domain: str) -> bool:
        domain = domain.lower()
        with self.lock:
            taken = {d.lower() for d in self.taken_domains}
            ours = any(c["companyProfile"]["domain"].lower() == domain for c in self.customers)
        return ours or domain in taken or domain.removesuffix(".onmicrosoft.com") in taken

    def _idempotent(self, request: Recorded, operation) -> Answer:
        """Partner Center documents MS-RequestId as the idempotency key: a repeated id gets the first answer."""
        request_id = request.headers.get("ms-requestid", "")
        with self.lock:
            if request_id and request_id in self._answers_by_request_id:
                return self._answers_by_request_id[request_id]
        answer = operation(request)
        if request_id and answer.status < 500:
            with self.lock:
                self._answers_by_request_id.setdefault(request_id, answer)
        return answer

    @staticmethod
    def _public(customer: dict) -> dict:
        return {k: v for k, v in customer.items() if k != "userCredentials"}

    def _list_customers(self, request: Recorded) -> Answer:
        continuation = request.headers.get("ms-continuationtoken")
        if continuation:
            with self.lock:
                state = self._continuations.pop(continuation, None)
            if state is None:
                return _error(400, "3000", "Invalid continuation token")
            value, offset, size = state
        else:
            raw = request.query.get("filter", [""])[0]
            value = ""
            if raw:
                try:
                    search = json.loads(raw)
                except ValueError:
                    return _error(400, "3000", "Invalid property: filter")
                if search.get("Operator") != "starts_with" or search.get("Field") not in {"Domain", "CompanyName"}:
                    return _error(400, "3000", "Invalid property: filter")
                value = f"{search['Field']}:{str(search.get('Value', '')).lower()}"
            offset = 0
            try:
                size = int(request.query.get("size", ["0"])[0]) or self.max_page_size
            except ValueError:
                return _error(400, "3000", "Invalid property: size")
        size = min(size, self.max_page_size)
        field_name, _, prefix = value.partition(":")
        with self.lock:
            matches = [
                self._public(c)
                for c in self.customers
                if not value
                or str(c["companyProfile"]["domain" if field_name == "Domain" else "companyName"])
                .lower()
                .startswith(prefix)
            ]
            page = matches[offset : offset + size]
            links: dict[str, Any] = {"self": {"uri": "/customers", "method": "GET", "headers": []}}
            if offset + size < len(matches):
                token = secrets.token_urlsafe(12)
                self._continuations[token] = (value, offset + size, size)
                links["next"] = {
                    "uri": f"/customers?size={size}&seek_operation=next",
                    "method": "GET",
                    "headers": [{"key": "MS-ContinuationToken", "value": token}],
                }
        return Answer(
            200, {"totalCount": len(page), "items": page, "links": links, "attributes": {"objectType": "Collection"}}
        )

    def _create_customer(self, request: Recorded) -> Answer:
        try:
            body = _camel(json.loads(request.body))
        except ValueError:
            return _error(400, "800002", "Invalid request input")
        company = body.get("companyProfile") or {}
        billing = body.get("billingProfile") or {}
        address = billing.get("defaultAddress") or {}
        missing = [
            name
            for name, value in (
                ("companyProfile.domain", company.get("domain")),
                ("billingProfile.email", billing.get("email")),
                ("billingProfile.culture", billing.get("culture")),
                ("billingProfile.language", billing.get("language")),
                ("billingProfile.companyName", billing.get("companyName")),
                ("defaultAddress.country", address.get("country")),
                ("defaultAddress.city", address.get("city")),
                ("defaultAddress.addressLine1", address.get("addressLine1")),
                ("defaultAddress.postalCode", address.get("postalCode")),
                ("defaultAddress.firstName", address.get("firstName")),
                ("defaultAddress.lastName", address.get("lastName")),
            )
            if not value
        ]
        if missing:
            return _error(400, "3000", f"Invalid property: {', '.join(missing)} is required")
        domain = str(company["domain"]).lower()
        if not domain.endswith(".onmicrosoft.com") or not domain.removesuffix(".onmicrosoft.com").isalnum():
            return _error(400, "3000", f"Invalid property: companyProfile.domain {domain}")
        country = str(address["country"]).upper()
        number = company.get("organizationRegistrationNumber")
        if (
            number
            and self.registration_number_countries is not None
            and country not in self.registration_number_countries
        ):
            return _error(400, "600002", "Organization registration id value is not supported.")
        if country in self.invalid_address_countries:
            reason = {
                "code": "60071",
                "reason": f"AddressInvalid - Details: Field - 'PostalCode' {address['postalCode']} doesn't match city '{address['city']}'.",
                "object_type": "AddressValidation",
                "resource_status": "Active",
            }
            escaped = json.dumps(reason).replace("'", "&#39;")
            return _error(400, 2007, escaped)
        if self._domain_exists(domain):
            return _error(
                409,
                "DomainAlreadyExists",
                "The domain specified during customer creation is already used by another tenant.",
            )
        customer_id = str(uuid.uuid4())
        customer = {
            "id": customer_id,
            "commerceId": str(uuid.uuid4()),
            "companyProfile": {
                "tenantId": customer_id,
                "domain": domain,
                "companyName": company.get("companyName") or billing["companyName"],
                **({"organizationRegistrationNumber": number} if number else {}),
                "attributes": {"objectType": "CustomerCompanyProfile"},
            },
            "billingProfile": {
                "id": str(uuid.uuid4()),
                "firstName": address["firstName"],
                "lastName": address["lastName"],
                "email": billing["email"],
                "culture": billing["culture"],
                "language": billing["language"],
                "companyName": billing["companyName"],
                "defaultAddress": {"region": "", "state": "", "addressLine2": "", **address},
                "links": {
                    "self": {"uri": f"/customers/{customer_id}/profiles/billing", "method": "GET", "headers": []}
                },
                "attributes": {"etag": _new_etag(), "objectType": "CustomerBillingProfile"},
            },
            "relationshipToPartner": "reseller",
            "userCredentials": {"userName": "admin", "password": secrets.token_urlsafe(12)},
            "attributes": {"objectType": "Customer"},
        }
        with self.lock:
            if any(c["companyProfile"]["domain"] == domain for c in self.customers):
                return _error(
                    409,
                    "DomainAlreadyExists",
                    "The domain specified during customer creation is already used by another tenant.",
                )
            self.customers.append(customer)
        return Answer(201, customer)

    def _get_billing_profile(self, customer_id: str) -> Answer:
        with self.lock:
            customer = next((c for c in self.customers if c["id"] == customer_id), None)
            if customer is None:
                return _error(404, "60003", "Tenant not found")
            return Answer(200, copy.deepcopy(customer["billingProfile"]))

    def _put_billing_profile(self, request: Recorded, customer_id: str) -> Answer:
        with self.lock:
            known = any(c["id"] == customer_id for c in self.customers)
            changes = self._before_billing_put.pop(customer_id, None)
        if not known:
            return _error(404, "60003", "Tenant not found")
        if changes is not None:
            self.billing_profile_change(customer_id, changes)
        if_match = request.headers.get("if-match", "").strip()
        if not if_match:
            return _error(400, "2000", "The If-Match header with the resource's ETag is required for this request.")
        try:
            body = _camel(json.loads(request.body))
        except ValueError:
            return _error(400, "800002", "Invalid request input")
        address = body.get("defaultAddress") or {}
        missing = [
            name
            for name, value in (
                ("email", body.get("email")),
                ("culture", body.get("culture")),
                ("language", body.get("language")),
                ("companyName", body.get("companyName")),
                ("defaultAddress.country", address.get("country")),
                ("defaultAddress.city", address.get("city")),
                ("defaultAddress.addressLine1", address.get("addressLine1")),
                ("defaultAddress.postalCode", address.get("postalCode")),
            )
            if not value
        ]
        if missing:
            return _error(400, "3000", f"Invalid property: {', '.join(missing)} is required")
        with self.lock:
            customer = self._customer_by_id(customer_id)
            current = customer["billingProfile"]
            if if_match.strip('"') != current["attributes"]["etag"]:
                return _error(412, "412", "The resource was changed since it was read: the ETag does not match.")
            stored = {
                **body,
                "id": current["id"],
                "attributes": {"etag": _new_etag(), "objectType": "CustomerBillingProfile"},
            }
            customer["billingProfile"] = stored
            return Answer(200, copy.deepcopy(stored))

    # The catalogue

    @staticmethod
    def _catalog_query(request: Recorded) -> tuple[str, str, Answer | None]:
        """The country and locale a catalogue call asks for, or the 400 Microsoft answers without a country."""
        country = request.query.get("country", [""])[0].strip().upper()
        if not country:
            return "", "", _error(400, "3000", "Invalid property: country is required")
        locale = request.headers.get("x-locale", "en-US")
        return country, locale, None

    @staticmethod
    def _collection(items: list[dict], links: dict | None = None) -> Answer:
        body = {"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}}
        if links:
            body["links"] = links
        return Answer(200, body)

    def _products(self, request: Recorded) -> Answer:
        country, locale, refused = self._catalog_query(request)
        if refused is not None:
            return refused
        view = request.query.get("targetView", [""])[0]
        if not view:
            return _error(400, "3000", "Invalid property: targetView is required")
        segment = request.query.get("targetSegment", ["commercial"])[0]
        with self.lock:
            offered = (
                []
                if view.lower() != "onlineservices" or segment.lower() != "commercial"
                else list(self.catalog.values())
            )
            token = request.headers.get("ms-continuationtoken", "")
            offset = self._catalog_pages.pop(token, 0) if token else 0
            page = offered[offset : offset + self.catalog_page_size]
            links = None
            if offset + self.catalog_page_size < len(offered):
                following = secrets.token_urlsafe(12)
                self._catalog_pages[following] = offset + self.catalog_page_size
                links = {
                    "next": {
                        "uri": f"/products?country={country}&targetView={view}&seek_operation=next",
                        "method": "GET",
                        "headers": [{"key": "MS-ContinuationToken", "value": following}],
                    }
                }
        return self._collection([product_resource(licence, locale=locale) for licence in page], links)

    def _licence(self, product_id: str, sku_id: str | None = None) -> Licence | None:
        with self.lock:
            return next(
                (c for (p, s), c in self.catalog.items() if p == product_id and sku_id in (None, s)),
                None,
            )

    def _skus(self, request: Recorded, product_id: str) -> Answer:
        _country, locale, refused = self._catalog_query(request)
        if refused is not None:
            return refused
        licence = self._licence(product_id)
        if licence is None:
            return _error(404, "400013", f"Product {product_id} was not found.")
        return self._collection([sku_resource(licence, locale=locale)])

    def _availabilities(self, request: Recorded, product_id: str, sku_id: str) -> Answer:
        country, _locale, refused = self._catalog_query(request)
        if refused is not None:
            return refused
        licence = self._licence(product_id, sku_id)
        if licence is None:
            return _error(404, "400018", f"Sku {product_id}:{sku_id} was not found.")
        with self.lock:
            availability_id = self.availability_ids[(product_id, sku_id)]
        return self._collection([availability_resource(licence, country=country, availability_id=availability_id)])

    def _agreement_metadata(self, request: Recorded) -> Answer:
        wanted = request.query.get("agreementType", ["MicrosoftCloudAgreement"])[0]
        items = [t for t in self.agreement_templates if wanted == "*" or t["agreementType"] == wanted]
        return Answer(200, {"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}})

    def _confirm_agreement(self, request: Recorded, customer_id: str) -> Answer:
        with self.lock:
            known = any(c["id"] == customer_id for c in self.customers)
        if not known:
            return _error(404, "60003", "Tenant not found")
        try:
            body = _camel(json.loads(request.body))
        except ValueError:
            return _error(400, "800002", "Invalid request input")
        contact = body.get("primaryContact") or {}
        template = next((t for t in self.agreement_templates if t["templateId"] == body.get("templateId")), None)
        problems = [name for name in ("firstName", "lastName", "email") if not contact.get(name)]
        if template is None or template["agreementType"] != body.get("type"):
            problems.append("templateId")
        try:
            time.strptime(str(body.get("dateAgreed", "")), "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            problems.append("dateAgreed")
        if problems:
            return _error(400, "3000", f"Invalid property: {', '.join(problems)}")
        agreement = {
            "customerId": customer_id,
            "userId": str(uuid.uuid4()),
            "primaryContact": contact,
            "templateId": body["templateId"],
            "dateAgreed": body["dateAgreed"],
            "type": body["type"],
        }
        with self.lock:
            repeated = any(
                a["customerId"] == customer_id and a["templateId"] == body["templateId"] for a in self.agreements
            )
            if repeated and self.agreement_duplicate_status is not None:
                return _error(
                    self.agreement_duplicate_status,
                    "AgreementAlreadyExists",
                    "The customer has already accepted this agreement.",
                )
            self.agreements.append(agreement)
        return Answer(201, {k: v for k, v in agreement.items() if k != "customerId"})

    # Prices (api.partner.microsoft.com): the licence-based price sheet as a CSV file

    _PRICE_SHEET = re.compile(r"/v1\.0/sales/pricesheets\(Market='([A-Za-z]{2})',PricesheetView='(\w+)'\)/\$value")

    def _prices(self, request: Recorded) -> Answer:
        refused = self._check_bearer(request)
        if refused is not None:
            return refused
        found = self._PRICE_SHEET.fullmatch(unquote(request.path))
        if request.method != "GET" or found is None:
            return _error(404, "1000", "Not found")
        market, view = found.groups()
        timeline = request.query.get("timeline", ["current"])[0]
        if market.upper() != "BE" or view != "updatedlicensebased":
            return _error(400, "400", f"Invalid market or view: {market}, {view}")
        with self.lock:
            sheet = self.price_sheets.get(timeline)
        if sheet is None:
            return _error(400, "400", f"Invalid timeline: {timeline}")
        return Answer(200, sheet, {"Content-Type": "text/csv; charset=utf-8"})

    # Licences: carts, checkout, orders and subscriptions

    def _per_request(self, request: Recorded, scope: tuple[str, ...], operation) -> Answer:
        """A repeated MS-RequestId on the same resource gets the first answer (as Partner Center deduplicates)."""
        key = (*scope, request.headers.get("ms-requestid", ""))
        with self.lock:
            if key[-1] and key in self._licence_answers:
                return self._licence_answers[key]
        answer = operation()
        if key[-1] and answer.status < 500:
            with self.lock:
                answer = self._licence_answers.setdefault(key, answer)
        return answer

    def _listed(self, items: list[dict]) -> Answer:
        with self.lock:
            items = copy.deepcopy(items)
        return Answer(200, {"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}})

    def _one(self, item: dict | None, kind: str) -> Answer:
        if item is None:
            return _error(404, "800002", f"{kind} not found")
        with self.lock:
            return Answer(200, copy.deepcopy(item))

    def _sold(self, catalog_item_id: str):
        """The licence a catalogItemId names, if it is the SKU's current availability."""
        product_id, _, rest = catalog_item_id.partition(":")
        sku_id, _, availability_id = rest.partition(":")
        licence = self.catalog.get((product_id, sku_id))
        if licence is None or self.availability_ids.get((product_id, sku_id)) != availability_id:
            return None
        return licence

    def _line_error(self, line: dict) -> dict | None:
        licence = self._sold(str(line.get("catalogItemId") or ""))
        if licence is None:
            return {"errorCode": 10001, "errorDescription": "CatalogItemIdIsNotValid"}
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or not licence.min_quantity <= quantity <= licence.max_quantity:
            return {
                "errorCode": 10009,
                "errorDescription": f"Quantity must be between {licence.min_quantity} and {licence.max_quantity}.",
            }
        if (line.get("termDuration"), line.get("billingCycle")) not in licence.terms:
            return {
                "errorCode": 10001,
                "errorDescription": "CatalogItemIdIsNotValid: term or billing cycle not offered",
            }
        return None

    def _create_cart(self, request: Recorded, customer_id: str) -> Answer:
        with self.lock:
            known = any(c["id"] == customer_id for c in self.customers)
        if not known:
            return _error(404, "60003", "Tenant not found")
        try:
            body = _camel(json.loads(request.body))
        except ValueError:
            return _error(400, "800002", "Invalid request input")
        lines = body.get("lineItems") or []
        if not lines:
            return _error(400, "3000", "Invalid property: lineItems is required")
        now = dt.datetime.now(dt.UTC)
        items = []
        for line in lines:
            item = {
                "id": line.get("id", len(items)),
                "catalogItemId": line.get("catalogItemId"),
                "quantity": line.get("quantity"),
                "billingCycle": line.get("billingCycle"),
                "termDuration": line.get("termDuration"),
                "provisioningContext": line.get("provisioningContext") or {},
                "currencyCode": "EUR",
            }
            error = self._line_error(line)
            if error is not None:
                item["error"] = error
            items.append(item)
        cart = {
            "id": str(uuid.uuid4()),
            "creationTimestamp": _iso(now),
            "lastModifiedTimestamp": _iso(now),
            "expirationTimestamp": _iso(now + dt.timedelta(days=7)),
            "lastModifiedUser": "portal-app-id",
            "lineItems": items,
            "status": "Active",
            "attributes": {"objectType": "Cart"},
        }
        with self.lock:
            self.carts[cart["id"]] = {**cart, "customerId": customer_id}
        return Answer(201, cart)

    def _checkout(self, request: Recorded, customer_id: str, cart_id: str) -> Answer:
        answer = self._per_request(
            request, ("checkout", customer_id, cart_id), lambda: self._place(customer_id, cart_id)
        )
        if answer.status == 200 and self.hold_answer_after_checkout is not None:
            self.checked_out.set()
            self.hold_answer_after_checkout.wait(30)  # the caller may be killed before it hears back
        return answer

    def _place(self, customer_id: str, cart_id: str) -> Answer:
        with self.lock:
            cart = self.carts.get(cart_id)
            if cart is None or cart["customerId"] != customer_id:
                return _error(404, "800002", "Cart not found")
            if cart["status"] != "Active":
                return _error(400, "800025", "The cart has already been checked out.")
            if any(item.get("error") for item in cart["lineItems"]):
                return Answer(
                    200,
                    {
                        "orders": [],
                        "orderErrors": [
                            {"orderGroupId": "0", "code": "800012", "description": "A cart line has an error."}
                        ],
                    },
                )
            cart["status"] = "Ordered"
            now = dt.datetime.now(dt.UTC)
            orders = []
            for cycle in sorted({item["billingCycle"] for item in cart["lineItems"]}):
                order_id = str(uuid.uuid4())
                lines = []
                for number, item in enumerate(i for i in cart["lineItems"] if i["billingCycle"] == cycle):
                    subscription = self._subscription_new(customer_id, order_id, item, now)
                    lines.append(
                        {
                            "lineItemNumber": number,
                            "offerId": item["catalogItemId"],
                            "subscriptionId": subscription["id"],
                            "friendlyName": subscription["friendlyName"],
                            "quantity": item["quantity"],
                            "termDuration": item["termDuration"],
                            "transactionType": "New",
                            "provisioningContext": {},
                            "links": {
                                "subscription": {"uri": f"/customers/{customer_id}/subscriptions/{subscription['id']}"}
                            },
                        }
                    )
                order = {
                    "id": order_id,
                    "alternateId": order_id[:12],
                    "referenceCustomerId": customer_id,
                    "billingCycle": cycle,
                    "transactionType": "UserPurchase",
                    "currencyCode": "EUR",
                    "currencySymbol": "€",
                    "creationDate": _iso(now),
                    "status": "completed",
                    "lineItems": lines,
                    "attributes": {"objectType": "Order"},
                }
                self.orders.setdefault(customer_id, {})[order_id] = order
                orders.append(order)
            return Answer(200, {"orders": copy.deepcopy(orders), "orderErrors": []})

    def _subscription_new(self, customer_id: str, order_id: str, item: dict, now: dt.datetime) -> dict:
        """Call with the lock held: the subscription a checked-out line makes, with New Commerce's windows."""
        licence = self._sold(item["catalogItemId"])
        end = _months_later(now, {"P1M": 1, "P1Y": 12, "P3Y": 36}[item["termDuration"]])
        subscription_id = str(uuid.uuid4())
        subscription = {
            "id": subscription_id,
            "offerId": item["catalogItemId"],
            "offerName": licence.titles.get("en-US", "") if licence else "",
            "friendlyName": licence.titles.get("en-US", "") if licence else item["catalogItemId"],
            "productType": {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"},
            "quantity": item["quantity"],
            "unitType": "Licenses",
            "creationDate": _iso(now),
            "effectiveStartDate": _iso(now),
            "commitmentEndDate": _iso(end - dt.timedelta(days=1)),
            "cancellationAllowedUntilDate": _iso(now + dt.timedelta(days=7)),
            "status": "active",
            "autoRenewEnabled": True,
            "billingType": "license",
            "billingCycle": item["billingCycle"],
            "termDuration": item["termDuration"],
            "refundOptions": [{"type": "Full", "expiresAfter": "P1D"}, {"type": "Partial", "expiresAfter": "P7D"}],
            "refundableQuantity": item["quantity"],
            "isTrial": False,
            "orderId": order_id,
            "publisherName": "Microsoft Corporation",
            "links": {"self": {"uri": f"/customers/{customer_id}/subscriptions/{subscription_id}", "method": "GET"}},
            "attributes": {"etag": _new_etag(), "objectType": "Subscription"},
        }
        self.subscriptions.setdefault(customer_id, {})[subscription_id] = subscription
        return subscription

    # Subscriptions (New Commerce)

    def subscription_add(self, customer_id: str, **fields: Any) -> dict:
        """Seed a subscription as a purchase made now would create it (fields override Microsoft's defaults)."""
        now = _now()
        product, sku = fields.pop("product_id", "CFQ7TTC0LH18"), fields.pop("sku_id", "0001")
        term = fields.get("termDuration", "P1Y")
        start = _parse(fields.get("effectiveStartDate")) or now
        quantity = fields.get("quantity", 5)
        window = fields.pop("window", "P7D")
        subscription = {
            "id": str(uuid.uuid4()),
            "offerId": f"{product}:{sku}:CFQ7TTC0K5DM",
            "offerName": fields.get("friendlyName", "Microsoft 365 Business Basic"),
            "friendlyName": "Microsoft 365 Business Basic",
            "productType": {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"},
            "quantity": quantity,
            "unitType": "Licenses",
            "creationDate": _iso_seconds(start),
            "effectiveStartDate": _iso_seconds(start),
            "commitmentEndDate": _iso_seconds(start + _duration(term) - timedelta(days=1)),
            "status": "active",
            "autoRenewEnabled": True,
            "billingType": "license",
            "billingCycle": "monthly",
            "termDuration": term,
            "refundOptions": [{"type": "Full", "expiresAfter": window}],
            "refundableQuantity": quantity,
            "cancellationAllowedUntilDate": _iso_seconds(start + _duration(window)),
            "isTrial": False,
            "orderId": str(uuid.uuid4()),
            "links": {
                "product": {"uri": f"/products/{product}?country=BE", "method": "GET", "headers": []},
                "sku": {"uri": f"/products/{product}/skus/{sku}?country=BE", "method": "GET", "headers": []},
            },
            "attributes": {"etag": _new_etag(), "objectType": "Subscription"},
            **fields,
        }
        with self.lock:
            self.subscriptions.setdefault(customer_id, {})[subscription["id"]] = subscription
            until = _parse(subscription["cancellationAllowedUntilDate"]) or start
            self.subscription_additions[subscription["id"]] = [{"quantity": quantity, "until": until}]
        return copy.deepcopy(subscription)

    def subscription(self, customer_id: str, subscription_id: str) -> dict:
        with self.lock:
            return copy.deepcopy(self._subscription_now(customer_id, subscription_id))

    def _additions(self, subscription: dict) -> list[dict]:
        """Call with the lock held. A subscription seeded by a checkout gets one addition: all its refundable seats
        until its cancellationAllowedUntilDate."""
        if subscription["id"] not in self.subscription_additions:
            until = _parse(subscription.get("cancellationAllowedUntilDate")) or _now()
            self.subscription_additions[subscription["id"]] = [
                {"quantity": int(subscription.get("refundableQuantity") or 0), "until": until}
            ]
        return self.subscription_additions[subscription["id"]]

    def _subscription_now(self, customer_id: str, subscription_id: str) -> dict:
        """Call with the lock held: the stored subscription with refundableQuantity as of now."""
        subscription = self.subscriptions[customer_id][subscription_id]
        now = _now()
        subscription["refundableQuantity"] = sum(
            a["quantity"] for a in self._additions(subscription) if a["until"] > now
        )
        return subscription

    def _route_subscriptions(self, request: Recorded, customer_id: str, rest: list[str]) -> Answer:
        with self.lock:
            known = any(c["id"] == customer_id for c in self.customers) or customer_id in self.subscriptions
            owned = self.subscriptions.get(customer_id, {})
        if not known:
            return _error(404, "60003", "Tenant not found")
        match request.method, rest:
            case "GET", []:
                with self.lock:
                    items = [copy.deepcopy(self._subscription_now(customer_id, sid)) for sid in owned]
                return Answer(
                    200, {"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}}
                )
            case "GET", [subscription_id] if subscription_id in owned:
                return Answer(200, self.subscription(customer_id, subscription_id))
            case "PATCH", [subscription_id] if subscription_id in owned:
                return self._idempotent(request, lambda r: self._patch_subscription(r, customer_id, subscription_id))
        return _error(404, "800008", "Subscription not found")

    def _patch_subscription(self, request: Recorded, customer_id: str, subscription_id: str) -> Answer:
        try:
            body = _camel(json.loads(request.body))
        except ValueError:
            return _error(400, "800002", "Invalid request input")
        if not isinstance(body, dict) or body.get("id") != subscription_id:
            return _error(400, "800002", "Invalid request input: the body must be the whole subscription")
        with self.lock:
            current = self._subscription_now(customer_id, subscription_id)
            refused = self._nce_refusal(current, body)
            if refused is not None:
                return refused
            self._apply(current, body)
            return Answer(200, copy.deepcopy(current))

    def _nce_refusal(self, current: dict, body: dict) -> Answer | None:
        """Call with the lock held: what Microsoft refuses in a PATCH of a New Commerce subscription."""
        now = _now()
        if current["status"] == "deleted":
            return _error(400, "800036", "The subscription is cancelled: it cannot be changed.")
        quantity = int(body.get("quantity", current["quantity"]))
        if quantity < 1:
            return _error(400, "800002", "Invalid request input: quantity must be at least 1")
        decrease = current["quantity"] - quantity
        if decrease > current["refundableQuantity"]:
            return _error(
                400,
                "800036",
                f"Quantity decrease of {decrease} is not allowed: only {current['refundableQuantity']} licences "
                "were added within their cancellation window (refundableQuantity). Seats can be reduced at renewal.",
            )
        until = _parse(current.get("cancellationAllowedUntilDate"))
        if body.get("status") == "deleted" and current["status"] != "deleted" and (until is None or now > until):
            return _error(
                400,
                "800036",
                "Cancellation is not allowed: the cancellation window of this subscription "
                f"ended at {current.get('cancellationAllowedUntilDate')}.",
            )
        if body.get("scheduledNextTermInstructions") and not body.get("autoRenewEnabled", current["autoRenewEnabled"]):
            return _error(400, "800002", "scheduledNextTermInstructions can be set only when autoRenewEnabled is true.")
        return None

    def _apply(self, current: dict, body: dict) -> None:
        """Call with the lock held: apply an allowed PATCH; a mid-term change deletes the scheduled instructions."""
        now = _now()
        quantity = int(body.get("quantity", current["quantity"]))
        additions = self._additions(current)
        if quantity > current["quantity"]:
            window = _duration((current.get("refundOptions") or [{}])[0].get("expiresAfter") or "P7D")
            additions.append({"quantity": quantity - current["quantity"], "until": now + window})
        removing = current["quantity"] - quantity
        for addition in reversed(additions):
            if removing <= 0:
                break
            if addition["until"] > now:
                taken = min(addition["quantity"], removing)
                addition["quantity"] -= taken
                removing -= taken
        auto_renew = bool(body.get("autoRenewEnabled", current["autoRenewEnabled"]))
        status = body.get("status", current["status"])
        mid_term = quantity != current["quantity"] or status != current["status"] or not auto_renew
        scheduled = body.get("scheduledNextTermInstructions")
        if mid_term:
            scheduled = None
        if body.get("friendlyName"):
            current["friendlyName"] = body["friendlyName"]
        current.update(quantity=quantity, status=status, autoRenewEnabled=auto_renew)
        current["scheduledNextTermInstructions"] = scheduled
        if not scheduled:
            current.pop("scheduledNextTermInstructions")
        current["attributes"]["etag"] = _new_etag()
        current["refundableQuantity"] = sum(a["quantity"] for a in additions if a["until"] > now)


def _months_later(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day `months` later (the month's last day when it has no such day), as a term ends."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return moment.replace(year=year, month=month, day=min(moment.day, (following - dt.timedelta(days=1)).day))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?)?$")


def _duration(value: str) -> timedelta:
    """An ISO-8601 duration as Microsoft writes terms and refund windows (P1M, P1Y, P3Y, P7D, PT168H)."""
    found = _DURATION.match(value)
    if not found:
        return timedelta(days=7)
    years, months, days, hours = (int(part or 0) for part in found.groups())
    return timedelta(days=365 * years + 30 * months + days, hours=hours)


class _Handler(BaseHTTPRequestHandler):
    fake: FakePartnerCenter

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.fake.handle(self.command, self.path, headers, body)
        if answer is None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        raw = isinstance(answer.body, bytes)  # a file (the price sheet), sent as it is
        payload = answer.body if raw else json.dumps(answer.body).encode() if answer.body is not None else b""
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if payload and not raw:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name in ("MS-RequestId", "MS-CorrelationId"):
            if self.headers.get(name):
                self.send_header(name, self.headers[name])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_partner_center(settings, monkeypatch):
    """A running fake Partner Center; the portal's provisioner is partner_center, pointed at it."""
    fake = FakePartnerCenter().start()
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    settings.PROVISIONER = "partner_center"
    settings.PARTNER_CENTER_API_URL = fake.url
    settings.PARTNER_CENTER_PRICES_URL = fake.url
    settings.PARTNER_CENTER_TOKEN_URL = fake.token_url
    settings.PARTNER_CENTER_TENANT_ID = fake.tenant_id
    settings.PARTNER_CENTER_CLIENT_ID = fake.client_id
    settings.PARTNER_CENTER_CLIENT_SECRET = fake.client_secret
    settings.PARTNER_CENTER_REFRESH_TOKEN = ""
    settings.PARTNER_CENTER_TIMEOUT = 5
    provisioner_reset()
    yield fake
    fake.stop()
    provisioner_reset()
