"""Buying licences: the cart, the commitment ticked, the change request the worker submits to Partner Center (a
local fake) as a cart then its checkout with one MS-RequestId; approvals; refusals before any call; a crash between
Microsoft's answer and our commit; throttling; read-only members who see no price."""

import json
import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from portal.accounts.models import User
from portal.catalog.models import Availability
from portal.catalog.services import catalog_sync
from portal.companies.models import Company, Membership
from portal.licences.changes import change_run
from portal.licences.models import ChangeRequest, LicenceEvent, Order, Subscription
from portal.pricing.models import PriceRule
from portal.pricing.services import cost_row, money, price_options
from portal.pricing.sheets import month_first, price_sheet_import
from portal.provisioning.models import Tenant
from portal.provisioning.simulated_prices import simulated_price_sheet
from tests.test_provisioning_partner_center import _worker_env, worker_killed_when, worker_once_after_a_kill

ROOT = Path(__file__).resolve().parent.parent
BASIC = "CFQ7TTC0LH18"  # Microsoft 365 Business Basic: 1 to 300 seats
Role = Membership.Role
Status = ChangeRequest.Status


def member(company: Company, email: str, role: Role, language: str = "en") -> User:
    user = User.objects.create_user(email, "Licences-2026-buy", first_name=email.split("@")[0].title())
    User.objects.filter(pk=user.pk).update(language=language)
    user.refresh_from_db()
    Membership.objects.create(user=user, company=company, role=role)
    return user


@pytest.fixture
def shop(submitted, fake_partner_center, smtp_server, worker):
    """Brightwave with its tenant at Microsoft, the catalogue synced and priced, and a member of each role."""
    company = submitted.company
    customer_id = str(uuid.uuid4())
    fake_partner_center.customers.append(
        {"id": customer_id, "companyProfile": {"tenantId": customer_id, "domain": "brightwave.onmicrosoft.com"}}
    )
    Tenant.objects.create(
        request=submitted, company=company, customer_id=customer_id, domain="brightwave.onmicrosoft.com"
    )
    assert catalog_sync(country="BE").status == "succeeded"
    today = timezone.localdate()
    csv = simulated_price_sheet(market="BE", timeline="current", today=today)
    price_sheet_import(csv, market="BE", timeline="current", month=month_first(today))
    people = {
        role: member(company, f"{role}@brightwave.example", Role(role), "nl" if role == "billing" else "en")
        for role in ("admin", "billing", "technical", "readonly")
    }
    return company, customer_id, people


