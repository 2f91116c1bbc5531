"""Once a customer has an authenticator, every sign-in asks for its code: the password alone reaches nothing."""

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.test_access import code_of, wrong_code

pytestmark = pytest.mark.django_db

TESS = {"email": "tess@brightwave.example", "password": "Tess-manages-2026"}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tess_device(tess_user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=tess_user, name="Authenticator app", confirmed=True)


def test_a_customer_with_an_authenticator_is_asked_for_its_code_at_sign_in_and_nothing_opens_before(
    client, submitted, tess_device, time_machine
):
    time_machine.move_to(timezone.now(), tick=True)
    signed_in = client.post("/accounts/login/", TESS)
    assert signed_in.status_code == 302 and signed_in["Location"] == "/accounts/mfa/?next=/"

    for page in ("/", f"/requests/{submitted.pk}/"):
        waiting = client.get(page)
        assert waiting.status_code == 302 and waiting["Location"].startswith("/accounts/mfa/?next=")
    api = client.get(f"/api/v1/tenant-requests/{submitted.pk}")
    assert api.status_code == 401 and "authenticator" in api.json()["detail"]
    assert "Enter the 6-digit code from your authenticator app" in client.get("/accounts/mfa/").content.decode()

    wrong = client.post("/accounts/mfa/?next=/", {"code": wrong_code(tess_device)})
    assert wrong.status_code == 400
    assert client.get("/").status_code == 302  # still waiting
    time_machine.shift(2)  # django-otp makes a guesser wait after a wrong code

    given = client.post("/accounts/mfa/?next=/", {"code": code_of(tess_device)})
    assert given.status_code == 302 and given["Location"] == "/"
    home = client.get("/").content.decode()
    assert "Brightwave Analytics BV" in home and "set up two-step sign-in" not in home
    assert client.get(f"/api/v1/tenant-requests/{submitted.pk}").status_code == 200


def test_without_an_authenticator_the_password_signs_in_and_the_home_page_offers_one(client, tess_user):
    signed_in = client.post("/accounts/login/", TESS)
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    assert "set up two-step sign-in" in client.get("/").content.decode()


def test_an_api_token_for_an_account_with_an_authenticator_needs_its_code(client, submitted, tess_device, time_machine):
    time_machine.move_to(timezone.now(), tick=True)

    def token(**extra):
        return client.post("/api/v1/auth/token", {**TESS, **extra}, content_type="application/json")

    for refused in (token(), token(otp=wrong_code(tess_device))):
        assert refused.status_code == 401 and '"otp"' in refused.json()["detail"]
    time_machine.shift(4)  # django-otp makes a guesser wait after a wrong code
    answer = token(otp=code_of(tess_device))
    assert answer.status_code == 201
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['token']}"}
    assert client.get(f"/api/v1/tenant-requests/{submitted.pk}", **bearer).status_code == 200
