"""Partner Center refusing our credentials, and the ids each call carries (a local fake, 127.0.0.1 only).

Two defects these tests hold down:
- a refused credential (Entra ID answers `invalid_grant` for an expired or revoked refresh token, or Partner
  Center answers 401 / 403) made every page and API call that checks a tenant name answer 500;
- MS-CorrelationId was shared by several calls, and a staff retry after a refusal sent the MS-RequestId of the
  refused call again, so Microsoft could replay its refusal instead of hearing the corrected request.
"""

import html
import uuid

import pytest

from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from portal.provisioning.base import ProvisionerNotAuthorized, provisioner_reset
from portal.provisioning.partner_center import PartnerCenterProvisioner
from portal.provisioning.services import tenant_provision
from tests.conftest import api_body, form_post, request_data, sign
from tests.fake_partner_center import FakePartnerCenter
from tests.test_partner_center import profile, signer

CANNOT_CHECK = "cannot check this name right now"
REVOKED = "Partner Center refused our credentials: the refresh token has expired or was revoked (invalid_grant)"


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _creations(fake: FakePartnerCenter) -> list[str]:
    """The MS-RequestId of every customer creation Partner Center received."""
    return [r.headers["ms-requestid"] for r in fake.api_requests("POST", "/v1/customers") if r.path == "/v1/customers"]


@pytest.fixture
def app_plus_user(fake_partner_center, settings) -> FakePartnerCenter:
    """The portal uses a partner user's refresh token, as customer creation and agreements need."""
    settings.PARTNER_CENTER_REFRESH_TOKEN = fake_partner_center.refresh_token
    provisioner_reset()
    return fake_partner_center


@pytest.fixture(params=["invalid_grant", 401, 403])
def refusing(request, app_plus_user) -> FakePartnerCenter:
    """Microsoft refuses us: the refresh token is revoked (Entra ID answers 400 invalid_grant), or Partner
    Center answers every call 401 or 403."""
    if request.param == "invalid_grant":
        app_plus_user.revoke_tokens()
    else:
        app_plus_user.refuse_api(request.param)
    return app_plus_user


@pytest.fixture
def revoked(app_plus_user) -> FakePartnerCenter:
    app_plus_user.revoke_tokens()
    return app_plus_user


# A refused credential is never a 500 for customers


def test_the_name_check_api_says_it_cannot_check_instead_of_a_500_when_microsoft_refuses_our_credentials(
    client, db, refusing
):
    answer = client.get("/api/v1/tenant-domains/brightwave/availability")

    assert answer.status_code == 200
    body = answer.json()
    assert body["prefix"] == "brightwave" and body["available"] is False
    assert CANNOT_CHECK in body["reason"].lower()
    assert "credential" not in body["reason"].lower()  # the reason is for staff, not customers
    assert refusing.token_requests  # Microsoft was really asked


def test_the_request_form_and_its_live_check_say_they_cannot_check_instead_of_a_500_when_credentials_are_refused(
    client, db, refusing
):
    assert client.get("/request-tenant/").status_code == 200

    check = client.post("/request-tenant/check/", form_post(_field="tenant_domain_prefix"))

    assert check.status_code == 200
    assert CANNOT_CHECK in _text(check).lower()
    assert "is available" not in _text(check)


def test_the_request_form_is_accepted_when_the_name_cannot_be_checked_because_credentials_are_refused(
    client, db, refusing
):
    page = client.post("/request-tenant/", form_post())

    assert page.status_code == 302
    assert TenantRequest.objects.get().domain_prefix == "brightwave"


def test_the_request_api_answers_201_when_the_name_cannot_be_checked_because_credentials_are_refused(
    client, db, refusing
):
    answer = client.post("/api/v1/tenant-requests", api_body(), content_type="application/json")

    assert answer.status_code == 201, answer.content
    assert TenantRequest.objects.get().domain_prefix == "brightwave"


def test_the_staff_request_page_shows_why_the_name_was_not_checked_instead_of_a_500_with_a_revoked_refresh_token(
    client, submitted, vera, revoked
):
    client.force_login(vera)

    page = client.get(f"/backoffice/requests/{submitted.pk}/")

    assert page.status_code == 200
    assert REVOKED in _text(page)
    assert CANNOT_CHECK not in _text(page).lower()


@pytest.mark.parametrize("status", [401, 403])
def test_the_staff_request_page_names_a_401_or_403_from_partner_center_instead_of_a_500(
    client, submitted, vera, app_plus_user, status
):
    app_plus_user.refuse_api(status)
    client.force_login(vera)

    page = client.get(f"/backoffice/requests/{submitted.pk}/")

    assert page.status_code == 200
    assert "Partner Center refused our" in _text(page) and f"HTTP {status}" in _text(page)


# Provisioning with a refused credential: staff must act, and their retry loses nothing


@pytest.fixture
def signed(app_plus_user, smtp_server, worker, vera):
    """Brightwave's agreement, signed: the request is at Provisioning, its job queued."""
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    sign(request, smtp_server, worker)
    return request


