"""Brightwave's subscriptions under New Commerce: synced from Partner Center (the local fake), and changed only as
Microsoft allows, driven by its own cancellationAllowedUntilDate and refundableQuantity, with the clock moved."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from portal.accounts.models import User
from portal.companies.models import Membership
from portal.core.models import Timer
from portal.licences.changes import Asked, ChangeRefused, change_request_create
from portal.licences.models import ChangeRequest, Subscription
from portal.licences.subscriptions import (
    SYNC_KEY,
    can_cancel,
    moment_words,
    seats_removable,
    subscription_resync,
    subscriptions_sync,
    term_words,
)
from portal.pricing.sheets import month_first, price_sheet_import
from portal.provisioning.base import ProvisionerError, get_provisioner
from portal.provisioning.models import Tenant
from portal.provisioning.nce import subscription_resource
from portal.provisioning.simulated import simulated_subscription_add
from portal.provisioning.simulated_prices import simulated_price_sheet

Role = Membership.Role
BOUGHT = datetime(2026, 12, 3, 13, 30, tzinfo=UTC)  # the window closes on 10 December 2026 at 14:30 in Brussels
CUSTOMER = "5d8f3c1e-7b1a-4b8e-9a61-b7e2f0c3d4a5"


@pytest.fixture
def tenant(submitted) -> Tenant:
    return Tenant.objects.create(
        request=submitted, company=submitted.company, customer_id=CUSTOMER, domain="brightwave.onmicrosoft.com"
    )


def member(tenant: Tenant, name: str, role: Role) -> Client:
    user = User.objects.create_user(f"{name}@brightwave.example", f"{name.title()}-licences-2026", first_name=name)
    Membership.objects.create(user=user, company=tenant.company, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ada(tenant) -> Client:
    """Ada, Brightwave's administrator."""
    return member(tenant, "ada", Role.ADMIN)


@pytest.fixture
def bought(fake_partner_center, tenant, time_machine) -> Subscription:
    """Five seats of Business Basic bought at BOUGHT, for 12 months billed monthly, synced."""
    time_machine.move_to(BOUGHT, tick=False)
    fake_partner_center.subscription_add(CUSTOMER, quantity=5, termDuration="P1Y", billingCycle="monthly")
    subscriptions_sync(tenant_id=tenant.pk)
    return Subscription.objects.get()


def patches(fake) -> list[dict]:
    return [r.json() for r in fake.api_requests("PATCH")]


def detail(subscription: Subscription) -> str:
    return f"/c/{subscription.company_id}/licences/{subscription.pk}/"


def test_sync_stores_what_microsoft_says_and_the_page_says_it_in_words(bought, ada):
    assert (bought.quantity, bought.term_duration, bought.billing_cycle, bought.refundable_quantity) == (
        5,
        "P1Y",
        "monthly",
        5,
    )
    assert bought.cancellation_allowed_until == BOUGHT + timedelta(days=7)
    page = ada.get(f"/c/{bought.company_id}/licences/").content.decode()
    assert "Microsoft 365 Business Basic" in page and "12 months, billed monthly" in page
    assert "You can remove up to 4 seats until 10 December 2026, 14:30." in page
    assert "2 December 2027" in page  # the renewal date, in Brussels time


def test_dates_and_terms_in_dutch_and_french(bought):
    assert moment_words(bought.cancellation_allowed_until, "nl") == "10 december 2026, 14:30"
    assert moment_words(bought.cancellation_allowed_until, "fr") == "10 décembre 2026, 14:30"
    with translation.override("nl"):
        assert term_words("P1Y", "monthly") == "12 maanden, maandelijks gefactureerd"
    with translation.override("fr"):
        assert term_words("P3Y", "annual") == "36 mois, facturé annuellement"


@pytest.mark.django_db(transaction=True)
def test_seats_are_removed_only_up_to_the_refundable_quantity_inside_the_window(
    bought, ada, fake_partner_center, worker
):
    answer = ada.post(detail(bought), {"action": "remove", "remove-quantity": 6})
    assert answer.status_code == 200
    assert "needs at least 1 seat" in answer.content.decode()
    assert patches(fake_partner_center) == []  # refused before any call to Microsoft

    answer = ada.post(detail(bought), {"action": "remove", "remove-quantity": 3})
    assert answer.status_code == 302
    worker()
    sent = patches(fake_partner_center)
    assert len(sent) == 1 and sent[0]["quantity"] == 2 and sent[0]["id"] == bought.pc_id
    change = ChangeRequest.objects.get()
    assert change.status == "succeeded"
    assert fake_partner_center.api_requests("PATCH")[0].headers["ms-requestid"] == str(change.idempotency_key)
    bought.refresh_from_db()
    assert (bought.quantity, bought.refundable_quantity) == (2, 2)