def item_of(product_id: str) -> str:
    return Availability.objects.get(sku__product__product_id=product_id, is_current=True).catalog_item_id


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_post(client: Client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def purchase(item: str, quantity: int = 5, **overrides) -> dict:
    return {
        "kind": "purchase",
        "catalog_item_id": item,
        "quantity": quantity,
        "term_duration": "P1Y",
        "billing_cycle": "monthly",
        "acknowledged": True,
        **overrides,
    }


def carts(fake) -> list:
    return [r for r in fake.api_requests("POST") if r.path.endswith("/carts")]


def checkouts(fake) -> list:
    return [r for r in fake.api_requests("POST") if r.path.endswith("/checkout")]


def test_a_billing_member_buys_5_seats_of_a_year_billed_monthly_through_the_pages(
    shop, fake_partner_center, smtp_server, worker
):
    company, customer_id, people = shop
    client = signed_in(people["billing"])
    item = item_of(BASIC)
    page = client.get(f"/c/{company.pk}/catalog/")
    assert page.status_code == 200 and "Microsoft 365 Business Basic" in page.content.decode()
    prefix = item.replace(":", "-")
    added = client.post(
        f"/c/{company.pk}/cart/add/",
        {f"{prefix}-catalog_item_id": item, f"{prefix}-term": "P1Y:monthly", f"{prefix}-quantity": "5"},
    )
    assert added.status_code == 302
    review = client.get(f"/c/{company.pk}/cart/review/")
    text = review.content.decode()
    assert "12 maanden" in text and "7 dagen" in text  # Bill reads Dutch: the commitment in words
    unticked = client.post(f"/c/{company.pk}/cart/review/", {})
    assert unticked.status_code == 422 and ChangeRequest.objects.count() == 0
    placed = client.post(f"/c/{company.pk}/cart/review/", {"acknowledged": "on"})
    assert placed.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.status == Status.APPROVED and change.acknowledged_text.startswith("12 maanden")
    assert change.amount is not None and change.amount > 0

    worker()

    change.refresh_from_db()
    assert change.status == Status.SUCCEEDED, change.error
    (cart,) = carts(fake_partner_center)
    assert cart.path == f"/v1/customers/{customer_id}/carts"
    (line,) = cart.json()["lineItems"]
    assert (line["catalogItemId"], line["termDuration"], line["billingCycle"], line["quantity"]) == (
        item,
        "P1Y",
        "monthly",
        5,
    )
    (checkout,) = checkouts(fake_partner_center)
    assert checkout.path == f"/v1/customers/{customer_id}/carts/{change.pc_cart_id}/checkout"
    assert {cart.headers["ms-requestid"], checkout.headers["ms-requestid"]} == {str(change.idempotency_key)}
    subscription = Subscription.objects.get()
    assert (subscription.quantity, subscription.term_duration, subscription.billing_cycle) == (5, "P1Y", "monthly")
    assert subscription.pc_id in fake_partner_center.subscriptions[customer_id]
    assert subscription.refundable_quantity == 5 and subscription.cancellation_allowed_until is not None
    assert Order.objects.get().pc_id == change.pc_order_id
    (mail,) = [m for m in smtp_server.to("billing@brightwave.example") if "licenties" in str(m["Subject"])]
    assert "Microsoft 365 Business Basic" in mail.get_body(("plain",)).get_content()
    assert LicenceEvent.objects.filter(company=company, message__startswith="Microsoft placed order").exists()
    orders = client.get(f"/c/{company.pk}/orders/").content.decode()
    assert change.pc_order_id in orders


def test_a_technical_members_purchase_waits_a_billing_member_approves_it_and_a_refused_one_is_never_sent(
    shop, fake_partner_center, smtp_server, worker
):
    company, _customer, people = shop
    technical, billing = signed_in(people["technical"]), signed_in(people["billing"])
    path = f"/api/v1/companies/{company.pk}/change-requests"
    asked = api_post(technical, path, purchase(item_of(BASIC), 3))
    assert asked.status_code == 202 and asked.json()["status"] == "pending_approval", asked.content
    worker()
    assert carts(fake_partner_center) == []
    assert smtp_server.to("admin@brightwave.example") and smtp_server.to("billing@brightwave.example")
    assert api_post(technical, f"{path}/{asked.json()['id']}/approve", {}).status_code == 403
    approved = api_post(billing, f"{path}/{asked.json()['id']}/approve", {})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    worker()
    assert billing.get(f"{path}/{asked.json()['id']}").json()["status"] == "succeeded"
    assert len(carts(fake_partner_center)) == 1

    refused = api_post(technical, path, purchase(item_of(BASIC), 2))
    page = billing.get(f"/c/{company.pk}/approvals/")
    assert f"#{refused.json()['id']}" in page.content.decode()
    number = refused.json()["id"]
    billing.post(f"/c/{company.pk}/approvals/{number}/", {"refuse": "1", f"refuse{number}-reason": "Too many"})
    worker()
    assert ChangeRequest.objects.get(pk=number).status == Status.REJECTED
    assert len(carts(fake_partner_center)) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"catalog_item_id": "CFQ7TTC0XXXX:0001:CFQ7TTC0NOPE"}, "not in the catalogue"),
        ({"quantity": 0}, "At least 1 seats"),
        ({"quantity": 301}, "At most 300 seats"),
        ({"term_duration": "P3Y", "billing_cycle": "annual"}, "not sold with that term"),
        ({"acknowledged": False}, "Tick the box"),
    ],
    ids=["unknown-item", "under-minimum", "over-maximum", "term-not-offered", "not-acknowledged"],
)
def test_bad_purchases_are_refused_before_any_call_to_microsoft(shop, fake_partner_center, body, words):
    company, _customer, people = shop
    answer = api_post(
        signed_in(people["admin"]),
        f"/api/v1/companies/{company.pk}/change-requests",
        purchase(item_of(BASIC), **body),
    )
    assert answer.status_code == 422 and words in answer.json()["detail"], answer.content
    assert ChangeRequest.objects.count() == 0 and carts(fake_partner_center) == []


