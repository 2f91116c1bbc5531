"""The request form walked in Dutch and in French in Chromium, live checks included; the switcher keeps the page."""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext, pgettext

from portal.onboarding.models import TenantRequest
from tests.test_browser import CHROMIUM, SHOTS, browser, expect  # noqa: F401 (the fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def t(language: str, english: str, context: str = "") -> str:
    with translation.override(language):
        text = pgettext(context, english) if context else gettext(english)
    return text


def type_into(scope, label: str, text: str) -> None:
    field = scope.get_by_label(label, exact=True)
    field.click()
    field.press_sequentially(text, delay=5)
    field.press("Tab")


@pytest.mark.parametrize(("language", "locale", "belgium"), [("nl", "nl-BE", "België"), ("fr", "fr-BE", "Belgique")])
def test_the_request_form_in_dutch_and_in_french(live_server, browser, language, locale, belgium):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/request-tenant/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", name=t(language, "Request a new Microsoft tenant"))).to_be_visible()

    company = page.locator("fieldset", has=page.locator("legend", has_text=t(language, "Company")))
    type_into(company, t(language, "Legal name"), "Brightwave Analytics BV")
    type_into(company, t(language, "Street and number"), "Korenmarkt 1")
    type_into(company, t(language, "Postal code"), "9000")
    type_into(company, t(language, "City"), "Gent")
    company.get_by_label(t(language, "Country"), exact=True).select_option(label=belgium)
    vat = company.get_by_label(t(language, "VAT number"), exact=True)
    vat.click()
    vat.press_sequentially("BE0403170702", delay=5)  # a wrong check digit: the live check says so, in the language
    vat.press("Tab")
    vat_check = page.locator("#check-company_vat_number")
    expect(vat_check.locator(".errors")).to_have_count(1)
    assert not re.search(r"\b(the|number|valid)\b", vat_check.inner_text()), vat_check.inner_text()
    vat.fill("BE0403170701")
    vat.press("Tab")
    expect(vat_check.locator(".errors")).to_have_count(0)
    type_into(company, t(language, "Phone"), "09 234 56 78")

    tenant_name = page.get_by_label(t(language, "Tenant name"), exact=True)
    check = page.locator("#check-tenant_domain_prefix")
    tenant_name.click()
    tenant_name.press_sequentially("contoso", delay=40)
    taken = t(language, "%(domain)s is already taken: choose another name.") % {"domain": "contoso.onmicrosoft.com"}
    expect(check).to_contain_text(taken)
    tenant_name.fill("")
    tenant_name.press_sequentially("brightwave", delay=40)
    available = t(language, "%(domain)s is available.") % {"domain": "brightwave.onmicrosoft.com"}
    expect(check).to_contain_text(available)
    type_into(page, t(language, "Display name"), "Brightwave")
    page.get_by_label(t(language, "Tenant country"), exact=True).select_option(label=belgium)

    technical = page.locator("fieldset", has=page.locator("legend", has_text=t(language, "Technical contact")))
    type_into(technical, t(language, "First name"), "Tess")
    type_into(technical, t(language, "Last name"), "Tech")
    type_into(technical, t(language, "E-mail"), "tess@brightwave.example")
    type_into(technical, t(language, "Phone"), "0478 12 34 56")
    type_into(technical, t(language, "Job title"), "IT manager")
    page.get_by_label(t(language, "The commercial contact is the technical contact")).check()
    expect(page.get_by_label(t(language, "Language of the e-mails and the agreement"))).to_have_value(language)
    page.get_by_label(t(language, "I accept the terms and conditions and confirm the information is correct")).check()
    page.screenshot(path=str(SHOTS / f"request-form-{language}.png"), full_page=True)

    page.get_by_role("button", name=t(language, "Send the request")).click()
    expect(page.get_by_role("heading", name=t(language, "Thank you: we received your request"))).to_be_visible()
    assert TenantRequest.objects.get().language == language

    # The switcher, on the page the visitor is on, keeps it.
    here = page.url
    page.get_by_role("button", name=re.compile("Français" if language == "nl" else "Nederlands")).click()
    expect(page).to_have_url(here)
    expect(page.locator("html")).to_have_attribute("lang", "fr" if language == "nl" else "nl")
    context.close()


def test_the_switcher_works_by_keyboard_and_keeps_the_query(live_server, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/verify/?from=mail")
    button = page.get_by_role("button", name=re.compile("Nederlands"))
    button.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/verify/\?from=mail$"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
