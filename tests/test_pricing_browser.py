"""The staff's prices pages in Chromium: axe-clean (WCAG 2.2 AA) at 1280 and 390 px in English, Dutch and French,
nothing scrolling sideways, and a refused rule's error summary focused and leading to its field."""

from datetime import date

import pytest
from django.conf import settings as django_settings
from django.test import Client

from portal.accounts.models import User
from portal.companies.models import Company
from portal.pricing.models import PriceRule
from portal.pricing.sheets import month_first, price_sheet_import
from portal.provisioning.simulated_prices import simulated_price_sheet
from tests.browsers import active_gate
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
LANGUAGES = {"en": "en-GB", "nl": "nl-BE", "fr": "fr-BE"}
TODAY = date.today()


def staff_context(browser, live_server, width: str, language: str):  # noqa: F811
    vera = User.objects.create_user("vera@reseller.example", "Vera-validates-2026", is_staff=True, language=language)
    client = Client()
    client.force_login(vera)
    viewport_width, height = WIDTHS[width]
    context = browser.new_context(viewport={"width": viewport_width, "height": height}, locale=LANGUAGES[language])
    context.set_default_timeout(20_000)
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context


def fits(page, width: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width][0], page.url


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_prices_pages_pass_axe(live_server, browser, settings, width, language):  # noqa: F811
    settings.STAFF_REQUIRE_MFA = False
    settings.SECURE_SSL_REDIRECT = False
    for ahead, timeline in enumerate(("current", "future")):
        sheet = simulated_price_sheet(market="BE", timeline=timeline, today=TODAY)
        price_sheet_import(sheet, market="BE", timeline=timeline, month=month_first(TODAY, ahead=ahead))
    company = Company.objects.create(
        legal_name="Brightwave Analytics and Extraordinarily Long Company Name Holding International BV",
        vat_number="BE0403170701",
        country="BE",
    )
    rule = PriceRule.objects.create(
        scope="company_product", kind="cost_plus_pct", value="12.5", company=company, product_id="CFQ7TTC0LCHC"
    )
    PriceRule.objects.create(scope="global", kind="erp", valid_from=TODAY)
    context = staff_context(browser, live_server, width, language)
    page = context.new_page()

    page.goto(f"{live_server.url}/backoffice/prices/")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("table").nth(2).locator("tbody tr")).to_have_count(6)  # two products change, three terms each
    fits(page, width)
    page.goto(f"{live_server.url}/backoffice/prices/rules/{rule.pk}/")
    fits(page, width)
    page.goto(f"{live_server.url}/backoffice/prices/rules/new/")
    fits(page, width)
    page.locator("#id_kind").select_option("cost_plus_pct")
    page.locator("#id_value").fill("2000")
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    fits(page, width)
    summary.locator("a").first.click()
    expect(page.locator("#id_value")).to_be_focused()
    visited = [
        f"{live_server.url}/backoffice/prices/",
        f"{live_server.url}/backoffice/prices/rules/{rule.pk}/",
        f"{live_server.url}/backoffice/prices/rules/new/",
    ]
    context.close()  # the last page is checked before the context closes
    assert set(visited) <= set(active_gate().checked)
