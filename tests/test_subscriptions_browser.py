"""The licences pages in a real browser: axe-clean at 1280 and 390 px in English, Dutch and French, nothing scrolls
sideways; a refused removal is summarised and focused, an allowed one is sent; read-only members see no actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.accounts.models import User
from portal.licences.models import ChangeRequest, Subscription
from portal.licences.subscriptions import subscriptions_sync
from portal.provisioning.models import Tenant
from portal.provisioning.nce import subscription_resource
from portal.provisioning.simulated import simulated_subscription_add
from tests.test_accessibility import LANGUAGES, LONG_NAME, WIDTHS, Walk
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REMOVE = {"en": "Remove seats", "nl": "Licenties verwijderen", "fr": "Retirer des licences"}
AT_LEAST = {"en": "needs at least 1 seat", "nl": "vraagt minstens 1 licentie", "fr": "demande au moins 1 licence"}


def licences(submitted) -> tuple[Subscription, Subscription]:
    """Brightwave's two subscriptions at the simulated Microsoft: one bought now (its window open, a change
    scheduled for renewal), one bought 40 days ago (its window closed)."""
    tenant = Tenant.objects.create(
        request=submitted, company=submitted.company, customer_id="browser-c1", domain="brightwave.onmicrosoft.com"
    )
    now = timezone.now()
    fresh = subscription_resource(
        subscription_id="fresh",
        catalog_item_id="CFQ7TTC0LFLX:0001:CFQ7TTC0K5DM",
        title="Microsoft 365 E3 with a rather long name for a narrow screen",
        quantity=5,
        start=now,
    )
    fresh["scheduledNextTermInstructions"] = {
        "product": {"productId": "CFQ7TTC0LFLX", "skuId": "0001", "termDuration": "P1Y", "billingCycle": "annual"},
        "quantity": 3,
    }
    old = subscription_resource(
        subscription_id="old",
        catalog_item_id="CFQ7TTC0LH18:0001:CFQ7TTC0K5DM",
        title="Microsoft 365 Business Basic",
        quantity=12,
        term_duration="P3Y",
        billing_cycle="annual",
        start=now - timedelta(days=40),
    )
    for resource in (fresh, old):
        simulated_subscription_add(customer_id=tenant.customer_id, resource=resource)
    subscriptions_sync(tenant_id=tenant.pk)
    Subscription.objects.bulk_create(  # enough for a second page
        Subscription(
            company=tenant.company,
            tenant=tenant,
            pc_id=f"more-{n}",
            catalog_item_id="CFQ7TTC0LHSF:0001:CFQ7TTC0K5DM",
            product_id="CFQ7TTC0LHSF",
            sku_id="0001",
            friendly_name=f"Power BI Pro {n:02d}",
            quantity=3,
            status="active",
            term_duration="P1M",
            billing_cycle="monthly",
        )
        for n in range(50)
    )
    return Subscription.objects.get(pc_id="fresh"), Subscription.objects.get(pc_id="old")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_licences_pages_in_every_language_and_width(live_server, browser, submitted, settings, width, language):  # noqa: F811
    settings.SECURE_SSL_REDIRECT = False
    settings.PROVISIONER = "simulated"
    fresh, old = licences(submitted)
    company = fresh.company
    company.legal_name = LONG_NAME
    company.save(update_fields=["legal_name"])
    ada = User.objects.create_user("ada.with.a.long.address@brightwave-analytics.example", None, language=language)
    ada.companies.add(company, through_defaults={"role": "admin"})
    rita = User.objects.create_user("rita@brightwave.example", None, language=language)
    rita.companies.add(company, through_defaults={"role": "readonly"})

    walk = Walk(browser, live_server, width, language)
    walk.sign_in_as(ada)
    walk.visit(f"/c/{company.pk}/licences/")
    walk.visit(f"/c/{company.pk}/licences/?page=2")
    walk.visit(f"/c/{company.pk}/licences/{old.pk}/")  # the window closed: what is still possible
    walk.visit(f"/c/{company.pk}/licences/{fresh.pk}/")
    walk.page.locator("#id_remove-quantity").fill("5")
    walk.page.locator("#id_remove-clear_scheduled").check()
    walk.submit(REMOVE[language])  # the error summary takes the focus
    expect(walk.page.locator("[data-error-summary]")).to_contain_text(AT_LEAST[language])
    walk.page.locator("#id_remove-quantity").fill("2")
    walk.page.locator("#id_remove-clear_scheduled").check()
    with walk.page.expect_navigation():
        walk.page.get_by_role("button", name=REMOVE[language]).first.click()
    walk.settled()
    expect(walk.page.get_by_role("status")).to_be_visible()
    assert ChangeRequest.objects.get().payload["quantity"] == 2

    walk.sign_in_as(rita)
    walk.visit(f"/c/{company.pk}/licences/{fresh.pk}/")
    expect(walk.page.get_by_role("button", name=REMOVE[language])).to_have_count(0)
    assert walk.too_wide == {}, f"scrolls sideways at {width}: {walk.too_wide}"
    walk.context.close()
