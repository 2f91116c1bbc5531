"""The journey by keyboard alone (Tab, Shift+Tab, Space, Enter and typing; no mouse), and the error summaries.

A visitor requests a tenant, Carl reads the whole agreement in its box and signs it. After a failed submit of
the request form and of the signing page, focus is on the error summary, and each entry moves focus to its field.
"""

import pytest

from portal.agreements.models import Agreement
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_validate
from tests.conftest import CARL, latest_code, signing_token
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def focused(page) -> str:
    """The focused element, as `tag#id` (or its class when it has no id)."""
    return page.evaluate(
        "() => { const e = document.activeElement; return e.tagName.toLowerCase() + '#' + (e.id || e.className); }"
    )


def tab_to(page, element_id: str, *, key: str = "Tab", most: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the element with this id has the focus, as a keyboard user does."""
    for _ in range(most):
        if page.evaluate("() => document.activeElement.id") == element_id:
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached #{element_id}; the focus is on {focused(page)}")


def type_in(page, element_id: str, text: str) -> None:
    tab_to(page, element_id)
    page.keyboard.type(text, delay=5)


@pytest.fixture
def keyboard(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_a_visitor_requests_and_carl_reads_and_signs_by_keyboard_alone(
    live_server, keyboard, smtp_server, worker, vera
):
    page = keyboard
    page.goto(f"{live_server.url}/request-tenant/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")  # the skip link: the next Tab is inside the content
    for field_id, text in (
        ("id_company_legal_name", "Brightwave Analytics BV"),
        ("id_company_vat_number", "BE0403170701"),
        ("id_company_address_line1", "Korenmarkt 1"),
        ("id_company_postal_code", "9000"),
        ("id_company_city", "Gent"),
        ("id_company_country", "Belgium"),  # a closed list picks the option typed
        ("id_company_phone", "09 234 56 78"),
        ("id_tenant_domain_prefix", "brightwave"),
        ("id_tenant_display_name", "Brightwave"),
        ("id_tenant_country", "Belgium"),
        ("id_technical_first_name", "Tess"),
        ("id_technical_last_name", "Tech"),
        ("id_technical_email", "tess@brightwave.example"),
        ("id_technical_phone", "0478 12 34 56"),
    ):
        type_in(page, field_id, text)
    expect(page.locator("#check-tenant_domain_prefix")).to_contain_text("brightwave.onmicrosoft.com is available")
    tab_to(page, "id_tenant_display_name", key="Shift+Tab")  # back up to correct a field
    page.keyboard.press("End")
    page.keyboard.type(" Gent")
    tab_to(page, "id_commercial_same_as_technical")
    page.keyboard.press("Space")
    expect(page.locator("#commercial-fields")).to_be_hidden()
    page.keyboard.press("Space")  # Carl signs: his own fields again
    expect(page.locator("#commercial-fields")).to_be_visible()
    for field_id, text in (
        ("id_commercial_first_name", "Carl"),
        ("id_commercial_last_name", "Commerce"),
        ("id_commercial_email", CARL),
        ("id_commercial_phone", "0478 65 43 21"),
        ("id_commercial_job_title", "CEO"),
    ):
        type_in(page, field_id, text)
    tab_to(page, "id_accept_terms")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Send the request"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Thank you: we received your request")).to_be_visible()

    request = TenantRequest.objects.select_related("company").get()
    assert (request.company.country, request.tenant_country, request.display_name) == ("BE", "BE", "Brightwave Gent")
    assert (request.commercial_contact.email, request.commercial_contact.job_title) == (CARL, "CEO")
    request_validate(request_id=request.pk, by=vera)
    worker()

    page.goto(f"{live_server.url}/sign/{signing_token(smtp_server)}/")
    text = page.locator("#agreement-text")
    tab_to(page, "agreement-text")
    expect(text).to_be_focused()
    assert text.evaluate("e => e.scrollHeight > e.clientHeight + 100")  # the text is longer than its box
    for _ in range(60):
        if text.evaluate("e => e.scrollTop + e.clientHeight >= e.scrollHeight - 1"):
            break
        page.keyboard.press("Space")
    else:
        raise AssertionError("Space never brought the end of the agreement into view")
    expect(text.get_by_role("heading", name="Signature")).to_be_in_viewport()

    tab_to(page, "id_signing_authority")
    page.keyboard.press("Space")
    tab_to(page, "send-code")
    page.keyboard.press("Enter")
    expect(page.locator("#code-status")).to_contain_text("We e-mailed a 6-digit code")
    worker()
    tab_to(page, "id_code", key="Shift+Tab")
    page.keyboard.type(latest_code(smtp_server))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Thank you: the agreement is signed")).to_be_visible()
    assert Agreement.objects.get(request=request).signed_at is not None


def summary_entries_move_focus(page) -> list[str]:
    """Each entry of the focused error summary, followed with Enter, puts the focus on its field."""
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    links = summary.locator("a")
    reached = []
    for n in range(links.count()):
        link = links.nth(n)
        target = link.get_attribute("href").removeprefix("#")
        link.focus()
        page.keyboard.press("Enter")
        expect(page.locator(f"[id='{target}']")).to_be_focused()
        assert page.locator(f"[id='{target}']").is_visible() or target == "id_accept_terms"
        reached.append(target)
    return reached


def test_a_failed_submit_puts_the_focus_on_the_error_summary_whose_entries_lead_to_the_fields(
    live_server, keyboard, awaiting, smtp_server
):
    page = keyboard
    page.goto(f"{live_server.url}/request-tenant/")
    tab_to(page, "id_company_legal_name")
    page.keyboard.type("Brightwave Analytics BV")
    page.keyboard.press("Tab")  # leaving fields empty on the way says nothing yet
    page.keyboard.press("Tab")
    page.wait_for_load_state("networkidle")  # the live checks of the fields left have answered
    expect(page.locator(".check-result .errors")).to_have_count(0)
    tab_to(page, "id_company_website")
    page.keyboard.type("not a web address")
    tab_to(page, "id_accept_terms")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    reached = summary_entries_move_focus(page)
    assert reached[:3] == ["id_company_vat_number", "id_company_address_line1", "id_company_postal_code"]
    assert "id_company_website" in reached and "id_accept_terms" in reached
    assert "id_company_legal_name" not in reached
    assert page.locator("#id_company_legal_name").input_value() == "Brightwave Analytics BV"  # nothing typed is lost

    page.goto(f"{live_server.url}/sign/{signing_token(smtp_server)}/")
    tab_to(page, "sign-button")
    page.keyboard.press("Enter")
    assert summary_entries_move_focus(page) == ["id_signing_authority"]
    page.keyboard.press("Space")
    tab_to(page, "sign-button")
    page.keyboard.press("Enter")
    assert summary_entries_move_focus(page) == ["id_code"]
    expect(page.locator("#id_code")).to_have_attribute("aria-invalid", "true")
