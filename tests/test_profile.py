"""The signed-in person's own account: details, password, and the sessions on other browsers."""

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.notifications.models import OutboundEmail

pytestmark = pytest.mark.django_db

TESS, PASSWORD, NEW = "tess@brightwave.example", "Tess-manages-2026", "Korenmarkt-bridges-77"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def browser() -> Client:
    signed_in = Client()
    assert signed_in.post("/accounts/login/", {"email": TESS, "password": PASSWORD})["Location"] == "/"
    return signed_in


def signed_in(client: Client) -> bool:
    return client.get("/accounts/profile/").status_code == 200


def test_the_profile_keeps_name_phone_and_language_with_the_request_forms_rules(tess_user):
    tess = browser()
    page = tess.get("/accounts/profile/").content.decode()
    assert "Your account" in page and TESS in page

    bad = tess.post("/accounts/profile/", {"first_name": "Tess", "last_name": "Tech", "phone": "12", "language": "nl"})
    assert bad.status_code == 400 and "This phone number does not exist for its country" in bad.content.decode()
    saved = tess.post(
        "/accounts/profile/", {"first_name": "Tess", "last_name": "Tech", "phone": "02 555 12 34", "language": "nl"}
    )
    assert saved.status_code == 302
    user = User.objects.get(email=TESS)
    assert (user.first_name, user.last_name, user.phone, user.language) == ("Tess", "Tech", "+3225551234", "nl")


def test_changing_the_password_needs_the_current_one_and_signs_out_the_other_browsers(tess_user):
    tess, elsewhere = browser(), browser()
    form = {"current_password": "guess", "password1": NEW, "password2": NEW}
    wrong = tess.post("/accounts/password/change/", form)
    assert wrong.status_code == 400 and "This is not your current password." in wrong.content.decode()
    assert User.objects.get(email=TESS).check_password(PASSWORD)

    changed = tess.post("/accounts/password/change/", {**form, "current_password": PASSWORD})
    assert changed.status_code == 302
    assert signed_in(tess) and not signed_in(elsewhere)
    assert User.objects.get(email=TESS).check_password(NEW)
    notice = OutboundEmail.objects.get(template="password-changed")
    assert notice.to == [TESS] and NEW not in notice.body_text


def test_signing_out_everywhere_else_keeps_this_browser(tess_user):
    tess, elsewhere, another = browser(), browser(), browser()
    assert tess.post("/accounts/sessions/end-others/").status_code == 302
    assert signed_in(tess) and not signed_in(elsewhere) and not signed_in(another)
    assert browser() and signed_in(tess)  # signing in again works, and does not end this session


def test_the_account_pages_are_for_the_signed_in(client):
    assert client.get("/accounts/profile/")["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/sessions/end-others/")["Location"].startswith("/accounts/login/")
