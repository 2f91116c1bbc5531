"""Tess protects her sign-in in a real browser (Debian's Chromium through Playwright): an authenticator app with its
recovery codes, then a passkey on Chromium's virtual authenticator, each asked for at the next sign-in."""

import base64
import re
from pathlib import Path

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp_webauthn.models import WebAuthnCredential

from portal.accounts.models import User
from tests.test_browser import CHROMIUM, browser, sync_api  # noqa: F401 (the browser fixture)

expect = sync_api.expect
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

TESS_EMAIL, TESS_PASSWORD = "tess@brightwave.example", "Tess-manages-2026"


@pytest.fixture
def portal(live_server, settings) -> str:
    """The live server as http://localhost:<port>: WebAuthn wants a secure context and a domain as relying party."""
    url = live_server.url.replace("127.0.0.1", "localhost")
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [url]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return url


@pytest.fixture
def context(browser):  # noqa: F811
    """A phone-sized window; no page may trip the Content-Security-Policy (the passkey scripts included)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    context.set_default_timeout(15_000)
    refused: list[str] = []
    context.on("console", lambda message: refused.append(message.text) if "Refused to" in message.text else None)
    yield context
    context.close()
    assert not refused, refused


def sign_in(page, portal: str) -> None:
    page.goto(f"{portal}/accounts/login/")
    page.get_by_label("E-mail", exact=True).fill(TESS_EMAIL)
    page.get_by_label("Password", exact=True).fill(TESS_PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_tess_enrols_an_authenticator_app_and_a_recovery_code_signs_her_in_once(portal, context, tess_user):
    page = context.new_page()
    sign_in(page, portal)
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Sign-in security")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_role("link", name="Add an authenticator app").click()
    secret = page.locator("code").inner_text()
    key = base64.b32decode(secret)
    code = page.get_by_label("Code from your authenticator app", exact=True)
    code.fill(f"{totp(key):06d}")
    code.press("Enter")

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").locator("code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}", c) for c in codes)
    no_sideways_scroll(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as a .txt file").click()
    assert codes[0] in Path(download.value.path()).read_text()
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_text("10 of 10 recovery codes left")).to_be_visible()
    sign_out(page)

    sign_in(page, portal)
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    field = page.get_by_label("Code from your authenticator app, or a recovery code", exact=True)
    field.fill(codes[0])
    field.press("Enter")
    expect(page.locator("main")).to_contain_text("Brightwave Analytics BV")
    sign_out(page)

    sign_in(page, portal)
    field = page.get_by_label("Code from your authenticator app, or a recovery code", exact=True)
    field.fill(codes[0])
    field.press("Enter")
    expect(page.locator("#id_code_error")).to_contain_text("it was already used: each recovery code works once")
    expect(field).to_have_attribute("aria-describedby", "code-help id_code_error")
    field = page.get_by_label("Code from your authenticator app, or a recovery code", exact=True)
    field.fill(f"{totp(key, drift=1):06d}")  # the app's next code: the one used at enrolment never works twice
    field.press("Enter")
    expect(page.locator("main")).to_contain_text("Brightwave Analytics BV")


def test_tess_registers_a_passkey_and_it_is_her_second_step_at_the_next_sign_in(portal, context, tess_user):
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    sign_in(page, portal)
    page.goto(f"{portal}/accounts/security/")
    add = page.get_by_role("button", name="Add a passkey")
    add.focus()
    add.press("Enter")  # by keyboard alone

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.get_by_role("list", name="Recovery codes").locator("code").count() == 10
    page.get_by_role("link", name="Continue").click()
    expect(page.locator("main")).to_contain_text("Passkey or security key")
    no_sideways_scroll(page)
    passkey = WebAuthnCredential.objects.get(user__email=TESS_EMAIL)
    assert passkey.name == "Passkey 1" and passkey.confirmed
    sign_out(page)

    sign_in(page, portal)
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.locator("main")).to_contain_text("Brightwave Analytics BV")
    assert page.url == f"{portal}/"
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None and passkey.last_used_at <= timezone.now()
    assert User.objects.get(email=TESS_EMAIL).last_login is not None
