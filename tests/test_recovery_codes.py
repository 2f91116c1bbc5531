"""Recovery codes stand in for a lost device, once each; the security page lists and removes a user's devices."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from portal.accounts.models import User
from portal.accounts.services import recovery_codes_left, second_factor_added
from tests.test_access import code_of

pytestmark = pytest.mark.django_db

TESS = {"email": "tess@brightwave.example", "password": "Tess-manages-2026"}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tess_device(tess_user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=tess_user, name="Authenticator app", confirmed=True)


def passkey_of(user: User, number: int = 1) -> WebAuthnCredential:
    """A registered passkey, as django-otp-webauthn stores one (the browser tests register real ones)."""
    credential = WebAuthnCredential(
        user=user, name=f"Passkey {number}", credential_id=f"key-{user.pk}-{number}".encode(), public_key=b"-"
    )
    credential.save()
    return credential


def notices(inbox, user: User) -> list[str]:
    """The subjects of the security notices the user received (the request's e-mails left aside)."""
    return [str(m["Subject"]) for m in inbox.to(user.email) if "portal account" in str(m["Subject"])]


def token(client, **extra):
    return client.post("/api/v1/auth/token", {**TESS, **extra}, content_type="application/json")


def test_the_first_device_comes_with_ten_codes_and_a_later_one_adds_none(tess_user, tess_device):
    codes = second_factor_added(user=tess_user)
    assert len(codes) == len(set(codes)) == 10 and all(re.fullmatch(r"[a-z2-7]{8}", code) for code in codes)
    assert second_factor_added(user=tess_user) == []
    assert recovery_codes_left(user=tess_user) == 10


def test_enrolling_an_authenticator_app_shows_the_codes_once_with_a_download(client, tess_user, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    client.force_login(tess_user)
    assert "Scan this code" in client.get("/accounts/security/authenticator/").content.decode()
    device = TOTPDevice.objects.get(user=tess_user, confirmed=False)
    enrolled = client.post("/accounts/security/authenticator/", {"code": code_of(device)})
    assert enrolled.status_code == 302 and enrolled.url == "/accounts/security/codes/?next=/accounts/security/"

    shown = client.get(enrolled.url)
    page = shown.content.decode()
    codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", page)
    assert len(codes) == 10 and 'download="recovery-codes.txt"' in page and shown["Cache-Control"] == "no-store"
    assert StaticToken.objects.filter(device__user=tess_user).count() == 10
    assert "<code>" not in client.get(enrolled.url).content.decode()  # shown once
    security = client.get("/accounts/security/").content.decode()
    assert "10 of 10 recovery codes left" in security and "Authenticator app" in security


def test_a_recovery_code_signs_in_once_and_the_owner_is_told(client, tess_user, tess_device, smtp_server, worker):
    code = second_factor_added(user=tess_user)[0]
    client.post("/accounts/login/", TESS)
    typed = f"{code[:4].upper()}-{code[4:]}"  # as printed, in capitals
    given = client.post("/accounts/mfa/?next=/", {"code": typed})
    assert given.status_code == 302 and given.url == "/"
    assert client.get("/").status_code == 200
    worker()
    [notice] = [m for m in smtp_server.to(tess_user.email) if "recovery code" in str(m["Subject"])]
    assert "9 of your codes are left" in notice.get_body(("plain",)).get_content()

    client.post("/accounts/logout/")
    client.post("/accounts/login/", TESS)
    again = client.post("/accounts/mfa/?next=/", {"code": typed})
    assert again.status_code == 400
    assert "This recovery code is not right, or it was already used" in again.content.decode()
    assert 'aria-describedby="code-help id_code_error"' in again.content.decode()
    assert client.get("/").status_code == 302  # still waiting for the second step


def test_a_recovery_code_gets_one_api_token(client, tess_user, tess_device, submitted, smtp_server, worker):
    code = second_factor_added(user=tess_user)[0]
    first = token(client, otp=code)
    assert first.status_code == 201
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {first.json()['token']}"}
    assert client.get(f"/api/v1/tenant-requests/{submitted.pk}", **bearer).status_code == 200
    second = token(client, otp=code)
    assert second.status_code == 401 and "recovery code" in second.json()["detail"]
    worker()
    assert notices(smtp_server, tess_user) == ["A recovery code of your Arxus portal account was used"]


def test_with_passkeys_only_the_api_asks_for_a_recovery_code(client, tess_user):
    passkey_of(tess_user)
    codes = second_factor_added(user=tess_user)
    refused = token(client)
    assert refused.status_code == 401
    assert "recovery codes" in refused.json()["detail"] and "authenticator app" in refused.json()["detail"]
    assert token(client, otp="123456").status_code == 401
    assert token(client, otp=codes[3]).status_code == 201
    assert token(client, otp=codes[3]).status_code == 401


def test_a_passkey_makes_every_sign_in_ask_for_a_second_step(client, tess_user):
    passkey_of(tess_user)
    signed_in = client.post("/accounts/login/", TESS)
    assert signed_in.url == "/accounts/mfa/?next=/"
    page = client.get("/accounts/mfa/?next=/").content.decode()
    assert "Use a passkey" in page and 'id="passkey-verification-placeholder"' in page
    assert client.get("/").status_code == 302


def test_new_codes_void_the_old_ones_and_the_owner_is_told(client, tess_user, tess_device, smtp_server, worker):
    old = second_factor_added(user=tess_user)
    client.force_login(tess_user)
    made = client.post("/accounts/security/codes/new/")
    assert made.status_code == 302 and made.url.startswith("/accounts/security/codes/")
    new = [c.replace("-", "") for c in re.findall(r"<code>([a-z2-7-]+)</code>", client.get(made.url).content.decode())]
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=tess_user).values_list("token", flat=True)) == set(new)
    worker()
    assert notices(smtp_server, tess_user) == ["New recovery codes for your Arxus portal account"]