def test_on_day_8_removal_and_cancel_are_refused_and_what_is_possible_is_offered(
    bought, ada, fake_partner_center, time_machine
):
    time_machine.move_to(BOUGHT + timedelta(days=8), tick=False)
    subscription = subscription_resync(bought)
    assert subscription.refundable_quantity == 0
    now = timezone.now()
    assert seats_removable(subscription, now) == 0 and not can_cancel(subscription, now)

    page = ada.get(detail(subscription)).content.decode()
    assert "The window to remove seats has closed" in page and "Schedule fewer seats at renewal." in page
    assert "Turn off auto-renew" in page

    answer = ada.post(detail(subscription), {"action": "remove", "remove-quantity": 1}).content.decode()
    assert "The window to remove seats has closed: seats can be reduced only at renewal." in answer
    answer = ada.post(detail(subscription), {"action": "cancel", "cancel-confirm": "on"}).content.decode()
    assert "The window to cancel this subscription has closed" in answer
    assert patches(fake_partner_center) == [] and not ChangeRequest.objects.exists()

    user = User.objects.get(email="ada@brightwave.example")
    for kind, payload in ((ChangeRequest.Kind.REMOVE_SEATS, {"quantity": 1}), (ChangeRequest.Kind.CANCEL, {})):
        with pytest.raises(ChangeRefused) as refused:
            change_request_create(
                company=subscription.company,
                by=user,
                role=Role.ADMIN,
                asked=Asked(kind, {"subscription_id": subscription.pk, **payload}, subscription),
            )
        assert refused.value.status == 409 and "Schedule fewer seats at renewal." in refused.value.possible


@pytest.mark.django_db(transaction=True)
def test_auto_renew_off_and_a_scheduled_change_reach_microsoft_and_a_mid_term_increase_clears_it_after_a_warning(
    bought, ada, fake_partner_center, worker
):
    ada.post(detail(bought), {"action": "schedule", "schedule-quantity": 3, "schedule-term": "P1Y/annual"})
    worker()
    scheduled = patches(fake_partner_center)[-1]["scheduledNextTermInstructions"]
    assert scheduled["quantity"] == 3 and scheduled["product"]["termDuration"] == "P1Y"
    assert scheduled["product"]["billingCycle"] == "annual"
    bought.refresh_from_db()
    assert bought.scheduled_next_term["quantity"] == 3

    page = ada.get(detail(bought)).content.decode()
    assert "A change now clears it" in page
    refused = ada.post(detail(bought), {"action": "add", "add-quantity": 2})
    assert refused.status_code == 200 and "I understand that this clears" in refused.content.decode()
    assert len(patches(fake_partner_center)) == 1  # nothing sent before the warning was read

    ada.post(detail(bought), {"action": "add", "add-quantity": 2, "add-clear_scheduled": "on"})
    worker()
    assert patches(fake_partner_center)[-1]["quantity"] == 7
    bought.refresh_from_db()
    assert bought.scheduled_next_term is None and bought.scheduled_cleared_at is not None
    assert "A mid-term change cleared the change scheduled for renewal" in ada.get(detail(bought)).content.decode()
    assert bought.events.filter(message__contains="Microsoft cleared the change scheduled for renewal").exists()

    ada.post(detail(bought), {"action": "auto_renew", "auto_renew": "off"})
    worker()
    assert patches(fake_partner_center)[-1]["autoRenewEnabled"] is False
    bought.refresh_from_db()
    assert bought.auto_renew is False


@pytest.mark.django_db(transaction=True)
def test_seats_added_later_open_their_own_window(bought, ada, fake_partner_center, worker, time_machine):
    time_machine.move_to(BOUGHT + timedelta(days=10), tick=False)
    ada.post(detail(bought), {"action": "add", "add-quantity": 2})
    worker()
    bought.refresh_from_db()
    assert (bought.quantity, bought.refundable_quantity) == (7, 2)
    page = ada.get(detail(bought)).content.decode()
    assert "You can remove up to 2 seats until 20 December 2026, 14:30." in page
    answer = ada.post(detail(bought), {"action": "remove", "remove-quantity": 3}).content.decode()
    assert "Only 2 seats can be removed now" in answer
    ada.post(detail(bought), {"action": "remove", "remove-quantity": 2})
    worker()
    assert patches(fake_partner_center)[-1]["quantity"] == 5


