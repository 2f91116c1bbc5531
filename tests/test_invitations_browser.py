"""Invitations in a real browser (Debian's Chromium through Playwright), at phone width: Tess invites, a new person
joins with a name and a password, an existing user signs in and accepts; a used link and another account are
refused."""

import pytest
from django.utils import timezone

from portal.accounts.models import User
from portal.companies.models import Invitation, Membership
from tests.test_browser import CHROMIUM, browser, sync_api  # noqa: F401 (the browser fixture)
from tests.test_invitations import EXISTING, NEW_PERSON, invitation_link

expect = sync_api.expect
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def phone(browser, settings):  # noqa: F811
    """A new phone-sized browser window for each person."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    contexts = []

    def open_one():
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()


def sign_in(page, base: str, email: str, password: str, then: str = "") -> None:
    page.goto(f"{base}/accounts/login/{then}")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password", exact=True).press("Enter")


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= 390"), page.url


def invite(page, base: str, company_id: int, email: str, role: str) -> None:
    page.goto(f"{base}/c/{company_id}/")
    page.get_by_label("E-mail address", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option(label=role)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text(f"Invitation e-mailed to {email}")).to_be_visible()


def test_a_new_person_joins_from_the_link_and_the_link_then_works_no_more(
    live_server, phone, submitted, tess_user, smtp_server, worker
):
    company = submitted.company
    Membership.objects.filter(user=tess_user).update(role="admin")
    tess = phone()
    sign_in(tess, live_server.url, tess_user.email, "Tess-manages-2026")
    invite(tess, live_server.url, company.pk, NEW_PERSON, "Billing")
    worker()
    link = invitation_link(smtp_server, NEW_PERSON)

    nina = phone()
    nina.goto(f"{live_server.url}{link}")
    expect(nina.get_by_role("heading", name="Join Brightwave Analytics BV")).to_be_visible()
    fits(nina)
    nina.get_by_label("First name", exact=True).fill("Nina")
    nina.get_by_label("Last name", exact=True).fill("Numbers")
    nina.get_by_label("New password", exact=True).fill("Numbers-add-up-77")
    nina.get_by_label("Repeat it", exact=True).fill("Numbers-add-up-77")
    nina.get_by_role("button", name="Create my access and join").click()
    expect(nina.get_by_role("heading", name="Brightwave Analytics BV", level=1)).to_be_visible()
    assert nina.url == f"{live_server.url}/c/{company.pk}/"
    fits(nina)
    assert Membership.objects.get(user__email=NEW_PERSON, company=company).role == "billing"

    again = phone()
    again.goto(f"{live_server.url}{link}")
    expect(again.get_by_role("heading", name="This invitation no longer works")).to_be_visible()
    assert Membership.objects.filter(company=company).count() == 2


def test_an_existing_user_signs_in_and_accepts_and_another_account_or_a_revoked_link_is_refused(
    live_server, phone, submitted, tess_user, smtp_server, worker, other_company_user
):
    company = submitted.company
    Membership.objects.filter(user=tess_user).update(role="admin")
    eddy = User.objects.create_user(EXISTING, "Eddy-elsewhere-2026", first_name="Eddy")
    tess = phone()
    sign_in(tess, live_server.url, tess_user.email, "Tess-manages-2026")
    invite(tess, live_server.url, company.pk, EXISTING, "Technical")
    worker()
    link = invitation_link(smtp_server, EXISTING)

    olga = phone()
    sign_in(olga, live_server.url, other_company_user.email, "Olga-elsewhere-2026")
    olga.goto(f"{live_server.url}{link}")
    expect(olga.get_by_text(f"This invitation is for {EXISTING}")).to_be_visible()
    expect(olga.get_by_role("button", name="Accept and join Brightwave Analytics BV")).to_have_count(0)
    assert not Membership.objects.filter(user=other_company_user, company=company).exists()

    visitor = phone()
    visitor.goto(f"{live_server.url}{link}")
    visitor.get_by_role("link", name="Sign in to accept").click()
    visitor.get_by_label("E-mail", exact=True).fill(EXISTING)
    visitor.get_by_label("Password", exact=True).fill("Eddy-elsewhere-2026")
    visitor.get_by_label("Password", exact=True).press("Enter")
    visitor.get_by_role("button", name="Accept and join Brightwave Analytics BV").click()
    expect(visitor.get_by_role("heading", name="Brightwave Analytics BV", level=1)).to_be_visible()
    fits(visitor)
    assert Membership.objects.get(user=eddy, company=company).role == "technical"

    # A second invitation, withdrawn by Tess before it is used, opens nothing.
    invite(tess, live_server.url, company.pk, "late@brightwave.example", "Read-only")
    worker()
    late_link = invitation_link(smtp_server, "late@brightwave.example")
    tess.goto(f"{live_server.url}/c/{company.pk}/")
    tess.get_by_role("button", name="Withdraw the invitation of late@brightwave.example").click()
    assert Invitation.objects.get(email="late@brightwave.example").revoked_at <= timezone.now()
    late = phone()
    late.goto(f"{live_server.url}{late_link}")
    expect(late.get_by_role("heading", name="This invitation no longer works")).to_be_visible()
