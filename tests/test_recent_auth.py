"""Changing a member needs a sign-in from the last 15 minutes: older sessions confirm first, older tokens get 403."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.accounts.recent_auth import TOKEN_TOO_OLD
from portal.companies.models import Membership
from tests.test_access import bearer_for
from tests.test_company_members import team  # noqa: F401 (the fixture: Tess admin, Bert billing)

pytestmark = pytest.mark.django_db

TESS = {"email": "tess@brightwave.example", "password": "Tess-manages-2026"}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def now(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def test_a_role_change_20_minutes_after_sign_in_confirms_the_password_first(client, team, now):  # noqa: F811
    company, tess, bert = team
    bert_id = Membership.objects.get(user=bert).pk
    assert client.post("/accounts/login/", TESS).status_code == 302
    company_page = f"http://testserver/c/{company.pk}/"
    change = f"/c/{company.pk}/members/{bert_id}/role/"

    now.shift(timedelta(minutes=10))
    assert client.post(change, {"role": "technical"}, HTTP_REFERER=company_page).status_code == 302
    assert Membership.objects.get(pk=bert_id).role == "technical"

    now.shift(timedelta(minutes=20))
    sent = client.post(change, {"role": "readonly"}, HTTP_REFERER=company_page)
    assert sent.status_code == 302 and sent.url == f"/accounts/confirm/?next=/c/{company.pk}/"
    assert Membership.objects.get(pk=bert_id).role == "technical"
    removal = client.post(f"/c/{company.pk}/members/{bert_id}/remove/", HTTP_REFERER=company_page)
    assert removal.url == sent.url and Membership.objects.filter(pk=bert_id).exists()

    page = client.get(sent.url)
    assert page.status_code == 200 and "Confirm it is you" in page.content.decode()
    confirmed = client.post(sent.url, {"password": TESS["password"], "next": f"/c/{company.pk}/"})
    assert confirmed.status_code == 302 and confirmed.url == f"/c/{company.pk}/"
    assert client.post(change, {"role": "readonly"}, HTTP_REFERER=company_page).status_code == 302
    assert Membership.objects.get(pk=bert_id).role == "readonly"


def test_the_confirm_page_goes_nowhere_else_than_this_site(client, team, now):  # noqa: F811
    company, tess, bert = team
    client.force_login(tess)
    back = client.post("/accounts/confirm/", {"password": TESS["password"], "next": "https://evil.example/"})
    assert back.status_code == 302 and back.url == "/"


def test_a_token_older_than_15_minutes_may_not_change_members_and_a_new_one_may(client, team, now):  # noqa: F811
    company, tess, bert = team
    bert_id = Membership.objects.get(user=bert).pk
    old = bearer_for(client, **TESS)
    now.shift(timedelta(minutes=20))
    url = f"/api/v1/companies/{company.pk}/members/{bert_id}"
    refused = client.patch(url, {"role": "technical"}, content_type="application/json", **old)
    assert refused.status_code == 403 and refused.json() == {"detail": TOKEN_TOO_OLD}
    assert client.delete(url, **old).status_code == 403
    assert client.get(f"/api/v1/companies/{company.pk}/members", **old).status_code == 200  # reading needs no check
    assert Membership.objects.get(pk=bert_id).role == "billing"

    fresh = bearer_for(client, **TESS)
    changed = client.patch(url, {"role": "technical"}, content_type="application/json", **fresh)
    assert changed.status_code == 200 and changed.json()["role"] == "technical"
    assert client.delete(url, **fresh).status_code == 204


def test_the_browser_session_in_the_api_follows_its_sign_in(client, team, now):  # noqa: F811
    company, tess, bert = team
    bert_id = Membership.objects.get(user=bert).pk
    client.post("/accounts/login/", TESS)
    now.shift(timedelta(minutes=20))
    csrf = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if "csrftoken" in client.cookies else {}
    url = f"/api/v1/companies/{company.pk}/members/{bert_id}"
    refused = client.patch(url, {"role": "technical"}, content_type="application/json", **csrf)
    assert refused.status_code == 403 and refused.json() == {"detail": TOKEN_TOO_OLD}


def test_another_company_still_answers_404_before_any_check(client, team, other_company_user, now):  # noqa: F811
    company, tess, bert = team
    bert_id = Membership.objects.get(user=bert).pk
    client.force_login(other_company_user)
    now.shift(timedelta(minutes=20))
    assert client.post(f"/c/{company.pk}/members/{bert_id}/role/", {"role": "admin"}).status_code == 404