def test_the_cart_page_refuses_seats_over_the_maximum_with_the_reason(shop):
    company, _customer, people = shop
    client = signed_in(people["admin"])
    item = item_of(BASIC)
    prefix = item.replace(":", "-")
    answer = client.post(
        f"/c/{company.pk}/cart/add/",
        {f"{prefix}-catalog_item_id": item, f"{prefix}-term": "P1Y:monthly", f"{prefix}-quantity": "301"},
    )
    assert answer.status_code == 422 and "At most 300 seats" in answer.content.decode()
    assert client.get(f"/c/{company.pk}/cart/").content.decode().count("Change the seats") == 0


def test_a_microsoft_line_error_fails_the_change_in_plain_words_and_stores_nothing(
    shop, fake_partner_center, worker, vera
):
    company, _customer, people = shop
    item = item_of(BASIC)
    fake_partner_center.rotate_availability(BASIC)  # Microsoft sells it under a new id; the portal has not synced
    asked = api_post(signed_in(people["billing"]), f"/api/v1/companies/{company.pk}/change-requests", purchase(item))
    assert asked.status_code == 202
    worker()
    change = ChangeRequest.objects.get()
    assert change.status == Status.FAILED
    assert "catalogue item is not valid" in change.error and "10001" in change.error
    assert Order.objects.count() == 0 and Subscription.objects.count() == 0 and checkouts(fake_partner_center) == []
    staff = signed_in(vera)
    page = staff.get("/backoffice/licence-changes/?status=failed").content.decode()
    assert "catalogue item is not valid" in page and "Send again" in page


def test_a_429_with_retry_after_is_waited_out(shop, fake_partner_center, worker, settings, time_machine):
    company, customer_id, people = shop
    settings.PARTNER_CENTER_MAX_WAIT = 1  # a longer wait is not held in the worker: the change waits on a timer
    time_machine.move_to(timezone.now(), tick=False)
    fake_partner_center.fail_next(f"/v1/customers/{customer_id}/carts", 429, retry_after=120, method="POST")
    api_post(signed_in(people["billing"]), f"/api/v1/companies/{company.pk}/change-requests", purchase(item_of(BASIC)))
    worker()
    change = ChangeRequest.objects.get()
    assert change.status == Status.SUBMITTING and len(carts(fake_partner_center)) == 1
    time_machine.shift(timedelta(seconds=60))
    worker()
    assert len(carts(fake_partner_center)) == 1  # not before Microsoft said
    time_machine.shift(timedelta(seconds=61))
    worker()
    change.refresh_from_db()
    assert change.status == Status.SUCCEEDED and len(carts(fake_partner_center)) == 2
    assert set(fake_partner_center.headers("MS-RequestId", "POST", f"/v1/customers/{customer_id}/carts")) == {
        str(change.idempotency_key)
    }


def test_a_worker_killed_after_microsoft_accepted_the_checkout_leaves_one_order(shop, fake_partner_center, smtp_server):
    """SIGKILL between the checkout's answer and our commit: the next worker checks out the same cart with the same
    MS-RequestId, and Microsoft holds one order."""
    company, customer_id, people = shop
    env = _worker_env(fake_partner_center, int(settings.MAILERS["default"]["OPTIONS"]["port"]))
    fake_partner_center.hold_answer_after_checkout = threading.Event()
    api_post(signed_in(people["billing"]), f"/api/v1/companies/{company.pk}/change-requests", purchase(item_of(BASIC)))
    worker_killed_when(
        env, fake_partner_center.checked_out, fake_partner_center.hold_answer_after_checkout, "checked the cart out"
    )
    change = ChangeRequest.objects.get()
    assert change.status == Status.SUBMITTING and change.pc_cart_id and Order.objects.count() == 0
    fake_partner_center.hold_answer_after_checkout = None
    worker_once_after_a_kill(env)
    change.refresh_from_db()
    assert change.status == Status.SUCCEEDED, change.error
    assert len(fake_partner_center.orders[customer_id]) == 1 and Order.objects.count() == 1
    assert len(carts(fake_partner_center)) == 1 and len(checkouts(fake_partner_center)) == 2
    assert set(fake_partner_center.headers("MS-RequestId", "POST", f"/v1/customers/{customer_id}/carts")) == {
        str(change.idempotency_key)
    }
    assert Subscription.objects.count() == 1


