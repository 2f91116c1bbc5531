"""Every page fits a 390 px phone: nothing scrolls sideways (long names wrap, wide tables scroll in their box)."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from portal.accounts.models import User
from portal.companies.services import identity_change_request
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit
from tests.conftest import request_data
from tests.test_browser import browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Brightwave Analytics and Extraordinarily Long Company Name Holding International BV"


def session_cookie(live_server, user: User) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": django_settings.SESSION_COOKIE_NAME,
        "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


def widths(browser, live_server, paths: list[str], user: User | None = None) -> dict[str, int]:  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    if user is not None:
        context.add_cookies([session_cookie(live_server, user)])
    page = context.new_page()
    found = {}
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        found[path] = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    return found


def test_no_page_scrolls_sideways_on_a_390_px_phone(live_server, browser, settings):  # noqa: F811
    settings.STAFF_REQUIRE_MFA = False
    settings.SECURE_SSL_REDIRECT = False
    request = request_submit(data=request_data(legal_name=LONG_NAME, domain_prefix="brightwaveextraordinarily"))
    for n in range(3):
        request_submit(data=request_data(legal_name=f"{LONG_NAME} {n}", domain_prefix=f"longname{n}"))
    tess = User.objects.create_user("tess.with.a.long.address@brightwave-analytics.example", "Tess-manages-2026")
    tess.companies.add(request.company, through_defaults={"role": "admin"})
    long_change = {"legal_name": {"old": LONG_NAME, "new": f"{LONG_NAME} Renamed"}}
    identity_change_request(company_id=request.company_id, changes=long_change, by=tess)  # the staff queue's row
    vera = User.objects.create_user("vera@reseller.example", "Vera-validates-2026", is_staff=True)

    too_wide = {}
    for user, paths in (
        (None, ["/", "/request-tenant/", "/accounts/login/", "/accounts/password/reset/", "/verify/"]),
        (
            tess,
            [
                "/",
                f"/requests/{request.pk}/",
                "/accounts/profile/",
                "/accounts/security/",
                "/accounts/security/authenticator/",
                "/accounts/confirm/?next=/",
                f"/c/{request.company_id}/",
                f"/c/{request.company_id}/profile/",
                f"/c/{request.company_id}/contacts/new/",
                f"/c/{request.company_id}/identity/",
            ],
        ),
        (
            vera,
            [
                "/backoffice/",
                f"/backoffice/requests/{request.pk}/",
                "/backoffice/sign-in-lockouts/",
                "/backoffice/identity-changes/",
            ],
        ),
    ):
        for path, width in widths(browser, live_server, paths, user).items():
            if width > 390:
                too_wide[f"{user or 'visitor'} {path}"] = width
    assert TenantRequest.objects.count() == 4
    assert not too_wide, too_wide
