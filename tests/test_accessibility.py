"""Every page and state of the portal passes axe-core (WCAG 2.2 AA) at 1280 and 390 px, in English, Dutch and French.

The browser fixture's gate (tests/browsers.py) checks each page once it has loaded; states a page reaches
without loading (a live check's answer) are checked here by hand. At phone width nothing may scroll sideways.
"""

import re

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.models import User
from portal.accounts.services import activation_link_new
from portal.companies.services import identity_change_request, invitation_send
from portal.notifications.models import CapturedEmail
from portal.onboarding.services import request_submit
from portal.onboarding.views import THANKS_SALT
from tests.browsers import AccessibilityViolation, active_gate, assert_accessible
from tests.conftest import request_data, signing_token
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Brightwave Analytics and Extraordinarily Long Company Name Holding International BV"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
LANGUAGES = {"en": "en-GB", "nl": "nl-BE", "fr": "fr-BE"}
PASSWORD = "Walks-every-page-2026"
BROKEN = {
    "image-alt (critical)": '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
    "idref-missing (serious)": '<label for="code">Code</label><input id="code" aria-describedby="code-help">',
}


def session_cookie(live_server, user: User) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": django_settings.SESSION_COOKIE_NAME,
        "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


@pytest.mark.parametrize("rule", BROKEN)
def test_the_gate_fails_on_a_page_with_a_violation(browser, rule):  # noqa: F811
    page = browser.new_context().new_page()
    url = "http://127.0.0.1:9/broken/"
    body = f'<!doctype html><html lang="en"><head><title>Broken</title></head><body><main><h1>Broken</h1>{BROKEN[rule]}</main></body></html>'
    page.route(url, lambda route: route.fulfill(body=body, content_type="text/html"))
    page.goto(url)
    with pytest.raises(AccessibilityViolation) as failure:
        page.title()  # the test's next step: the gate checks the page that loaded before it runs
    report = str(failure.value)
    assert f"- {rule}" in report
    assert BROKEN[rule].split("<")[-1][:6] in report  # the element
    assert url in report and "1280×720 px" in report
    page.context.close()