def test_a_revoked_refresh_token_fails_provisioning_with_the_reason_and_a_staff_retry_says_why_instead_of_a_500(
    signed, revoked, smtp_server, worker, vera, client
):
    worker()

    signed.refresh_from_db()
    assert signed.stage == "provisioning_failed"
    assert REVOKED in signed.provisioning_error
    assert any("provisioning failed" in str(m["Subject"]).lower() for m in smtp_server.to(vera.email))

    client.force_login(vera)
    retry = client.post(
        f"/backoffice/requests/{signed.pk}/provisioning/retry/", {"domain_prefix": "brightwaveanalytics"}, follow=True
    )

    assert retry.status_code == 200
    assert "Not retried" in _text(retry) and REVOKED in _text(retry)
    signed.refresh_from_db()
    assert (signed.stage, signed.domain_prefix) == ("provisioning_failed", "brightwave")
    assert revoked.customers == []


# Request and correlation ids


def test_every_call_gets_a_new_correlation_id_even_within_one_operation(app_plus_user):
    pc = PartnerCenterProvisioner(sleep=lambda s: None)
    app_plus_user.fail_next("/v1/customers", 503, method="POST")
    assert pc.domain_available(prefix="brightwave") is True
    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")
    pc.create_customer(profile=profile(), idempotency_key="request-42")  # a later job repeating the attempt
    pc.customer_find(domain_prefix="brightwave")
    pc.accept_customer_agreement(customer_id=customer.id, signer=signer(), idempotency_key="request-42")

    correlation_ids = app_plus_user.headers("MS-CorrelationId")
    assert len(correlation_ids) == 7
    assert len(set(correlation_ids)) == len(correlation_ids)
    for value in correlation_ids:
        uuid.UUID(value)


def test_the_request_id_is_kept_across_429_5xx_and_401_repeats_of_one_call(app_plus_user):
    """Microsoft deduplicates a call by its MS-RequestId: repeats without an answer keep it (reads too)."""
    pc = PartnerCenterProvisioner(sleep=lambda s: None)
    app_plus_user.fail_next("/v1/customers", 429, retry_after=0, method="POST")
    app_plus_user.fail_next("/v1/customers", 503, method="POST")
    app_plus_user.fail_next("/v1/domains/", 500)

    pc.create_customer(profile=profile(), idempotency_key="request-42")
    pc.domain_available(prefix="otherco")
    app_plus_user.expire_tokens()  # the next call is answered 401 and repeated with a new token
    pc.create_customer(profile=profile("thirdco"), idempotency_key="request-43")

    first, second = _creations(app_plus_user)[:3], _creations(app_plus_user)[3:]
    assert len(first) == 3 and len(set(first)) == 1
    assert len(second) == 2 and len(set(second)) == 1
    heads = app_plus_user.headers("MS-RequestId", "HEAD")
    assert len(heads) == 2 and len(set(heads)) == 1
    assert len({first[0], second[0], heads[0]}) == 3
    assert len(app_plus_user.customers) == 2


def test_a_staff_retry_after_a_refusal_sends_a_new_request_id_and_microsoft_hears_the_corrected_request(
    signed, app_plus_user, smtp_server, worker, vera, client, settings
):
    """One request id per attempt: a job repeating an unanswered attempt keeps it; staff's retry after a
    refusal gets a new one (with the old id Microsoft would replay its refusal)."""
    settings.PARTNER_CENTER_MAX_RETRIES = 0
    provisioner_reset()
    app_plus_user.fail_next("/v1/customers", 503, method="POST")
    worker()  # no answer: the job is rescheduled a minute later
    signed.refresh_from_db()
    assert signed.stage == "provisioning" and signed.provisioning_attempts == 1

    app_plus_user.invalid_address_countries.add("BE")
    assert tenant_provision(request_id=signed.pk) == "failed"  # the same attempt, answered with a refusal
    signed.refresh_from_db()
    assert signed.stage == "provisioning_failed" and "address" in signed.provisioning_error

    app_plus_user.invalid_address_countries.clear()  # the address is fixed at Microsoft's side
    client.force_login(vera)
    client.post(f"/backoffice/requests/{signed.pk}/provisioning/retry/", {"domain_prefix": ""})
    worker()

    signed.refresh_from_db()
    assert signed.stage == "completed", signed.provisioning_error
    unanswered, refused, accepted = _creations(app_plus_user)
    assert unanswered == refused != accepted
    assert len(app_plus_user.customers) == 1


def test_a_refused_credential_is_a_provisioner_refusal_staff_must_act_on(revoked):
    with pytest.raises(ProvisionerNotAuthorized) as refused:
        PartnerCenterProvisioner(sleep=lambda s: None).domain_available(prefix="brightwave")
    assert refused.value.permanent is True
    assert REVOKED in refused.value.message
    assert "Trace ID" not in refused.value.message
