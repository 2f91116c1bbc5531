"""A company's two-step rule: an administrator requires a second factor of every member, and a member without one
is sent to enrolment on every company page (and refused by the company's API) until they add one."""

import base64
import time

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.models import User
from portal.accounts.recent_auth import SESSION_KEY
from portal.companies.models import Company, Membership
from tests.test_browser import CHROMIUM, browser, sync_api  # noqa: F401 (the browser fixture)
from tests.test_permission_walk import company_routes, fill

expect = sync_api.expect
pytestmark = pytest.mark.django_db

REQUIRES = "requires two-step sign-in"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(submitted, tess_user):
    """Tess (admin, with an authenticator app) and Bert (billing, without a second factor) at Brightwave."""
    Membership.objects.filter(user=tess_user).update(role="admin")
    TOTPDevice.objects.create(user=tess_user, name="Phone", confirmed=True)
    bert = User.objects.create_user("bert@brightwave.example", "Bert-pays-2026", first_name="Bert")
    Membership.objects.create(user=bert, company=submitted.company, role="billing")
    return submitted.company, tess_user, bert


def signed_in(user: User, *, recently: bool = True) -> Client:
    """A browser session of the user; `recently`: the password was given a moment ago (a recent check holds)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = time.time() - (0 if recently else 3600)
    session.save()
    return client


def rule_on(company: Company) -> None:
    Company.objects.filter(pk=company.pk).update(require_mfa=True)


def test_an_admin_turns_the_rule_on_and_the_members_are_told(team, smtp_server, worker):
    company, tess, bert = team
    tess_browser = signed_in(tess)
    answer = tess_browser.post(f"/c/{company.pk}/two-step/", {"require_mfa": "on"}, follow=True)
    assert "Every member now needs two-step sign-in" in answer.content.decode()
    company.refresh_from_db()
    assert company.require_mfa
    worker()
    told_about_it = [m for m in smtp_server.messages if "two-step" in m["Subject"]]
    assert [m["To"] for m in told_about_it] == [bert.email]  # not Tess, who turned it on
    (told,) = told_about_it
    assert "Brightwave Analytics BV now requires two-step sign-in" in told["Subject"]
    assert "/accounts/security/" in told.get_body(("plain",)).get_content()

    answer = tess_browser.post(f"/c/{company.pk}/two-step/", {}, follow=True)
    assert "no longer required" in answer.content.decode()
    company.refresh_from_db()
    assert not company.require_mfa


def test_an_admin_without_a_second_factor_cannot_shut_everyone_out(team):
    company, tess, _ = team
    TOTPDevice.objects.filter(user=tess).delete()
    answer = signed_in(tess).post(f"/c/{company.pk}/two-step/", {"require_mfa": "on"}, follow=True)
    assert "Set up your own two-step sign-in first" in answer.content.decode()
    api = signed_in(tess).patch(
        f"/api/v1/companies/{company.pk}", {"require_mfa": True}, content_type="application/json"
    )
    assert api.status_code == 409 and "Set up your own two-step sign-in first" in api.json()["detail"]
    company.refresh_from_db()
    assert not company.require_mfa


def test_turning_the_rule_on_needs_a_recent_sign_in(team):
    company, tess, _ = team
    stale = signed_in(tess, recently=False)
    page = stale.post(
        f"/c/{company.pk}/two-step/", {"require_mfa": "on"}, HTTP_REFERER=f"http://testserver/c/{company.pk}/"
    )
    assert page.status_code == 302 and page.url.startswith("/accounts/confirm/")
    api = stale.patch(f"/api/v1/companies/{company.pk}", {"require_mfa": True}, content_type="application/json")
    assert api.status_code == 403 and "recent sign-in" in api.json()["detail"]
    company.refresh_from_db()
    assert not company.require_mfa


def test_only_an_admin_sets_the_rule_and_billing_still_edits_the_profile(team):
    company, _, bert = team
    TOTPDevice.objects.create(user=bert, name="Phone", confirmed=True)
    bert_browser = signed_in(bert)
    refused = bert_browser.patch(
        f"/api/v1/companies/{company.pk}",
        {"require_mfa": True, "phone": "+32 9 222 33 44"},
        content_type="application/json",
    )
    assert refused.status_code == 403 and "This needs the role Administrator" in refused.json()["detail"]
    assert bert_browser.post(f"/c/{company.pk}/two-step/", {"require_mfa": "on"}).status_code == 403
    changed = bert_browser.patch(
        f"/api/v1/companies/{company.pk}", {"phone": "+32 9 222 33 44"}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["require_mfa"] is False
    company.refresh_from_db()
    assert (company.phone, company.require_mfa) == ("+3292223344", False)


def test_the_api_sets_and_reads_the_rule(team):
    company, tess, _ = team
    answer = signed_in(tess).patch(
        f"/api/v1/companies/{company.pk}", {"require_mfa": True}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json()["require_mfa"] is True
    assert signed_in(tess).get(f"/api/v1/companies/{company.pk}").json()["require_mfa"] is True


def test_with_the_rule_on_a_member_without_a_device_is_sent_to_enrolment_on_every_company_page(team, signed_ids):
    company, tess, bert = team
    rule_on(company)
    bert_browser = signed_in(bert)
    pages = [fill(route, {**signed_ids, "company": company.pk}) for route in company_routes()]
    assert len(pages) >= 10
    for path in pages:
        answer = bert_browser.get(path)
        if answer.status_code == 405:  # a form's target: after enrolment, back to the company
            answer = bert_browser.post(path, {})
            assert answer.url == f"/accounts/security/?next=/c/{company.pk}/", (path, answer.url)
        assert answer.status_code == 302, (path, answer.status_code)
        assert answer.url.startswith("/accounts/security/?next="), (path, answer.url)
    api = bert_browser.get(f"/api/v1/companies/{company.pk}/contacts")
    assert api.status_code == 403 and REQUIRES in api.json()["detail"]
    # Still a 404 for a company that is not his: the rule tells nothing about other companies.
    assert bert_browser.get("/c/999999/").status_code == 404

    assert signed_in(tess).get(f"/c/{company.pk}/").status_code == 200  # Tess has her authenticator app
    TOTPDevice.objects.create(user=bert, name="Phone", confirmed=True)
    assert bert_browser.get(f"/c/{company.pk}/").status_code == 200
    assert bert_browser.get(f"/api/v1/companies/{company.pk}/contacts").status_code == 200


@pytest.fixture
def signed_ids(team):
    """Ids for the routes that name an object of the company (they need not exist: the rule answers first)."""
    company, _, bert = team
    member = Membership.objects.get(user=bert)
    contact = company.contacts.first()
    return {
        "member": member.pk,
        "contact": contact.pk,
        "invitation": 1,
        "agreement": 1,
        "change": 1,
        "subscription": 1,
        "licence_change": 1,
    }


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}")
@pytest.mark.django_db(transaction=True)
def test_in_chromium_bert_is_sent_to_enrolment_then_reaches_the_company(live_server, browser, team):  # noqa: F811
    company, _, bert = team
    rule_on(company)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail", exact=True).fill(bert.email)
    page.get_by_label("Password", exact=True).fill("Bert-pays-2026")
    page.get_by_label("Password", exact=True).press("Enter")

    for path in (f"/c/{company.pk}/profile/", f"/c/{company.pk}/agreements/1/signed.pdf", f"/c/{company.pk}/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", name="Sign-in security")).to_be_visible()
        expect(page.get_by_text("Brightwave Analytics BV requires two-step sign-in")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= 390")

    page.get_by_role("link", name="Add an authenticator app").click()
    key = base64.b32decode(page.locator("code").inner_text())
    code = page.get_by_label("Code from your authenticator app", exact=True)
    code.fill(f"{totp(key):06d}")
    code.press("Enter")
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Brightwave Analytics BV", level=1)).to_be_visible()  # back where he was
    assert page.url == f"{live_server.url}/c/{company.pk}/"
    context.close()


def test_with_the_rule_on_a_members_last_device_stays(team):
    company, tess, _ = team
    rule_on(company)
    device = TOTPDevice.objects.get(user=tess)
    refused = signed_in(tess).post(f"/accounts/security/devices/authenticator/{device.pk}/remove/", follow=True)
    assert "Brightwave Analytics BV requires two-step sign-in: add another" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
