"""Sign-in lockout as its owner meets it: a truthful message, a way in by e-mail, and staff who can unlock."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

TESS, PASSWORD = "tess@brightwave.example", "Tess-manages-2026"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"email": email, "password": password})


def lock_tess(client: Client) -> None:
    """Five wrong passwords: the fifth answer is already the lockout."""
    answers = [sign_in(client, TESS, "not-her-password").status_code for _ in range(5)]
    assert answers == [400, 400, 400, 400, 429]


def test_failures_for_an_address_nobody_has_lock_no_real_account_from_the_same_place(client, tess_user):
    for _ in range(8):
        assert sign_in(client, "tes@brightwave.example", PASSWORD).status_code in (400, 429)
    assert sign_in(client, TESS, PASSWORD)["Location"] == "/"


def test_five_failures_lock_the_account_with_a_message_that_says_until_when(client, tess_user, time_machine):
    time_machine.move_to("2026-03-03 10:00:00+01:00", tick=False)
    lock_tess(client)

    locked = sign_in(client, TESS, PASSWORD)
    page = locked.content.decode()
    assert locked.status_code == 429 and locked["Retry-After"] == "900"
    assert "locked until 10:15 (in 15 minutes)" in page and "Forgot your password?" in page
    token = client.post("/api/v1/auth/token", {"email": TESS, "password": PASSWORD}, content_type="application/json")
    assert token.status_code == 429 and "locked until 10:15" in token.json()["detail"]

    time_machine.move_to("2026-03-03 10:16:00+01:00", tick=False)
    assert sign_in(client, TESS, PASSWORD)["Location"] == "/"


def test_staff_see_the_locked_account_and_unlock_it(client, tess_user, vera):
    lock_tess(client)
    staff = Client()
    staff.force_login(vera)
    listed = staff.get("/backoffice/sign-in-lockouts/").content.decode()
    assert TESS in listed and re.search(r"<td>5</td>", listed)

    answer = staff.post("/backoffice/sign-in-lockouts/unlock/", {"email": TESS}, follow=True)
    assert f"{TESS} can sign in again." in answer.content.decode()
    assert "No account is locked." in answer.content.decode()
    assert sign_in(client, TESS, PASSWORD)["Location"] == "/"


def test_the_lockout_page_and_its_unlock_are_for_staff_only(client, tess_user):
    client.force_login(tess_user)
    assert client.get("/backoffice/sign-in-lockouts/").status_code == 404
    assert client.post("/backoffice/sign-in-lockouts/unlock/", {"email": TESS}).status_code == 404
