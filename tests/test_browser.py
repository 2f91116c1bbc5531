"""A visitor requests a tenant in a real browser, and Vera validates it in the back-office."""

import re
from pathlib import Path

import pytest
from django.db import connections

from portal.accounts.models import User
from portal.onboarding.models import TenantRequest
from tests.browsers import CHROMIUM, axe_gate, chromium_launch

SHOTS = Path("/tmp/shots")
VERA_EMAIL = "vera@reseller.example"
VERA_PASSWORD = "Vera-validates-2026"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (Python) is not installed")
expect = sync_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def browser(monkeypatch):
    """Chromium through Playwright's sync API, whose event loop would otherwise make Django refuse the ORM here.

    Every page its contexts open passes the accessibility gate (tests/browsers.py).
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The browser keeps its connections to the live server open: its threads must not keep database sessions too.
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright, axe_gate(monkeypatch):
        chromium = chromium_launch(playwright)
        try:
            yield chromium
        finally:
            # While Playwright's loop runs, the ORM here gets connections of its own: close them before it stops.
            connections.close_all()
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def type_into(page, label: str, text: str, *, within=None) -> None:
    """Click a field by its label and type, key by key, as a person does."""
    field = (within or page).get_by_label(label, exact=True)
    field.click()
    field.press_sequentially(text, delay=5)
    field.press("Tab")


def test_a_visitor_requests_a_tenant_and_vera_validates_it(live_server, page):
    page.goto(f"{live_server.url}/request-tenant/")
    expect(page.get_by_role("heading", name="Request a new Microsoft tenant")).to_be_visible()

    company = page.locator("fieldset", has=page.locator("legend", has_text="Company"))
    type_into(page, "Legal name", "Brightwave Analytics BV", within=company)
    type_into(page, "VAT number", "BE0403170701", within=company)
    type_into(page, "Street and number", "Korenmarkt 1", within=company)
    type_into(page, "Postal code", "9000", within=company)
    type_into(page, "City", "Gent", within=company)
    company.get_by_label("Country", exact=True).select_option(label="Belgium")
    type_into(page, "Phone", "09 234 56 78", within=company)
    type_into(page, "Website", "brightwave.example", within=company)

    tenant_name = page.get_by_label("Tenant name", exact=True)
    check = page.locator("#check-tenant_domain_prefix")
    tenant_name.click()
    tenant_name.press_sequentially("contoso", delay=40)
    expect(check).to_contain_text("contoso.onmicrosoft.com is already taken")
    tenant_name.fill("")
    tenant_name.press_sequentially("brightwave", delay=40)
    expect(check).to_contain_text("brightwave.onmicrosoft.com is available")
    expect(check).not_to_contain_text("taken")
    type_into(page, "Display name", "Brightwave")
    page.get_by_label("Tenant country", exact=True).select_option(label="Belgium")

    technical = page.locator("fieldset", has=page.locator("legend", has_text="Technical contact"))
    type_into(page, "First name", "Tess", within=technical)
    type_into(page, "Last name", "Tech", within=technical)
    type_into(page, "E-mail", "tess@brightwave.example", within=technical)
    type_into(page, "Phone", "0478 12 34 56", within=technical)
    type_into(page, "Job title", "IT manager", within=technical)

    page.get_by_label("The commercial contact is the technical contact").check()
    expect(page.locator("#commercial-fields")).to_be_hidden()
    page.get_by_label(re.compile("I accept the terms and conditions")).check()

    expect(page.locator(".check-result .errors")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "request-form-filled.png"), full_page=True)

    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", name="Thank you: we received your request")).to_be_visible()
    expect(page.locator("main")).to_contain_text("brightwave.onmicrosoft.com")
    page.screenshot(path=str(SHOTS / "request-sent.png"), full_page=True)

    tenant_request = TenantRequest.objects.select_related("company", "commercial_contact").get()
    assert tenant_request.stage == "to_validate"
    assert tenant_request.domain_prefix == "brightwave"
    assert tenant_request.company.legal_name == "Brightwave Analytics BV"
    assert tenant_request.company.vat_number == "BE0403170701"
    assert tenant_request.commercial_contact.email == "tess@brightwave.example"

    User.objects.create_user(VERA_EMAIL, VERA_PASSWORD, is_staff=True, first_name="Vera", last_name="Validator")
    staff = page.context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    staff.set_default_timeout(15_000)
    vera = staff.new_page()
    vera.goto(f"{live_server.url}/accounts/login/")
    vera.get_by_label("E-mail").fill(VERA_EMAIL)
    vera.get_by_label("Password").fill(VERA_PASSWORD)
    vera.get_by_role("button", name="Sign in").click()
    expect(vera).to_have_url(re.compile(r"/backoffice/$"))

    expect(vera.locator(".tabs a.active")).to_contain_text("To Validate")
    row = vera.locator("table.list tbody tr", has_text="Brightwave Analytics BV")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("brightwave.onmicrosoft.com")
    expect(row).to_contain_text("To Validate")
    vera.screenshot(path=str(SHOTS / "backoffice-pipeline.png"), full_page=True)
    row.get_by_role("link", name="Brightwave Analytics BV").click()

    expect(vera.get_by_role("heading", level=1)).to_contain_text("Brightwave Analytics BV")
    expect(vera.locator("h1 .stage")).to_have_text("To Validate")
    vera.screenshot(path=str(SHOTS / "backoffice-request.png"), full_page=True)
    vera.get_by_text("Validate: send the agreement…").click()  # staff confirm before the agreement goes out
    vera.get_by_role("button", name="Yes, validate and send").click()

    expect(vera.locator("h1 .stage")).to_have_text("Awaiting Signature")
    expect(vera.locator(".flash.success")).to_contain_text("Validated")
    expect(vera.get_by_text("Validate: send the agreement…")).to_have_count(0)
    expect(vera.get_by_text("No decision is due at this stage.")).to_have_count(0)
    vera.screenshot(path=str(SHOTS / "backoffice-validated.png"), full_page=True)
    staff.close()

    tenant_request.refresh_from_db()
    assert tenant_request.stage == "awaiting_signature"
    assert tenant_request.timeline.filter(to_stage="awaiting_signature").exists()


def test_the_form_is_usable_on_a_phone(live_server, browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    phone = context.new_page()
    phone.goto(f"{live_server.url}/request-tenant/")
    expect(phone.get_by_role("heading", name="Request a new Microsoft tenant")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    tenant_name = phone.get_by_label("Tenant name", exact=True)
    tenant_name.scroll_into_view_if_needed()
    box = tenant_name.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    tenant_name.tap()
    tenant_name.press_sequentially("contoso", delay=40)
    expect(phone.locator("#check-tenant_domain_prefix")).to_contain_text("already taken")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    send = phone.get_by_role("button", name="Send the request")
    send.scroll_into_view_if_needed()
    expect(send).to_be_in_viewport()
    phone.screenshot(path=str(SHOTS / "request-form-phone.png"), full_page=True)

    send.tap()
    expect(phone.locator(".error-summary")).to_be_focused()
    expect(phone.locator(".error-summary")).to_contain_text("Please correct the fields marked below.")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
