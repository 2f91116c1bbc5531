"""What a security probe found, each defect with the test that failed before its fix.

Staff bearer tokens with two-step sign-in, lockout that one client could turn against everyone, a forgeable
signer address, control characters that broke pages, trust-on-first-use of staff authenticators, and a few
smaller leaks.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.models import ApiToken, User
from portal.agreements.models import Agreement
from portal.companies.models import Membership
from portal.core.text import CONTROL_REFUSED
from portal.core.tokens import token_new
from portal.notifications.services import email_render
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from portal.provisioning.models import SimulatedCustomer
from tests.conftest import api_body, form_post, latest_code, request_data, signing_token

VERA_PASSWORD = "Vera-validates-2026"
TESS_PASSWORD = "Tess-manages-2026"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_via_api(client, inbox, worker, token: str, **headers):
    assert client.post(f"/api/v1/signing/{token}/code").status_code == 202
    worker()
    body = {"full_name": "Carl Commerce", "job_title": "CEO", "signing_authority": True, "code": latest_code(inbox)}
    return client.post(f"/api/v1/signing/{token}", body, content_type="application/json", **headers)


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


# --- 1. A staff bearer token got 500 with staff two-step sign-in on --------------------------------------


@pytest.mark.django_db
def test_staff_bearer_token_with_two_step_on_reads_a_request_and_its_agreement_without_500(
    client, vera, submitted, settings
):
    """Defect: `user.is_verified()` was called on a bearer token's user, whom the OTP middleware never saw."""
    settings.STAFF_REQUIRE_MFA = True
    device = TOTPDevice.objects.create(user=vera, name="phone", confirmed=True)
    token = client.post(
        "/api/v1/auth/token",
        {"email": vera.email, "password": VERA_PASSWORD, "otp": code_of(device)},
        content_type="application/json",
    )
    assert token.status_code == 201, token.content
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token.json()['token']}"}

    read = client.get(f"/api/v1/tenant-requests/{submitted.pk}", **bearer)
    assert read.status_code == 200, read.content
    assert read.json()["id"] == submitted.pk
    pdf = client.get(f"/api/v1/tenant-requests/{submitted.pk}/agreement.pdf", **bearer)
    assert pdf.status_code == 404
    assert pdf.json()["detail"] == "This request has no signed agreement yet."


@pytest.mark.django_db
def test_staff_bearer_token_issued_without_the_second_factor_opens_nothing(client, vera, submitted, settings):
    settings.STAFF_REQUIRE_MFA = True
    raw, hashed = token_new()
    ApiToken.objects.create(user=vera, token_hash=hashed, expires_at=timezone.now() + timedelta(days=1))
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(f"/api/v1/tenant-requests/{submitted.pk}", **bearer).status_code == 403
    assert client.get(f"/api/v1/tenant-requests/{submitted.pk}/agreement.pdf", **bearer).status_code == 403
    assert client.get("/api/v1/staff/tenant-requests", **bearer).status_code == 403


# --- 2. One client could lock out everyone ------------------------------------------------------------


def sign_in(client, email: str, password: str, **meta):
    return client.post("/accounts/login/", {"email": email, "password": password}, **meta)


@pytest.fixture
def tess(submitted) -> User:
    user = User.objects.create_user("tess@brightwave.example", TESS_PASSWORD, first_name="Tess")
    Membership.objects.create(user=user, company=submitted.company)
    return user