def test_removing_a_device_the_last_one_takes_the_codes_and_another_users_device_is_unknown(
    client, tess_user, tess_device, other_company_user, smtp_server, worker
):
    second_factor_added(user=tess_user)
    olgas = passkey_of(other_company_user)
    client.force_login(tess_user)
    for kind, pk in (("passkey", olgas.pk), ("authenticator", 999999), ("sms", tess_device.pk)):
        assert client.post(f"/accounts/security/devices/{kind}/{pk}/remove/").status_code == 404
    assert WebAuthnCredential.objects.filter(pk=olgas.pk).exists()

    key = passkey_of(tess_user)
    assert client.post(f"/accounts/security/devices/authenticator/{tess_device.pk}/remove/").status_code == 302
    assert not TOTPDevice.objects.filter(pk=tess_device.pk).exists() and recovery_codes_left(user=tess_user) == 10
    assert client.post(f"/accounts/security/devices/passkey/{key.pk}/remove/").status_code == 302
    assert recovery_codes_left(user=tess_user) is None  # nothing left for codes to stand in for
    page = client.get("/accounts/security/").content.decode()
    assert "Two-step sign-in is off" in page
    worker()
    assert notices(smtp_server, tess_user) == ["A sign-in device was removed from your Arxus portal account"] * 2


def test_removing_a_device_needs_a_recent_sign_in(client, tess_user, tess_device, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    client.force_login(tess_user)
    time_machine.shift(timedelta(minutes=16))
    path = f"/accounts/security/devices/authenticator/{tess_device.pk}/remove/"
    refused = client.post(path, HTTP_REFERER="http://testserver/accounts/security/")
    assert refused.status_code == 302 and refused.url == "/accounts/confirm/?next=/accounts/security/"
    assert TOTPDevice.objects.filter(pk=tess_device.pk).exists()
    wrong = client.post(refused.url, {"password": "not-it"})
    assert wrong.status_code == 400 and "This is not your password." in wrong.content.decode()
    time_machine.shift(3)  # django-otp makes a guesser wait after a wrong code
    confirmed = client.post(refused.url, {"code": code_of(tess_device), "next": "/accounts/security/"})
    assert confirmed.status_code == 302 and confirmed.url == "/accounts/security/"
    assert client.post(path).status_code == 302
    assert not TOTPDevice.objects.filter(pk=tess_device.pk).exists()