class Walk:
    """One browser context at one width and language, visiting pages and recording what did not fit."""

    def __init__(self, browser, live_server, width: str, language: str):  # noqa: F811
        self.live_server = live_server
        self.width, height = WIDTHS[width]
        self.context = browser.new_context(viewport={"width": self.width, "height": height}, locale=LANGUAGES[language])
        self.context.set_default_timeout(20_000)
        self.context.add_cookies([{"name": "portal_language", "value": language, "url": live_server.url}])
        self.page = self.context.new_page()
        self.too_wide: dict[str, int] = {}
        self.visited: list[str] = []

    def sign_in_as(self, user: User) -> None:
        self.context.clear_cookies(name=django_settings.SESSION_COOKIE_NAME)
        self.context.add_cookies([session_cookie(self.live_server, user)])

    def visit(self, path: str) -> None:
        self.page.goto(f"{self.live_server.url}{path}")
        self.settled()

    def settled(self) -> None:
        """After a page has loaded (the gate checks it on the next step): it must fit the screen."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        self.visited.append(self.page.url)
        if width > self.width:
            self.too_wide[self.page.url] = width

    def submit(self, button: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button).first.click()
        self.settled()
        expect(self.page.locator("[data-error-summary]")).to_be_focused()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe(live_server, browser, awaiting, smtp_server, worker, settings, width, language):  # noqa: F811
    settings.STAFF_REQUIRE_MFA = False
    settings.SECURE_SSL_REDIRECT = False
    request = request_submit(data=request_data(legal_name=LONG_NAME, domain_prefix="brightwaveextraordinarily"))
    tess = User.objects.create_user("tess.with.a.long.address@brightwave-analytics.example", PASSWORD)
    tess.companies.add(request.company, through_defaults={"role": "admin"})
    User.objects.filter(pk=tess.pk).update(language=language)
    identity_change_request(
        company_id=request.company_id, changes={"legal_name": {"old": LONG_NAME, "new": f"{LONG_NAME} NV"}}, by=tess
    )
    invitation_send(company_id=request.company_id, email="nina@brightwave.example", role="technical", by=tess)
    worker()
    invited = re.search(r"/invitations/([^/\s]+)/", smtp_server.to("nina@brightwave.example")[-1].as_string())
    newcomer = User.objects.create_user("newcomer@brightwave.example", None, language=language)
    activation_raw, _ = activation_link_new(user=newcomer)
    tom = User.objects.create_user("tom@brightwave.example", PASSWORD, language=language)
    TOTPDevice.objects.create(user=tom, name="Authenticator app", confirmed=True)
    vera = User.objects.get(email="vera@reseller.example")
    User.objects.filter(pk=vera.pk).update(language=language)
    token = signing_token(smtp_server)
    walk = Walk(browser, live_server, width, language)
    page = walk.page

    for path in (
        "/",
        f"/request-tenant/sent/?r={signing.dumps(request.pk, salt=THANKS_SALT)}",
        "/accounts/password/reset/",
        "/accounts/activation/",
        "/verify/",
        f"/sign/{token}/decline/",
        f"/invitations/{invited.group(1)}/",
        "/sign/no-such-link/",
    ):
        walk.visit(path)

    walk.visit("/request-tenant/")
    tenant_name = page.locator("#id_tenant_domain_prefix")
    tenant_name.press_sequentially("contoso", delay=20)
    expect(page.locator("#check-tenant_domain_prefix .errors")).to_be_visible()
    assert_accessible(page)  # the live check's answer
    walk.submit(page.locator("button.primary").inner_text())  # everything else empty: the error summary

    walk.visit(f"/sign/{token}/")
    walk.submit(page.locator("#sign-button").inner_text())

    walk.visit(f"/activate/{activation_raw}/")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD + "x")
    walk.submit(page.locator("button.primary").inner_text())

    walk.visit("/accounts/login/")
    page.locator("#id_email").fill(tom.email)
    page.locator("#id_password").fill(PASSWORD + "x")
    walk.submit(page.locator("button.primary").inner_text())
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("button.primary").click()
    walk.settled()  # the second step
    page.locator("#id_code").fill("000000")
    walk.submit(page.locator("form button").last.inner_text())

    walk.sign_in_as(tess)
    for path in (
        "/",
        f"/requests/{request.pk}/",
        "/accounts/profile/",
        "/accounts/security/",
        "/accounts/security/authenticator/",
        "/accounts/confirm/?next=/",
        f"/c/{request.company_id}/",
        f"/c/{request.company_id}/profile/",
        f"/c/{request.company_id}/identity/",
    ):
        walk.visit(path)
    walk.visit(f"/c/{request.company_id}/contacts/new/")
    walk.submit(page.locator("main form button.primary").inner_text())

    walk.sign_in_as(vera)
    for path in (
        "/backoffice/",
        f"/backoffice/requests/{request.pk}/",
        f"/backoffice/requests/{awaiting.pk}/",
        "/backoffice/sign-in-lockouts/",
        "/backoffice/identity-changes/",
    ):
        walk.visit(path)
    walk.context.close()  # the last page is checked before the context closes

    checked = set(active_gate().checked)
    assert [url for url in walk.visited if url not in checked] == []
    assert walk.too_wide == {}


@pytest.mark.parametrize("width", WIDTHS)
def test_the_development_mailbox_passes_axe(live_server, browser, settings, width):  # noqa: F811
    """Development only (DEBUG on, no EMAIL_URL), and in English: the e-mails it shows are checked on their own."""
    settings.DEBUG = True
    settings.MAIL_CAPTURED = True
    email = CapturedEmail.objects.create(
        message_id="<1@portal.invalid>",
        from_email="portal@example.com",
        to=["tess@brightwave.example"],
        subject="Your tenant request",
        body_text="Hello Tess",
        body_html="<!doctype html><html lang='en'><head><title>Your tenant request</title></head><body>Hello</body></html>",
        raw="",
    )
    walk = Walk(browser, live_server, width, "en")
    for path in ("/dev/mailbox/", f"/dev/mailbox/{email.pk}/"):
        walk.visit(path)
    walk.context.close()
    assert [url for url in walk.visited if url not in set(active_gate().checked)] == []
    assert walk.too_wide == {}
