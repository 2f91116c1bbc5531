"""Every page carries a strict Content-Security-Policy, and nothing the portal serves trips it.

The policy allows our own scripts and styles, inline ones only with the response's nonce; a browser walk
through the request form (with htmx's live checks), sign-in, the signing page, the API docs and the admin
collects every "Refused to …" message Chromium prints and expects none.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from portal.accounts.models import User
from portal.agreements.documents import agreement_text
from portal.core.tokens import token_new
from tests.browsers import CHROMIUM, axe_gate, chromium_launch
from tests.conftest import signing_token

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
# Documents rendered to PDF or e-mailed, never served as a page of the portal.
DOCUMENTS = ("emails/", "agreements/service-agreement-", "agreements/evidence.html")


def directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    policy = directives(header)
    assert "'unsafe-inline'" not in policy.get("script-src", ["'unsafe-inline'"])
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["style-src"]
    return policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/request-tenant/",
        "/accounts/login/",
        "/accounts/activation/",
        "/verify/",
        "/sign/{token}/",
        "/track/{token}/",
        "/correct/{token}/",
        "/activate/{token}/",
        "/no-such-page/",
        "/api/v1/docs",
        "/api/v1/openapi.json",
        "/api/v1/tenant-domains/brightwave/availability",
        "/admin/login/",
        "/dev/mailbox/",
    ],
)
def test_every_page_answers_with_a_strict_policy(client, path):
    response = client.get(path.format(token=token_new()[0]))
    assert response.status_code < 500
    assert_strict(response)


@pytest.mark.django_db
def test_signed_in_pages_and_the_admin_have_the_policy(client, vera, tess_user, submitted):
    client.force_login(tess_user)
    assert_strict(client.get(f"/requests/{submitted.pk}/"))
    client.force_login(vera)
    assert_strict(client.get("/backoffice/"))
    assert_strict(client.get(f"/backoffice/requests/{submitted.pk}/"))
    admin = User.objects.create_superuser("ada@reseller.example", "Ada-administers-2026")
    client.force_login(admin)
    changelist = client.get("/admin/accounts/user/")
    assert changelist.status_code == 200
    policy = assert_strict(changelist)
    nonce = re.search(r"'nonce-([^']+)'", " ".join(policy["style-src"])).group(1)
    assert f'nonce="{nonce}"' in changelist.text  # the admin's own inline <style>


@pytest.mark.django_db
def test_a_post_answer_has_the_policy_too(client):
    assert_strict(client.post("/request-tenant/", {}))


def test_the_templates_hold_no_inline_script_style_or_handler():
    """Inline code must move to static/ (or carry the nonce): the policy would refuse it."""
    found = []
    for template in TEMPLATES.rglob("*.html"):
        name = template.relative_to(TEMPLATES).as_posix()
        if name.startswith(DOCUMENTS):
            continue
        text = template.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>",
            r"<style\b",
            r"\sstyle=",
            r"\son[a-z]+=",
            r"hx-on",
            r"javascript:",
        ):
            for match in re.finditer(pattern, text, re.IGNORECASE):
                if "nonce" not in text[match.start() : text.find(">", match.start()) + 1]:
                    found.append(f"{name}: {match.group(0).strip()}")
    assert found == []


def test_the_agreement_text_on_the_signing_page_carries_no_style_or_script():
    html = (
        "<html><head><style>body { color: red; }</style></head><body><h1 style='color:red'>Terms</h1>"
        "<script>alert(1)</script><p class='meta' onclick='x()'>Version</p></body></html>"
    )
    assert agreement_text(html) == '<h3>Terms</h3><p class="meta">Version</p>'


def test_htmx_is_told_not_to_inject_its_style():
    base = (TEMPLATES / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base
    assert ".htmx-indicator" in (ROOT / "static/portal/portal.css").read_text()


def test_the_policy_is_the_documented_one():
    assert settings.SECURE_CSP["img-src"] == ["'self'", "data:"]
    assert "django.middleware.csp.ContentSecurityPolicyMiddleware" in settings.MIDDLEWARE


ADA_EMAIL, ADA_PASSWORD = "ada@reseller.example", "Ada-administers-2026"


@pytest.fixture
def violations_page(monkeypatch):
    """Chromium, with every CSP refusal (also inside frames) and every script error collected."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (Python) is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    from django.db import connections

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    with sync_api.sync_playwright() as playwright, axe_gate(monkeypatch):
        browser = chromium_launch(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
            context.set_default_timeout(20_000)
            page = context.new_page()
            refused: list[str] = []

            def console(message) -> None:
                if "Refused to" in message.text or "Content Security Policy" in message.text:
                    refused.append(message.text)

            page.on("console", console)
            page.on("pageerror", lambda error: refused.append(f"script error: {error}"))
            yield page, sync_api.expect, refused
        finally:
            connections.close_all()
            browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_nothing_is_refused_in_the_browser(live_server, awaiting, smtp_server, violations_page):
    """The request form with its live checks, sign-in, the admin, the API docs and the signing page."""
    page, expect, refused = violations_page
    token = signing_token(smtp_server)
    User.objects.create_superuser(ADA_EMAIL, ADA_PASSWORD)

    page.goto(f"{live_server.url}/request-tenant/", wait_until="networkidle")
    page.get_by_label("Legal name", exact=True).first.fill("Northwave BV")
    page.get_by_label("Legal name", exact=True).first.press("Tab")
    tenant_name = page.get_by_label("Tenant name", exact=True)
    tenant_name.click()
    tenant_name.press_sequentially("contoso", delay=30)
    expect(page.locator("#check-tenant_domain_prefix")).to_contain_text("contoso.onmicrosoft.com is already taken")
    tenant_name.fill("")
    tenant_name.press_sequentially("northwave", delay=30)
    expect(page.locator("#check-tenant_domain_prefix")).to_contain_text("northwave.onmicrosoft.com is available")
    page.get_by_label("The commercial contact is the technical contact").check()
    expect(page.locator("#commercial-fields")).to_be_hidden()  # request-form.js, now a static file, runs

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail").fill(ADA_EMAIL)
    page.get_by_label("Password").fill(ADA_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".who")).to_contain_text(ADA_EMAIL)
    page.goto(f"{live_server.url}/admin/accounts/user/", wait_until="networkidle")
    expect(page.locator("#result_list")).to_contain_text(ADA_EMAIL)
    page.goto(f"{live_server.url}/api/v1/docs", wait_until="networkidle")
    expect(page.get_by_text("Exchange credentials for a bearer token")).to_be_visible()  # Swagger UI, served locally

    page.goto(f"{live_server.url}/sign/{token}/", wait_until="networkidle")
    expect(page.get_by_role("region", name="Read the agreement")).to_contain_text("1. Purpose")
    page.get_by_role("button", name="E-mail me a code").click()
    expect(page.locator("#code-status")).to_contain_text("We e-mailed a 6-digit code")
    page.wait_for_load_state("networkidle")

    assert refused == []
