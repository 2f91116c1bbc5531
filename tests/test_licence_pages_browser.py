"""The licence pages pass axe-core (WCAG 2.2 AA) at 1280 and 390 px in en, nl and fr, and fit a phone's width:
the catalogue, the cart (also with a refused seat count), the review (also sent unticked), orders, prices,
approvals, and the back-office licence changes."""

import pytest
from django.utils import timezone

from portal.accounts.models import User
from portal.catalog.services import catalog_sync
from portal.licences.models import ChangeRequest
from portal.licences.purchase import purchase_request
from portal.pricing.sheets import month_first, price_sheet_import
from portal.provisioning.models import Tenant
from portal.provisioning.simulated_catalog import LICENCES
from portal.provisioning.simulated_prices import simulated_price_sheet
from tests.test_accessibility import LANGUAGES, WIDTHS, Walk
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Licence-pages-2026"
BASIC = next(licence for licence in LICENCES if licence.product_id == "CFQ7TTC0LH18")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_licence_pages_pass_axe(live_server, browser, submitted, vera, settings, width, language):  # noqa: F811
    settings.STAFF_REQUIRE_MFA = False
    settings.SECURE_SSL_REDIRECT = False
    company = submitted.company
    Tenant.objects.create(request=submitted, company=company, customer_id="c-1", domain="brightwave.onmicrosoft.com")
    catalog_sync(country="BE")
    today = timezone.localdate()
    csv = simulated_price_sheet(market="BE", timeline="current", today=today)
    price_sheet_import(csv, market="BE", timeline="current", month=month_first(today))
    billing = User.objects.create_user("bill@brightwave.example", PASSWORD, language=language)
    billing.companies.add(company, through_defaults={"role": "billing"})
    tess = User.objects.create_user("tess@brightwave.example", PASSWORD, language=language)
    tess.companies.add(company, through_defaults={"role": "technical"})
    User.objects.filter(pk=vera.pk).update(language=language)
    asked = {
        "catalog_item_id": BASIC.catalog_item_id,
        "quantity": 3,
        "term_duration": "P1Y",
        "billing_cycle": "monthly",
    }
    waiting = purchase_request(company=company, by=tess, role="technical", asked=asked, acknowledged_text="12 months")
    ChangeRequest.objects.filter(pk=waiting.pk).update(error="Microsoft refused the order: code 10001.")

    walk = Walk(browser, live_server, width, language)
    page = walk.page
    walk.sign_in_as(billing)
    walk.visit(f"/c/{company.pk}/")
    walk.visit(f"/c/{company.pk}/catalog/")
    form = page.locator("form", has=page.locator(f"input[value='{BASIC.catalog_item_id}']"))
    form.get_by_role("spinbutton").fill("301")
    with page.expect_navigation():
        form.get_by_role("button").click()
    walk.settled()
    expect(page.locator("[data-error-summary]").first).to_be_focused()
    form = page.locator("form", has=page.locator(f"input[value='{BASIC.catalog_item_id}']"))
    form.get_by_role("spinbutton").fill("5")
    with page.expect_navigation():
        form.get_by_role("button").click()
    walk.settled()
    assert page.url.endswith("/cart/")
    page.locator("main").get_by_role("spinbutton").fill("0")
    with page.expect_navigation():
        page.locator("main form button:not([name])").first.click()
    walk.settled()
    assert page.url.endswith("/cart/")
    expect(page.locator("[data-error-summary]")).to_be_focused()
    walk.visit(f"/c/{company.pk}/cart/review/")
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    walk.settled()
    assert page.url.endswith("/cart/review/")
    expect(page.locator("[data-error-summary]")).to_be_focused()
    for path in ("orders/", "prices/", "approvals/"):
        walk.visit(f"/c/{company.pk}/{path}")
    walk.sign_in_as(vera)
    walk.visit("/backoffice/licence-changes/")
    walk.visit("/backoffice/")

    assert not walk.too_wide, f"pages wider than {walk.width} px: {walk.too_wide}"
    assert len(walk.visited) >= 11
    walk.context.close()