def test_submitting_again_after_success_stores_nothing_twice(shop, fake_partner_center, worker):
    company, _customer, people = shop
    api_post(signed_in(people["admin"]), f"/api/v1/companies/{company.pk}/change-requests", purchase(item_of(BASIC)))
    worker()
    change = ChangeRequest.objects.get()
    ChangeRequest.objects.filter(pk=change.pk).update(status=Status.SUBMITTING)
    assert change_run(change_id=change.pk) == "succeeded"
    assert Order.objects.count() == 1 and Subscription.objects.count() == 1
    assert len(fake_partner_center.orders[change.company.tenants.get().customer_id]) == 1


def test_read_only_members_see_no_price_in_pages_or_api(shop):
    company, _customer, people = shop
    readonly, billing = signed_in(people["readonly"]), signed_in(people["admin"])
    priced = billing.get(f"/c/{company.pk}/catalog/").content.decode()
    assert "€" in priced
    page = readonly.get(f"/c/{company.pk}/catalog/")
    assert page.status_code == 200 and "€" not in page.content.decode() and "Add to cart" not in page.content.decode()
    products = readonly.get("/api/v1/catalog/products").json()
    options = [o for p in products for s in p["skus"] for o in s["options"]]
    assert options and all(o["unit_price"] is None and o["currency"] is None for o in options)
    priced_options = [
        o for p in billing.get("/api/v1/catalog/products").json() for s in p["skus"] for o in s["options"]
    ]
    assert any(o["unit_price"] for o in priced_options)
    assert readonly.get(f"/c/{company.pk}/cart/").status_code == 403
    asked = api_post(readonly, f"/api/v1/companies/{company.pk}/change-requests", purchase(item_of(BASIC)))
    assert asked.status_code == 403


def test_another_companys_licence_pages_and_changes_answer_404(shop, other_company_user):
    company, _customer, people = shop
    olga = signed_in(other_company_user)
    for path in ("catalog/", "cart/", "orders/", "approvals/"):
        assert olga.get(f"/c/{company.pk}/{path}").status_code == 404
    answer = api_post(olga, f"/api/v1/companies/{company.pk}/change-requests", purchase(item_of(BASIC)))
    assert answer.status_code == 404 and answer.json()["detail"].startswith("No such")


def test_the_catalogue_page_shows_the_four_terms_from_the_sheet_priced_by_the_rules(shop):
    company, _customer, people = shop
    premium = "CFQ7TTC0LCHC"  # Business Premium: a month, a year billed monthly, a year upfront, three years
    options = price_options(premium, "0002", company=company, on=timezone.localdate())
    assert [(o.term_duration, o.billing_cycle) for o in options] == [
        ("P1M", "monthly"),
        ("P1Y", "monthly"),
        ("P1Y", "annual"),
        ("P3Y", "annual"),
    ]
    PriceRule.objects.create(
        scope=PriceRule.Scope.COMPANY, company=company, kind=PriceRule.Kind.COST_PLUS_PCT, value=10
    )
    ruled = price_options(premium, "0002", company=company, on=timezone.localdate())
    page = signed_in(people["admin"]).get(f"/c/{company.pk}/catalog/").content.decode()
    for option in ruled:  # each term's price for the company, by its rule, as the page writes it
        assert money(option.term_price, option.currency, "en") in page
    row = cost_row(premium, "0002", "P1Y", "Annual", on=timezone.localdate())
    assert ruled[2].term_price == (row.unit_price * Decimal("1.10")).quantize(Decimal("0.01"))


def test_a_kind_the_portal_does_not_know_is_refused(shop):
    company, _customer, people = shop
    answer = api_post(
        signed_in(people["admin"]), f"/api/v1/companies/{company.pk}/change-requests", {"kind": "transition"}
    )
    assert answer.status_code == 422 and "Say which kind of change" in answer.json()["detail"]
    assert ChangeRequest.objects.count() == 0