def test_microsoft_refuses_what_new_commerce_does_not_allow(bought, fake_partner_center, time_machine):
    """The fake holds the rules too: the portal's checks are not the only guard."""
    time_machine.move_to(BOUGHT + timedelta(days=8), tick=False)
    provisioner = get_provisioner()
    current = provisioner.subscription_get(customer_id=CUSTOMER, subscription_id=bought.pc_id)
    with pytest.raises(ProvisionerError, match="Quantity decrease of 1 is not allowed"):
        provisioner.subscription_patch(
            customer_id=CUSTOMER, subscription_id=bought.pc_id, resource={**current, "quantity": 4}, request_id="r1"
        )
    with pytest.raises(ProvisionerError, match="Cancellation is not allowed"):
        provisioner.subscription_patch(
            customer_id=CUSTOMER,
            subscription_id=bought.pc_id,
            resource={**current, "status": "deleted"},
            request_id="r2",
        )
    with pytest.raises(ProvisionerError, match="only when autoRenewEnabled"):
        provisioner.subscription_patch(
            customer_id=CUSTOMER,
            subscription_id=bought.pc_id,
            resource={**current, "autoRenewEnabled": False, "scheduledNextTermInstructions": {"quantity": 2}},
            request_id="r3",
        )


def test_the_simulated_provisioner_applies_the_same_rules_in_the_database(tenant, time_machine):
    time_machine.move_to(BOUGHT, tick=False)
    resource = subscription_resource(
        subscription_id="sim-1",
        catalog_item_id="CFQ7TTC0LH18:0001:CFQ7TTC0K5DM",
        title="Basic",
        quantity=5,
        start=BOUGHT,
    )
    simulated_subscription_add(customer_id=CUSTOMER, resource=resource)
    provisioner = get_provisioner()
    changed = provisioner.subscription_patch(
        customer_id=CUSTOMER, subscription_id="sim-1", resource={**resource, "quantity": 3}, request_id="a"
    )
    assert (changed["quantity"], changed["refundableQuantity"]) == (3, 3)
    time_machine.move_to(BOUGHT + timedelta(days=8), tick=False)
    with pytest.raises(ProvisionerError, match="Quantity decrease"):
        provisioner.subscription_patch(
            customer_id=CUSTOMER, subscription_id="sim-1", resource={**changed, "quantity": 2}, request_id="b"
        )
    with pytest.raises(ProvisionerError, match="Cancellation is not allowed"):
        provisioner.subscription_patch(
            customer_id=CUSTOMER, subscription_id="sim-1", resource={**changed, "status": "deleted"}, request_id="c"
        )
    assert subscriptions_sync(tenant_id=tenant.pk) == 1


def test_a_quantity_over_the_skus_maximum_is_refused_before_microsoft(bought, ada, fake_partner_center):
    answer = ada.post(detail(bought), {"action": "add", "add-quantity": 296}).content.decode()
    assert "takes at most 300 seats: you can add up to 295" in answer
    assert patches(fake_partner_center) == []


def test_readonly_sees_seats_and_dates_but_cannot_change_and_others_get_404(bought, tenant, other_company_user):
    rita = member(tenant, "rita", Role.READONLY)
    page = rita.get(detail(bought)).content.decode()
    assert "12 months, billed monthly" in page and "Add seats" not in page and "€" not in page
    assert rita.post(detail(bought), {"action": "remove", "remove-quantity": 1}).status_code == 403
    listed = rita.get(f"/api/v1/companies/{bought.company_id}/subscriptions").json()
    assert set(listed[0]) == {
        "id",
        "catalog_item_id",
        "title",
        "quantity",
        "term_duration",
        "billing_cycle",
        "status",
        "auto_renew",
        "commitment_end",
        "cancellation_allowed_until",
        "refundable_quantity",
    }
    assert listed[0]["refundable_quantity"] == 5 and listed[0]["title"] == "Microsoft 365 Business Basic"
    olga = Client()
    olga.force_login(other_company_user)
    assert olga.get(f"/c/{bought.company_id}/licences/").status_code == 404
    assert olga.get(detail(bought)).status_code == 404
    assert olga.get(f"/api/v1/companies/{bought.company_id}/subscriptions").status_code == 404