@pytest.mark.django_db
def test_one_client_failing_with_many_emails_locks_out_nobody(client, vera, tess):
    """Defect: failures were counted per address, so five wrong tries with any e-mails locked out everyone there."""
    for n in range(8):
        assert sign_in(client, f"stranger{n}@example.com", "wrong-password-123").status_code == 400
    assert sign_in(client, tess.email, "wrong-password-123").status_code == 400
    assert sign_in(client, vera.email, "wrong-password-123").status_code == 400
    assert sign_in(client, tess.email, TESS_PASSWORD).status_code == 302
    client.logout()
    assert sign_in(client, vera.email, VERA_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_failures_on_one_account_lock_it_from_that_address_not_from_another(client, tess):
    for _ in range(5):
        sign_in(client, tess.email, "wrong-password-123", REMOTE_ADDR="198.51.100.7")
    locked = sign_in(client, tess.email, TESS_PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert locked.status_code == 429
    assert sign_in(client, tess.email, TESS_PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


@pytest.mark.django_db
def test_the_email_case_does_not_make_a_new_account_to_guess_on(client, tess):
    for n in range(5):
        variant = tess.email.upper() if n % 2 else f"  {tess.email.title()} "
        sign_in(client, variant, "wrong-password-123")
    assert sign_in(client, tess.email, TESS_PASSWORD).status_code == 429


@pytest.mark.django_db
def test_guessing_spread_over_many_addresses_locks_the_account_everywhere(client, tess, settings):
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 12
    for n in range(12):
        sign_in(client, tess.email, "wrong-password-123", REMOTE_ADDR=f"198.51.100.{n + 1}")
    assert sign_in(client, tess.email, TESS_PASSWORD, REMOTE_ADDR="203.0.113.200").status_code == 429
    api = client.post(
        "/api/v1/auth/token",
        {"email": tess.email, "password": TESS_PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.201",
    )
    assert api.status_code == 429


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_change_the_address_that_failed(client, tess):
    """With no trusted proxy the socket's address counts: a client cannot dodge its lockout with the header."""
    for n in range(5):
        sign_in(client, tess.email, "wrong-password-123", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert sign_in(client, tess.email, TESS_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


@pytest.mark.django_db
def test_behind_trusted_proxies_the_address_they_saw_counts(client, tess, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        # The client writes whatever it likes on the left; our proxy appends the address it saw.
        sign_in(client, tess.email, "wrong-password-123", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.5")
    assert sign_in(client, tess.email, TESS_PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5").status_code == 429
    assert (
        sign_in(client, tess.email, TESS_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5, 203.0.113.6").status_code == 302
    )


# --- 5. Unvalidated company data reached Microsoft -------------------------------------------------------


def test_a_customers_new_request_changes_neither_the_company_nor_what_an_earlier_request_sends(
    client,
    awaiting,
    smtp_server,
    worker,
    vera,
):
    """Defect: a signed-in customer's new request overwrote the shared company row at submission, and a request
    already validated was then created at Microsoft under the new, unvalidated name and VAT number."""
    tess = User.objects.create_user("tess@brightwave.example", TESS_PASSWORD, first_name="Tess")
    Membership.objects.create(user=tess, company=awaiting.company)
    client.force_login(tess)
    second = client.post(
        "/request-tenant/",
        form_post(
            company_legal_name="Renamed Holdings BV",
            company_vat_number="BE0202239951",
            tenant_domain_prefix="secondtenant",
        ),
    )
    assert second.status_code == 302, second.content.decode()[:3000]
    awaiting.company.refresh_from_db()
    assert (awaiting.company.legal_name, awaiting.company.vat_number) == ("Brightwave Analytics BV", "BE0403170701")
    later = TenantRequest.objects.get(domain_prefix="secondtenant")
    assert later.company_id == awaiting.company_id
    assert later.applicant.legal_name == "Renamed Holdings BV"

    client.logout()
    token = signing_token(smtp_server)
    assert sign_via_api(client, smtp_server, worker, token).status_code == 200
    worker()
    awaiting.refresh_from_db()
    assert awaiting.stage == "completed"
    customer = SimulatedCustomer.objects.get(domain="brightwave.onmicrosoft.com")
    assert customer.company_name == "Brightwave Analytics BV"
    client.force_login(tess)
    assert (
        client.get(f"/api/v1/tenant-requests/{awaiting.pk}").json()["company"]["legal_name"]
        == "Brightwave Analytics BV"
    )

    request_validate(request_id=later.pk, by=vera)
    awaiting.company.refresh_from_db()
    assert (awaiting.company.legal_name, awaiting.company.vat_number) == ("Renamed Holdings BV", "BE0202239951")
    worker()
    contracts = [
        str(m["Subject"]).strip()
        for m in smtp_server.to("carl@brightwave.example")
        if "please sign" in str(m["Subject"])
    ]
    assert contracts == [
        "Arxus Service Agreement for Brightwave Analytics BV: please sign online",
        "Arxus Service Agreement for Renamed Holdings BV: please sign online",
    ]


# --- 6. The signer's address in the sealed evidence could be forged ------------------------------------


def test_the_signers_address_is_the_one_that_connected_not_the_one_it_claims(client, awaiting, smtp_server, worker):
    """Defect: the evidence took the leftmost X-Forwarded-For value, which the client writes."""
    token = signing_token(smtp_server)
    signed = sign_via_api(client, smtp_server, worker, token, HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert signed.status_code == 200, signed.content
    assert Agreement.objects.get(request=awaiting).signer_ip == "127.0.0.1"


def test_an_x_forwarded_for_that_is_no_address_gives_no_500(client, awaiting, smtp_server, worker, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    token = signing_token(smtp_server)
    signed = sign_via_api(client, smtp_server, worker, token, HTTP_X_FORWARDED_FOR="<script>")
    assert signed.status_code == 200, signed.content
    assert Agreement.objects.get(request=awaiting).signer_ip is None


def test_behind_a_trusted_proxy_the_evidence_names_the_address_it_saw(client, awaiting, smtp_server, worker, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    token = signing_token(smtp_server)
    page = client.get(f"/sign/{token}/")
    assert page.status_code == 200
    assert client.post(f"/sign/{token}/code/").status_code == 200
    worker()
    signed = client.post(
        f"/sign/{token}/",
        {"full_name": "Carl Commerce", "job_title": "CEO", "signing_authority": "on", "code": latest_code(smtp_server)},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert signed.status_code == 302, signed.content.decode()[:2000]
    assert Agreement.objects.get(request=awaiting).signer_ip == "203.0.113.9"


# --- 7. NUL and other control characters gave 500 ---------------------------------------------------------


CONTROL_TEXTS = ["Carl\x00Commerce", "Carl\x07", "line\x1b[31m", "C1\x85text"]


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_control_characters_in_the_signature_are_refused_with_a_message(client, awaiting, smtp_server, worker, text):
    """Defect: a NUL in the name or title gave 500 (PostgreSQL refuses it)."""
    token = signing_token(smtp_server)
    assert client.post(f"/sign/{token}/code/").status_code == 200
    worker()
    code = latest_code(smtp_server)
    page = client.post(
        f"/sign/{token}/", {"full_name": text, "job_title": "CEO", "signing_authority": "on", "code": code}
    )
    assert page.status_code == 400
    assert CONTROL_REFUSED in page.content.decode()
    api = client.post(
        f"/api/v1/signing/{token}",
        {"full_name": "Carl Commerce", "job_title": text, "signing_authority": True, "code": code},
        content_type="application/json",
    )
    assert api.status_code == 422
    assert CONTROL_REFUSED in str(api.json()["detail"])
    declined = client.post(f"/sign/{token}/decline/", {"reason": f"Not me {text}"})
    assert declined.status_code == 400
    assert CONTROL_REFUSED in declined.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.stage == "awaiting_signature"
    assert Agreement.objects.get(request=awaiting).status == "sent"


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_control_characters_in_staff_reasons_are_refused_with_a_message(client, vera, awaiting, text):
    """Defect: a NUL in the reason of a withdrawal or a cancellation gave 500."""
    client.force_login(vera)
    withdrawn = client.post(f"/backoffice/requests/{awaiting.pk}/withdraw/", {"reason": text}, follow=True)
    assert withdrawn.status_code == 200
    assert CONTROL_REFUSED in withdrawn.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.stage == "awaiting_signature"
    TenantRequest.objects.filter(pk=awaiting.pk).update(stage="provisioning_failed")
    cancelled = client.post(f"/backoffice/requests/{awaiting.pk}/provisioning/cancel/", {"reason": text}, follow=True)
    assert CONTROL_REFUSED in cancelled.content.decode()
    retried = client.post(
        f"/backoffice/requests/{awaiting.pk}/provisioning/retry/", {"domain_prefix": text}, follow=True
    )
    assert CONTROL_REFUSED in retried.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.stage == "provisioning_failed"


@pytest.mark.django_db
@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_control_characters_in_the_request_form_and_api_are_refused_with_a_message(client, vera, submitted, text):
    page = client.post("/request-tenant/", form_post(company_legal_name=text, tenant_domain_prefix="freshname"))
    assert page.status_code == 400
    assert CONTROL_REFUSED in page.content.decode()
    body = api_body()
    body["technical_contact"] = {**body["technical_contact"], "first_name": text}
    body["tenant"] = {**body["tenant"], "domain_prefix": "freshname"}
    api = client.post("/api/v1/tenant-requests", body, content_type="application/json")
    assert api.status_code == 422
    assert CONTROL_REFUSED in str(api.json()["detail"])
    assert TenantRequest.objects.count() == 1

    client.force_login(vera)
    for action, field in (("reject", "reason"), ("request-changes", "message")):
        answer = client.post(
            f"/api/v1/staff/tenant-requests/{submitted.pk}/{action}", {field: text}, content_type="application/json"
        )
        assert answer.status_code == 422
        assert CONTROL_REFUSED in str(answer.json()["detail"])
    submitted.refresh_from_db()
    assert submitted.stage == "to_validate"


@pytest.mark.django_db
def test_control_characters_in_credentials_are_refused_with_a_message(client, tess):
    page = sign_in(client, "tess\x00@brightwave.example", TESS_PASSWORD)
    assert page.status_code == 400
    assert CONTROL_REFUSED in page.content.decode()
    api = client.post(
        "/api/v1/auth/token", {"email": tess.email, "password": "pass\x00word"}, content_type="application/json"
    )
    assert api.status_code == 422
    assert CONTROL_REFUSED in str(api.json()["detail"])


# --- 8. Staff two-step sign-in was trust on first use -------------------------------------------------------


@pytest.mark.django_db
def test_a_password_alone_cannot_enrol_an_authenticator_on_a_staff_account(client, vera, submitted, settings):
    """Defect: with the password alone one could enrol one's own authenticator on a staff account without one."""
    settings.STAFF_REQUIRE_MFA = True
    assert sign_in(client, vera.email, VERA_PASSWORD).status_code == 302
    page = client.get("/accounts/mfa/")
    assert page.status_code == 200
    assert "data:image/svg+xml" not in page.content.decode()
    assert not TOTPDevice.objects.filter(user=vera).exists()
    assert client.post("/accounts/mfa/", {"code": "123456"}).status_code in (200, 429)
    assert not TOTPDevice.objects.filter(user=vera, confirmed=True).exists()
    assert client.get("/backoffice/").status_code == 302
    assert client.get(f"/backoffice/requests/{submitted.pk}/").status_code == 302


def enrolment_link(inbox, email: str) -> str:
    text = inbox.to(email)[-1].get_body(("plain",)).get_content()
    return re.search(r"http://127\.0\.0\.1:8000(/accounts/mfa/enrol/[A-Za-z0-9_\-]{43}/)", text).group(1)


def test_a_set_up_link_works_once_and_only_for_its_own_account(client, vera, settings, smtp_server, worker):
    settings.STAFF_REQUIRE_MFA = True
    sam = User.objects.create_user("sam@reseller.example", "Sam-supports-2026", is_staff=True)
    sign_in(client, vera.email, VERA_PASSWORD)
    assert client.post("/accounts/mfa/").status_code == 200
    again = client.post("/accounts/mfa/")
    assert again.status_code == 429
    worker()
    link = enrolment_link(smtp_server, vera.email)
    assert len(smtp_server.to(vera.email)) == 1

    client.logout()
    sign_in(client, sam.email, "Sam-supports-2026")
    assert client.get(link).status_code == 404
    assert not TOTPDevice.objects.filter(user=sam).exists()

    client.logout()
    sign_in(client, vera.email, VERA_PASSWORD)
    assert client.get(link).status_code == 200
    device = TOTPDevice.objects.get(user=vera)
    assert client.post(link, {"code": code_of(device)}).status_code == 302
    assert client.get(link).status_code == 410


def test_an_admin_can_send_the_set_up_link(client, settings, smtp_server, worker):
    settings.STAFF_REQUIRE_MFA = False
    admin = User.objects.create_superuser("ada@reseller.example", "Ada-administers-2026")
    vera = User.objects.create_user("vera@reseller.example", VERA_PASSWORD, is_staff=True)
    client.force_login(admin)
    session = client.session  # the admin may ask for the second factor too: Ada has passed it
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True).persistent_id
    session.save()
    answer = client.post(
        "/admin/accounts/user/", {"action": "send_mfa_enrolment_link", "_selected_action": [vera.pk]}, follow=True
    )
    assert answer.status_code == 200
    worker()
    assert "/accounts/mfa/enrol/" in smtp_server.to(vera.email)[-1].get_body(("plain",)).get_content()


# --- Low: entities in e-mail subjects, the signer's e-mail on a used link, accept_terms in the schema ------------


@pytest.mark.django_db
def test_email_subjects_carry_no_html_entities():
    """Defect: subjects read `O&#x27;Brien &amp;`: they were escaped as if they were HTML."""
    request = request_submit(data=request_data(legal_name="O'Brien & Sons <Ltd>"))
    subject, text, html = email_render(
        template="contract",
        context={
            "req": request,
            "company": request.company,
            "recipient": request.commercial_contact,
            "signing_url": "http://127.0.0.1:8000/sign/x/",
            "expires_at": "1 January 2027",
            "version": "2026-01",
        },
    )
    assert subject == "Arxus Service Agreement for O'Brien & Sons <Ltd>: please sign online"
    assert "O&#x27;Brien &amp; Sons &lt;Ltd&gt;" in html


def test_a_used_signing_link_names_nobody(client, awaiting, smtp_server, worker):
    token = signing_token(smtp_server)
    assert sign_via_api(client, smtp_server, worker, token).status_code == 200
    page = client.get(f"/sign/{token}/")
    assert page.status_code == 410
    assert "carl@brightwave.example" not in page.content.decode()


@pytest.mark.django_db
def test_the_schema_says_accept_terms_must_be_true(client):
    schema = client.get("/api/v1/openapi.json").json()
    accept = schema["components"]["schemas"]["TenantRequestIn"]["properties"]["accept_terms"]
    assert accept["enum"] == [True]
