"""Carl signs the agreement in a real browser (Debian's Chromium driven by Playwright), on a phone-sized screen."""

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from portal.agreements.seal import verify_pdf
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from tests.browsers import CHROMIUM, axe_gate, chromium_launch
from tests.conftest import request_data

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop in this thread
CARL = "carl@brightwave.example"
expect.set_options(timeout=20_000)  # a shared, busy machine can be slow to answer


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, axe_gate(monkeypatch):
        browser = chromium_launch(playwright)
        context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent="Mozilla/5.0 (Carl's phone)")
        yield context.new_page()
        browser.close()


def test_carl_signs_on_his_phone(page, live_server, smtp_server, worker, vera):
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    contract = [m for m in smtp_server.to(CARL) if "please sign online" in str(m["Subject"])][-1]
    path = re.search(r"http://127\.0\.0\.1:8000(/sign/[^/\s]+/)", contract.get_body(("plain",)).get_content()).group(1)

    page.goto(live_server.url + path, wait_until="networkidle")
    assert page.get_by_role("heading", name="Arxus Service Agreement").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    sign_button = page.get_by_role("button", name="Sign the agreement")
    sign_button.scroll_into_view_if_needed()  # Carl scrolls down past the agreement
    sign_button.click()
    expect(page.locator(".errors").get_by_text("Confirm that you have the authority")).to_be_visible()

    page.get_by_label("I have the authority to sign").check()
    page.get_by_role("button", name="E-mail me a code").click()
    expect(page.locator("#code-status .ok")).to_contain_text("We e-mailed a 6-digit code")
    worker()
    code = re.search(
        r"\d{6}", str([m for m in smtp_server.to(CARL) if "signing code" in str(m["Subject"])][-1]["Subject"])
    ).group(0)
    page.get_by_label("Full name").fill("Carl Commerce")
    page.get_by_label("Job title").fill("CEO")
    page.get_by_label("Code sent to").fill(code)
    page.get_by_role("button", name="Sign the agreement").click()
    expect(page.get_by_role("heading", name="Thank you: the agreement is signed")).to_be_visible()

    request.refresh_from_db()
    assert request.stage == "provisioning"
    worker()
    signed = [m for m in smtp_server.to(CARL) if str(m["Subject"]).startswith("Signed:")][-1]
    with ThreadPoolExecutor(1) as pool:  # pyHanko runs its own event loop; Playwright's occupies this thread
        verdict = pool.submit(verify_pdf, next(signed.iter_attachments()).get_content()).result()
    assert verdict.ok and verdict.signer_name == "Carl Commerce"
    assert TenantRequest.objects.get(pk=request.pk).agreements.get().signer_user_agent == "Mozilla/5.0 (Carl's phone)"

    page.goto(live_server.url + path)
    expect(page.get_by_text("This signing link no longer works")).to_be_visible()


@pytest.fixture
def activation_path(live_server, smtp_server, worker, vera) -> str:
    """Brightwave's tenant is created (before the browser starts: sealing runs its own event loop)."""
    from tests.conftest import sign

    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    sign(request, smtp_server, worker)
    worker()
    text = [m for m in smtp_server.to("tess@brightwave.example") if "activate your" in str(m["Subject"])][-1]
    return re.search(r"http://127\.0\.0\.1:8000(/activate/[^/\s]+/)", text.get_body(("plain",)).get_content()).group(1)


def test_tess_activates_her_access_and_signs_in(live_server, activation_path, page):
    path = activation_path

    page.goto(live_server.url + path, wait_until="networkidle")
    expect(page.get_by_role("heading", name="Welcome, Tess")).to_be_visible()
    page.get_by_label("New password").fill("short")
    page.get_by_label("Repeat it").fill("short")
    page.get_by_role("button", name="Set my password").click()
    expect(page.locator(".errors").get_by_text("too short")).to_be_visible()
    page.get_by_label("New password").fill("Gent-Korenmarkt-2026")
    page.get_by_label("Repeat it").fill("Gent-Korenmarkt-2026")
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_text("Tenant brightwave.onmicrosoft.com")).to_be_visible()
    page.get_by_role("button", name="Show the administrator account once").click()
    expect(page.get_by_role("heading", name="Your tenant's administrator account")).to_be_visible()
    assert "admin@brightwave.onmicrosoft.com" in page.content()
    page.goto(live_server.url + "/")
    expect(page.get_by_role("button", name="Show the administrator account once")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail").fill("tess@brightwave.example")
    page.get_by_label("Password").fill("Gent-Korenmarkt-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Brightwave Analytics BV").first).to_be_visible()
    page.goto(live_server.url + path)
    expect(page.get_by_text("This activation link no longer works")).to_be_visible()