def test_the_list_page_keeps_its_query_count_however_many_subscriptions(
    tenant, ada, django_assert_max_num_queries, time_machine
):
    time_machine.move_to(BOUGHT, tick=False)

    def add(count: int) -> None:
        for n in range(count):
            Subscription.objects.create(
                company=tenant.company,
                tenant=tenant,
                pc_id=f"s-{Subscription.objects.count()}-{n}",
                catalog_item_id="CFQ7TTC0LH18:0001:CFQ7TTC0K5DM",
                product_id="CFQ7TTC0LH18",
                sku_id="0001",
                friendly_name=f"Basic {n}",
                quantity=5,
                status="active",
                term_duration="P1Y",
                billing_cycle="monthly",
                commitment_end=BOUGHT + timedelta(days=364),
                cancellation_allowed_until=BOUGHT + timedelta(days=7),
                refundable_quantity=5,
            )

    add(3)
    url = f"/c/{tenant.company_id}/licences/"
    ada.get(url)
    with CaptureQueriesContext(connection) as few:
        ada.get(url)
    add(60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert ada.get(url).content.decode().count("You can remove up to 4 seats") == 50


def test_prices_and_the_prorated_estimate_are_shown_to_those_who_see_prices_only(bought, ada, tenant):
    today = timezone.localdate()
    sheet = simulated_price_sheet(market="BE", timeline="current", today=today)
    price_sheet_import(sheet, market="BE", timeline="current", month=month_first(today))
    page = ada.get(detail(bought)).content.decode()
    assert "Price per seat for the term:" in page and "Estimate:" in page and "€" in page
    rita = member(tenant, "rita", Role.READONLY)
    for url in (detail(bought), f"/c/{bought.company_id}/licences/"):
        assert "€" not in rita.get(url).content.decode()
    assert "price" not in json.dumps(rita.get(f"/api/v1/companies/{bought.company_id}/subscriptions").json())


@pytest.mark.django_db(transaction=True)
def test_the_hourly_sync_reads_every_tenant_and_sets_its_next_run(bought, fake_partner_center, worker, time_machine):
    fake_partner_center.subscription_add(CUSTOMER, quantity=2, friendlyName="Bought in Partner Center")
    listed = len(fake_partner_center.api_requests("GET", f"/v1/customers/{CUSTOMER}/subscriptions"))
    time_machine.move_to(BOUGHT + timedelta(hours=1, minutes=1), tick=False)
    worker()
    assert len(fake_partner_center.api_requests("GET", f"/v1/customers/{CUSTOMER}/subscriptions")) == listed + 1
    assert Subscription.objects.filter(friendly_name="Bought in Partner Center", quantity=2).exists()
    assert Timer.objects.get(key=SYNC_KEY).due_at == BOUGHT + timedelta(hours=2, minutes=1)


def test_the_api_takes_a_removal_inside_the_window_and_refuses_it_on_day_8_with_what_is_possible(
    bought, ada, fake_partner_center, time_machine
):
    path = f"/api/v1/companies/{bought.company_id}/change-requests"
    asked = {"kind": "remove_seats", "subscription_id": bought.pk, "quantity": 2}
    inside = ada.post(path, json.dumps(asked), content_type="application/json")
    assert inside.status_code == 202, inside.content
    assert ChangeRequest.objects.get(pk=inside.json()["id"]).status == ChangeRequest.Status.APPROVED

    time_machine.move_to(BOUGHT + timedelta(days=8), tick=False)
    subscription_resync(bought)
    late = ada.post(path, json.dumps({**asked, "quantity": 1}), content_type="application/json")
    assert late.status_code == 409
    detail_text = late.json()["detail"]
    assert "The window to remove seats has closed" in detail_text and "Schedule fewer seats at renewal." in detail_text
    cancel = ada.post(
        path, json.dumps({"kind": "cancel", "subscription_id": bought.pk}), content_type="application/json"
    )
    assert cancel.status_code == 409 and "The window to cancel this subscription has closed" in cancel.json()["detail"]
    assert ChangeRequest.objects.count() == 1
