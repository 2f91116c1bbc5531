"""Who may see what: Olga never sees Brightwave, Tess is no staff, Vera needs her second factor."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.onboarding.models import TenantRequest

pytestmark = pytest.mark.django_db

VERA_PASSWORD = "Vera-validates-2026"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bearer_for(client, email: str, password: str, **extra) -> dict:
    answer = client.post(
        "/api/v1/auth/token", {"email": email, "password": password, **extra}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    return {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['token']}"}


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


def wrong_code(device: TOTPDevice) -> str:
    """A code the device refuses now: none of those of the current step and its neighbours."""
    valid = {f"{totp(device.bin_key, drift=drift):06d}" for drift in (-1, 0, 1)}
    return next(code for code in ("000000", "000001", "000002", "000003") if code not in valid)


def test_olga_cannot_see_brightwaves_request_anywhere(client, submitted, tess_user, other_company_user):
    olgas = TenantRequest.objects.get(domain_prefix="othercorp")
    missing = client.get(
        "/api/v1/tenant-requests/999999", **bearer_for(client, "olga@other.example", "Olga-elsewhere-2026")
    )

    client.force_login(other_company_user)
    assert client.get(f"/requests/{olgas.pk}/").status_code == 200
    assert client.get(f"/requests/{submitted.pk}/").status_code == 404
    by_session = client.get(f"/api/v1/tenant-requests/{submitted.pk}")
    assert by_session.status_code == 404
    assert client.get(f"/api/v1/tenant-requests/{olgas.pk}").status_code == 200

    client.logout()
    by_token = client.get(
        f"/api/v1/tenant-requests/{submitted.pk}", **bearer_for(client, "olga@other.example", "Olga-elsewhere-2026")
    )
    assert by_token.status_code == 404
    assert by_token.json() == by_session.json() == missing.json()
    assert "Brightwave" not in by_token.content.decode()

    client.force_login(tess_user)
    assert client.get(f"/requests/{submitted.pk}/").status_code == 200
    assert (
        client.get(f"/api/v1/tenant-requests/{submitted.pk}").json()["company"]["legal_name"]
        == "Brightwave Analytics BV"
    )
    assert client.get(f"/requests/{olgas.pk}/").status_code == 404


def test_a_visitor_is_sent_to_sign_in_or_told_to_authenticate(client, submitted):
    page = client.get(f"/requests/{submitted.pk}/")
    assert page.status_code == 302
    assert page.url == f"/accounts/login/?next=/requests/{submitted.pk}/"

    api = client.get(f"/api/v1/tenant-requests/{submitted.pk}")
    assert api.status_code == 401
    assert api["Content-Type"].startswith("application/json")
    assert api.json()["detail"]

    assert client.get("/backoffice/").url.startswith("/accounts/login/")
    assert client.get("/api/v1/staff/tenant-requests").status_code == 401


def test_tess_is_no_staff(client, submitted, tess_user):
    client.force_login(tess_user)
    assert client.get("/backoffice/").status_code == 404
    assert client.get(f"/backoffice/requests/{submitted.pk}/").status_code == 404
    assert client.post(f"/backoffice/requests/{submitted.pk}/validate/").status_code == 404
    assert client.post(f"/backoffice/requests/{submitted.pk}/reject/", {"reason": "I can"}).status_code == 404

    listing = client.get("/api/v1/staff/tenant-requests?stage=to_validate")
    assert listing.status_code == 403
    assert listing.json()["detail"] == "This is for the reseller's staff."
    client.logout()
    token = bearer_for(client, "tess@brightwave.example", "Tess-manages-2026")
    for action, body in (("validate", {}), ("reject", {"reason": "x"}), ("request-changes", {"message": "x"})):
        answer = client.post(
            f"/api/v1/staff/tenant-requests/{submitted.pk}/{action}", body, content_type="application/json", **token
        )
        assert answer.status_code == 403
    submitted.refresh_from_db()
    assert submitted.stage == "to_validate"
    assert submitted.timeline.count() == 1


def test_vera_without_a_verified_device_is_sent_to_mfa(client, vera, submitted, settings):
    settings.STAFF_REQUIRE_MFA = True
    client.force_login(vera)
    for path in ("/backoffice/", f"/backoffice/requests/{submitted.pk}/"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.url == f"/accounts/mfa/?next={path}"
    assert client.post(f"/backoffice/requests/{submitted.pk}/validate/").url.startswith("/accounts/mfa/")
    assert client.get("/api/v1/staff/tenant-requests").status_code == 403
    client.logout()

    def token(**extra):
        return client.post(
            "/api/v1/auth/token",
            {"email": vera.email, "password": VERA_PASSWORD, **extra},
            content_type="application/json",
        )

    not_enrolled = token()
    assert not_enrolled.status_code == 401
    assert "enrol" in not_enrolled.json()["detail"]

    device = TOTPDevice.objects.create(user=vera, name="phone", confirmed=True)
    assert token().status_code == 401
    assert token(otp=wrong_code(device)).status_code == 401
    submitted.refresh_from_db()
    assert submitted.stage == "to_validate"


def test_five_wrong_passwords_lock_the_account(client, vera):
    for _ in range(5):
        wrong = client.post("/accounts/login/", {"email": vera.email, "password": "not-her-password"})
        assert wrong.status_code in (400, 429)
    right = client.post("/accounts/login/", {"email": vera.email, "password": VERA_PASSWORD})
    assert right.status_code == 429
    assert "Too many failed sign-ins" in right.content.decode()
    assert "_auth_user_id" not in client.session

    api = client.post(
        "/api/v1/auth/token", {"email": vera.email, "password": VERA_PASSWORD}, content_type="application/json"
    )
    assert api.status_code == 429
    assert api.json()["detail"].startswith("Too many failed sign-ins")


def test_vera_enrols_an_authenticator_app_from_an_emailed_link_and_opens_the_backoffice(
    client, vera, submitted, settings, time_machine, smtp_server, worker
):
    settings.STAFF_REQUIRE_MFA = True
    time_machine.move_to(timezone.now(), tick=False)

    signed_in = client.post("/accounts/login/", {"email": vera.email, "password": VERA_PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in.url == "/accounts/mfa/?next=/backoffice/"

    ask = client.get(signed_in.url)
    assert ask.status_code == 200
    assert "Set up two-step sign-in" in ask.content.decode()
    assert not TOTPDevice.objects.filter(user=vera).exists()
    assert client.post(signed_in.url, {"next": "/backoffice/"}).status_code == 200
    worker()
    [setup_mail] = smtp_server.to(vera.email)
    text = setup_mail.get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/mfa/enrol/[A-Za-z0-9_\-]{43}/)", text).group(1)

    enrolment = client.get(f"{link}?next=/backoffice/")
    assert enrolment.status_code == 200
    assert "Scan this code" in enrolment.content.decode()
    device = TOTPDevice.objects.get(user=vera)
    assert not device.confirmed

    wrong = client.post(link, {"code": wrong_code(device), "next": "/backoffice/"})
    assert wrong.status_code == 400
    assert "This code is not right" in wrong.content.decode()
    assert client.get("/backoffice/").status_code == 302

    time_machine.shift(timedelta(seconds=31))
    verified = client.post(link, {"code": code_of(device), "next": "/backoffice/"})
    assert verified.status_code == 302
    assert verified.url == "/accounts/security/codes/?next=/backoffice/"  # the first device's recovery codes, once
    assert "Continue" in client.get(verified.url).content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/backoffice/").status_code == 200
    assert client.get(f"/backoffice/requests/{submitted.pk}/").status_code == 200

    time_machine.shift(timedelta(seconds=31))
    token = bearer_for(client, vera.email, VERA_PASSWORD, otp=code_of(device))
    listing = client.get("/api/v1/staff/tenant-requests?stage=to_validate", **token)
    assert listing.status_code == 200
    assert [r["id"] for r in listing.json()["results"]] == [submitted.pk]
