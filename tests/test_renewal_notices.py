"""Renewal notices: an annual subscription is announced 30 and 7 days before it renews, a removal window about
to close is said once; a monthly subscription gets none. The daily timer sends them, through the real worker."""

from datetime import UTC, datetime, timedelta

import pytest

from portal.accounts.models import User
from portal.companies.models import Membership
from portal.core.models import Timer
from portal.licences.models import RenewalNotice, Subscription
from portal.licences.subscriptions import NOTICES_KEY, SYNC_KEY, licence_timers_arm
from portal.notifications.models import OutboundEmail
from portal.provisioning.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)
START = datetime(2026, 1, 4, 9, 0, tzinfo=UTC)
RENEWS = datetime(2027, 1, 3, 9, 0, tzinfo=UTC)


def subscription(tenant: Tenant, name: str, term: str, **fields) -> Subscription:
    return Subscription.objects.create(
        company=tenant.company,
        tenant=tenant,
        pc_id=f"sub-{name}",
        catalog_item_id="CFQ7TTC0LFLX:0001:CFQ7TTC0K5DM",
        product_id="CFQ7TTC0LFLX",
        sku_id="0001",
        friendly_name=name,
        quantity=10,
        status="active",
        term_duration=term,
        billing_cycle="monthly",
        effective_start=START,
        commitment_end=RENEWS if term != "P1M" else RENEWS - timedelta(days=2),
        **fields,
    )


@pytest.fixture
def tenant(submitted) -> Tenant:
    tenant = Tenant.objects.create(
        request=submitted, company=submitted.company, customer_id="c-notices", domain="brightwave.onmicrosoft.com"
    )
    for email, role, language in (
        ("ada@brightwave.example", Membership.Role.ADMIN, "nl"),
        ("bill@brightwave.example", Membership.Role.BILLING, "fr"),
        ("rita@brightwave.example", Membership.Role.READONLY, "en"),
    ):
        user = User.objects.create_user(email, "Notices-2026-pass", language=language)
        Membership.objects.create(user=user, company=tenant.company, role=role)
    return tenant


def notices(template: str) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(template=template).order_by("pk"))


def test_an_annual_subscription_gets_the_30_and_7_day_notices_and_a_monthly_one_none(tenant, worker, time_machine):
    annual = subscription(tenant, "Microsoft 365 E3", "P1Y")
    subscription(tenant, "Monthly E3", "P1M")
    time_machine.move_to(RENEWS - timedelta(days=31), tick=False)
    licence_timers_arm()
    assert set(Timer.objects.values_list("key", flat=True)) >= {SYNC_KEY, NOTICES_KEY}
    worker()
    assert notices("licence-renewal") == []  # not yet due: 31 days ahead

    time_machine.move_to(RENEWS - timedelta(days=29, hours=16), tick=False)  # the next 08:00 run has passed
    worker()
    sent = notices("licence-renewal")
    assert sorted(e.to[0] for e in sent) == ["ada@brightwave.example", "bill@brightwave.example"]
    assert {e.language for e in sent} == {"nl", "fr"}
    dutch = next(e for e in sent if e.language == "nl")
    assert "Microsoft 365 E3" in dutch.subject and "3 januari 2027" in dutch.subject
    assert all("Monthly" not in e.subject for e in OutboundEmail.objects.all())

    worker()  # the same day again: nothing twice
    assert len(notices("licence-renewal")) == 2

    time_machine.move_to(RENEWS - timedelta(days=6, hours=16), tick=False)
    worker()
    assert RenewalNotice.objects.filter(subscription=annual).count() == 2
    assert len(notices("licence-renewal")) == 4
    assert set(RenewalNotice.objects.values_list("kind", flat=True)) == {"30d", "7d"}
    assert not RenewalNotice.objects.exclude(subscription=annual).exists()


def test_a_removal_window_about_to_close_is_said_once(tenant, worker, time_machine):
    opened = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    subscription(
        tenant, "Microsoft 365 E5", "P1Y", refundable_quantity=4, cancellation_allowed_until=opened + timedelta(days=7)
    )
    time_machine.move_to(opened + timedelta(days=5, hours=2), tick=False)  # 2 days before it closes
    licence_timers_arm()
    time_machine.move_to(opened + timedelta(days=6, hours=2), tick=False)
    worker()
    closing = notices("licence-window-closing")
    assert len(closing) == 2
    french = OutboundEmail.objects.filter(template="licence-window-closing", language="fr").get()
    assert "8 juin 2026, 09:00" in french.subject
    assert "4" in french.body_text
    worker()
    assert len(notices("licence-window-closing")) == 2
