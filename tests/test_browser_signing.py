"""Carl signs the agreement in a real browser (Debian's Chromium driven by Playwright), on a phone-sized screen."""

import os
from concurrent.futures import ThreadPoolExecutor
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.agreements.seal import verify_pdf
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from tests.conftest import request_data

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop in this thread
CARL = "carl@brightwave.example"
expect.set_options(timeout=20_000)  # a shared, busy machine can be slow to answer


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
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
    expect(page.get_by_text("Confirm that you have the authority")).to_be_visible()

    page.get_by_label("I have the authority to sign").check()
    page.get_by_role("button", name="E-mail me a code").click()
    expect(page.locator("#code-status .ok")).to_contain_text("We e-mailed a 6-digit code")
    worker()
    code = re.search(r"\d{6}", str([m for m in smtp_server.to(CARL) if "signing code" in str(m["Subject"])][-1]["Subject"])).group(0)
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
