"""The partner_center provisioner talks real HTTP to a local fake Partner Center (127.0.0.1 only)."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from portal.provisioning.base import (
    Address,
    AgreementSigner,
    CustomerProfile,
    ProvisionerError,
    ProvisionerUnavailable,
    get_provisioner,
)
from portal.provisioning.partner_center import PartnerCenterProvisioner
from tests.fake_partner_center import API_SCOPE, MCA_TEMPLATE_ID


def profile(prefix: str = "brightwave", country: str = "BE", **overrides) -> CustomerProfile:
    values = dict(
        domain_prefix=prefix,
        company_name="Brightwave Analytics BV",
        registration_number="BE0403170701",
        email="carl@brightwave.example",
        first_name="Carl",
        last_name="Commerce",
        phone="+32478654321",
        culture="nl-BE",
        language="nl",
        address=Address("Korenmarkt 1", "", "9000", "Gent", country),
    )
    values.update(overrides)
    return CustomerProfile(**values)


def signer(**overrides) -> AgreementSigner:
    values = dict(
        first_name="Carl",
        last_name="Commerce",
        email="carl@brightwave.example",
        phone="+32478654321",
        signed_at=datetime(2026, 3, 2, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=1))),
    )
    values.update(overrides)
    return AgreementSigner(**values)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pc(fake_partner_center, sleeps, clock) -> PartnerCenterProvisioner:
    return PartnerCenterProvisioner(sleep=sleeps.append, clock=clock)


# Availability and lookup


def test_a_free_prefix_is_available_and_a_taken_one_is_not(pc, fake_partner_center):
    fake_partner_center.taken_domains.add("contoso.onmicrosoft.com")
    assert pc.domain_available(prefix="brightwave") is True
    assert pc.domain_available(prefix="contoso") is False
    assert pc.domain_available(prefix="Contoso") is False
    heads = fake_partner_center.api_requests("HEAD")
    assert [r.path for r in heads] == [
        "/v1/domains/brightwave.onmicrosoft.com",
        "/v1/domains/contoso.onmicrosoft.com",
        "/v1/domains/contoso.onmicrosoft.com",
    ]


def test_the_settings_select_this_provisioner(fake_partner_center):
    provisioner = get_provisioner()
    assert isinstance(provisioner, PartnerCenterProvisioner)
    assert provisioner.domain_available(prefix="brightwave") is True


def test_customer_find_picks_the_exact_domain_among_similar_ones(pc, fake_partner_center):
    for prefix in ("brightwave2", "brightwaveeu"):
        pc.create_customer(profile=profile(prefix), idempotency_key=f"key-{prefix}")
    created = pc.create_customer(profile=profile("brightwave"), idempotency_key="key-brightwave")

    found = pc.customer_find(domain_prefix="BrightWave")

    assert found is not None
    assert (found.id, found.domain) == (created.id, "brightwave.onmicrosoft.com")
    assert found.admin_password == ""
    (listing,) = fake_partner_center.api_requests("GET", "/v1/customers")
    search = json.loads(listing.query["filter"][0])
    assert search == {"Field": "Domain", "Value": "brightwave.onmicrosoft.com", "Operator": "starts_with"}
    assert listing.query["size"] == ["100"]


def test_customer_find_answers_none_for_an_unknown_domain(pc, fake_partner_center):
    fake_partner_center.taken_domains.add("contoso.onmicrosoft.com")  # exists at Microsoft, but not ours
    assert pc.customer_find(domain_prefix="contoso") is None


# Creating a customer


def test_create_customer_returns_its_id_and_first_admin_and_creates_exactly_one(pc, fake_partner_center):
    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")

    assert len(fake_partner_center.customers) == 1
    stored = fake_partner_center.customers[0]
    assert customer.id == stored["id"]
    assert customer.domain == "brightwave.onmicrosoft.com"
    assert customer.admin_user == "admin@brightwave.onmicrosoft.com"
    assert customer.admin_password == stored["userCredentials"]["password"] != ""
    sent = fake_partner_center.api_requests("POST", "/v1/customers")[0].json()
    assert sent["companyProfile"] == {
        "domain": "brightwave.onmicrosoft.com",
        "companyName": "Brightwave Analytics BV",
        "organizationRegistrationNumber": "BE0403170701",
    }
    assert sent["billingProfile"] == {
        "email": "carl@brightwave.example",
        "culture": "nl-BE",
        "language": "nl",
        "companyName": "Brightwave Analytics BV",
        "defaultAddress": {
            "country": "BE",
            "city": "Gent",
            "addressLine1": "Korenmarkt 1",
            "postalCode": "9000",
            "firstName": "Carl",
            "lastName": "Commerce",
            "phoneNumber": "+32478654321",
        },
    }
    assert pc.domain_available(prefix="brightwave") is False
    assert pc.customer_find(domain_prefix="brightwave").id == customer.id


def test_creating_again_with_the_same_key_gives_the_same_customer(pc, fake_partner_center):
    first = pc.create_customer(profile=profile(), idempotency_key="request-42")
    again = PartnerCenterProvisioner(sleep=lambda s: None).create_customer(
        profile=profile(), idempotency_key="request-42"
    )
    assert again.id == first.id
    assert len(fake_partner_center.customers) == 1
    posts = fake_partner_center.api_requests("POST", "/v1/customers")
    assert posts[0].headers["ms-requestid"] == posts[1].headers["ms-requestid"]
    assert posts[0].headers["ms-correlationid"] != posts[1].headers["ms-correlationid"]  # new for every call


def test_a_lost_answer_is_retried_without_creating_a_second_customer(pc, fake_partner_center, sleeps):
    fake_partner_center.fail_next("/v1/customers", 503, method="POST", after_processing=True)

    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")

    assert len(fake_partner_center.customers) == 1
    assert customer.id == fake_partner_center.customers[0]["id"]
    assert customer.admin_password
    assert len(sleeps) == 1


def test_a_customer_made_by_an_earlier_attempt_with_other_details_is_found_not_duplicated(pc, fake_partner_center):
    first = pc.create_customer(profile=profile(), idempotency_key="request-42")
    corrected = profile(address=Address("Korenmarkt 2", "bus 3", "9000", "Gent", "BE"))

    again = pc.create_customer(profile=corrected, idempotency_key="request-42")

    assert (again.id, again.domain) == (first.id, first.domain)
    assert len(fake_partner_center.customers) == 1


def test_a_domain_taken_by_someone_else_is_a_permanent_error_in_plain_words(pc, fake_partner_center):
    fake_partner_center.taken_domains.add("contoso")

    with pytest.raises(ProvisionerError) as refused:
        pc.create_customer(profile=profile("contoso"), idempotency_key="request-7")

    error = refused.value
    assert not isinstance(error, ProvisionerUnavailable)
    assert (error.code, error.permanent) == ("domain_taken", True)
    assert error.message == "contoso.onmicrosoft.com is already taken at Microsoft: choose another tenant name."
    assert fake_partner_center.customers == []


def test_an_invalid_address_is_refused_with_microsofts_reason(pc, fake_partner_center):
    fake_partner_center.invalid_address_countries.add("BE")

    with pytest.raises(ProvisionerError) as refused:
        pc.create_customer(profile=profile(), idempotency_key="request-42")

    error = refused.value
    assert (error.code, error.permanent) == ("invalid_address", True)
    assert error.message.startswith("Microsoft refused the company address")
    assert "'PostalCode' 9000 doesn't match city 'Gent'" in error.message
    assert "&#39;" not in error.message and "{" not in error.message
    assert "Check street, postal code, city and country." in error.message


def test_a_registration_number_microsoft_does_not_take_is_left_out(pc, fake_partner_center):
    fake_partner_center.registration_number_countries = {"AM", "HU", "UA"}

    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")

    assert customer.id == fake_partner_center.customers[0]["id"]
    first, second = (r.json()["companyProfile"] for r in fake_partner_center.api_requests("POST", "/v1/customers"))
    assert first["organizationRegistrationNumber"] == "BE0403170701"
    assert "organizationRegistrationNumber" not in second


def test_other_refusals_quote_microsoft(pc, fake_partner_center):
    fake_partner_center.fail_next(
        "/v1/customers",
        400,
        method="POST",
        body={
            "code": "27002",
            "description": "NotificationEmailAddress: carl@brightwave.example is invalid",
            "source": "PartnerFD",
        },
    )
    with pytest.raises(ProvisionerError) as refused:
        pc.create_customer(profile=profile(), idempotency_key="request-42")
    error = refused.value
    assert (error.code, error.permanent) == ("refused", True)
    assert "HTTP 400, code 27002" in error.message
    assert "“NotificationEmailAddress: carl@brightwave.example is invalid”" in error.message


# The Microsoft Customer Agreement


def test_accepting_the_agreement_sends_the_signer_and_the_current_template(pc, fake_partner_center):
    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")

    pc.accept_customer_agreement(customer_id=customer.id, signer=signer())

    assert len(fake_partner_center.agreements) == 1
    agreement = fake_partner_center.agreements[0]
    assert agreement["customerId"] == customer.id
    assert agreement["templateId"] == MCA_TEMPLATE_ID
    assert agreement["type"] == "MicrosoftCustomerAgreement"
    assert agreement["dateAgreed"] == "2026-03-02T09:15:30.123Z"
    assert agreement["primaryContact"] == {
        "firstName": "Carl",
        "lastName": "Commerce",
        "email": "carl@brightwave.example",
        "phoneNumber": "+32478654321",
    }
    metadata = fake_partner_center.api_requests("GET", "/v1/agreements")
    assert metadata[0].query["agreementType"] == ["MicrosoftCustomerAgreement"]


@pytest.mark.parametrize("duplicate_status", [None, 409, 400])
def test_an_agreement_already_recorded_is_not_an_error(pc, fake_partner_center, duplicate_status):
    fake_partner_center.agreement_duplicate_status = duplicate_status
    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")
    pc.accept_customer_agreement(customer_id=customer.id, signer=signer())

    other = PartnerCenterProvisioner(sleep=lambda s: None)
    other.accept_customer_agreement(customer_id=customer.id, signer=signer(signed_at=datetime(2026, 3, 3, tzinfo=UTC)))
    pc.accept_customer_agreement(customer_id=customer.id, signer=signer())

    assert len(fake_partner_center.api_requests("GET", "/v1/agreements")) == 2  # once per provisioner, then cached
    assert all(a["customerId"] == customer.id for a in fake_partner_center.agreements)


def test_an_agreement_for_an_unknown_customer_is_refused_clearly(pc):
    with pytest.raises(ProvisionerError) as refused:
        pc.accept_customer_agreement(customer_id=str(uuid.uuid4()), signer=signer())
    assert refused.value.code == "agreement_refused"
    assert "unknown to Partner Center" in refused.value.message


# Passing failures: throttling, 5xx, network


def test_throttling_is_waited_out_as_retry_after_says(pc, fake_partner_center, sleeps):
    fake_partner_center.fail_next("/v1/customers", 429, retry_after=7, times=2, method="POST")

    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")

    assert sleeps == [7.0, 7.0]
    assert len(fake_partner_center.api_requests("POST", "/v1/customers")) == 3
    assert len(fake_partner_center.customers) == 1
    assert customer.id == fake_partner_center.customers[0]["id"]


def test_a_server_error_is_retried_after_a_short_back_off(pc, fake_partner_center, sleeps):
    fake_partner_center.fail_next("/v1/domains/", 500)

    assert pc.domain_available(prefix="brightwave") is True

    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1
    heads = fake_partner_center.api_requests("HEAD")
    assert len(heads) == 2
    assert heads[0].headers["ms-requestid"] == heads[1].headers["ms-requestid"]  # the same call, repeated
    assert heads[0].headers["ms-correlationid"] != heads[1].headers["ms-correlationid"]


def test_a_dropped_connection_is_retried(pc, fake_partner_center, sleeps):
    fake_partner_center.fail_next("/v1/customers", drop=True, method="POST")
    pc.create_customer(profile=profile(), idempotency_key="request-42")
    assert len(sleeps) == 1
    assert len(fake_partner_center.customers) == 1


def test_back_off_grows_and_too_many_server_errors_make_microsoft_unavailable(pc, fake_partner_center, sleeps):
    fake_partner_center.fail_next("/v1/customers", 503, times=50, method="POST")

    with pytest.raises(ProvisionerUnavailable) as unavailable:
        pc.create_customer(profile=profile(), idempotency_key="request-42")

    error = unavailable.value
    assert error.permanent is False
    assert error.code == "unavailable"
    assert error.retry_after and error.retry_after >= 1
    assert "HTTP 503" in error.message and "gave up after 5 attempts" in error.message
    assert len(fake_partner_center.api_requests("POST", "/v1/customers")) == 5  # 1 + PARTNER_CENTER_MAX_RETRIES
    assert len(sleeps) == 4
    assert sleeps == sorted(sleeps) and sleeps[-1] > sleeps[0]
    assert fake_partner_center.customers == []


def test_the_number_of_retries_is_a_setting(fake_partner_center, settings, sleeps):
    settings.PARTNER_CENTER_MAX_RETRIES = 1
    pc = PartnerCenterProvisioner(sleep=sleeps.append)
    fake_partner_center.fail_next("/v1/domains/", 502, times=5)
    with pytest.raises(ProvisionerUnavailable):
        pc.domain_available(prefix="brightwave")
    assert len(fake_partner_center.api_requests("HEAD")) == 2


def test_a_retry_after_longer_than_the_longest_wait_gives_up_at_once(pc, fake_partner_center, sleeps, settings):
    fake_partner_center.fail_next("/v1/customers", 429, retry_after=600, method="POST")

    with pytest.raises(ProvisionerUnavailable) as unavailable:
        pc.create_customer(profile=profile(), idempotency_key="request-42")

    assert unavailable.value.code == "throttled"
    assert unavailable.value.retry_after == 600
    assert "throttling" in unavailable.value.message
    assert sleeps == []


def test_nothing_listening_is_unavailable(settings, sleeps):
    from tests.conftest import free_port

    settings.PARTNER_CENTER_TOKEN_URL = f"http://127.0.0.1:{free_port()}/{{tenant}}/oauth2/v2.0/token"
    settings.PARTNER_CENTER_TENANT_ID = "t"
    settings.PARTNER_CENTER_CLIENT_ID = "c"
    settings.PARTNER_CENTER_CLIENT_SECRET = "s"
    settings.PARTNER_CENTER_MAX_RETRIES = 2
    with pytest.raises(ProvisionerUnavailable) as unavailable:
        PartnerCenterProvisioner(sleep=sleeps.append).domain_available(prefix="brightwave")
    assert unavailable.value.code == "unreachable"
    assert "Microsoft Entra ID could not be reached" in unavailable.value.message
    assert len(sleeps) == 2


# Tokens and credentials


def test_the_token_is_fetched_once_and_renewed_before_it_expires(pc, fake_partner_center, clock):
    pc.domain_available(prefix="one")
    pc.domain_available(prefix="two")
    assert len(fake_partner_center.token_requests) == 1
    assert fake_partner_center.token_requests[0] == {
        "client_id": fake_partner_center.client_id,
        "client_secret": fake_partner_center.client_secret,
        "scope": API_SCOPE,
        "grant_type": "client_credentials",
    }
    clock.now += 3600 - 60  # within the renewal margin
    pc.domain_available(prefix="three")
    assert len(fake_partner_center.token_requests) == 2
    tokens = {r.headers["authorization"] for r in fake_partner_center.api_requests()}
    assert len(tokens) == 2


def test_a_refresh_token_selects_app_plus_user_authentication(pc, fake_partner_center, settings, sleeps):
    settings.PARTNER_CENTER_REFRESH_TOKEN = fake_partner_center.refresh_token
    user = PartnerCenterProvisioner(sleep=sleeps.append)
    customer = user.create_customer(profile=profile(), idempotency_key="request-42")
    user.accept_customer_agreement(customer_id=customer.id, signer=signer())
    grant = fake_partner_center.token_requests[0]
    assert grant["grant_type"] == "refresh_token"
    assert grant["refresh_token"] == fake_partner_center.refresh_token
    assert grant["scope"] == API_SCOPE


def test_an_expired_token_is_replaced_once_and_the_call_succeeds(pc, fake_partner_center):
    assert pc.domain_available(prefix="brightwave") is True
    fake_partner_center.expire_tokens()

    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")

    assert customer.id
    assert len(fake_partner_center.token_requests) == 2
    posts = fake_partner_center.api_requests("POST", "/v1/customers")
    assert len(posts) == 2
    assert posts[0].headers["authorization"] != posts[1].headers["authorization"]
    assert len(fake_partner_center.customers) == 1


def test_a_401_that_persists_says_to_check_the_app_registration(pc, fake_partner_center):
    fake_partner_center.fail_next("/v1/domains/", 401, times=5)

    with pytest.raises(ProvisionerError) as refused:
        pc.domain_available(prefix="brightwave")

    error = refused.value
    assert (error.code, error.permanent) == ("not_authorized", True)
    assert "app registration" in error.message
    assert len(fake_partner_center.token_requests) == 2  # one refresh, not more
    assert len(fake_partner_center.api_requests("HEAD")) == 2


def test_a_403_points_at_permissions_and_gdap(pc, fake_partner_center):
    fake_partner_center.fail_next(
        "/v1/customers",
        403,
        method="POST",
        body={"code": "600006", "description": "The requested action is not allowed"},
    )
    with pytest.raises(ProvisionerError) as refused:
        pc.create_customer(profile=profile(), idempotency_key="request-42")
    error = refused.value
    assert (error.code, error.permanent) == ("not_authorized", True)
    assert "GDAP" in error.message and "The requested action is not allowed" in error.message


def test_a_wrong_client_secret_is_a_credentials_problem(fake_partner_center, settings):
    settings.PARTNER_CENTER_CLIENT_SECRET = "not-the-secret"
    with pytest.raises(ProvisionerError) as refused:
        PartnerCenterProvisioner(sleep=lambda s: None).domain_available(prefix="brightwave")
    error = refused.value
    assert (error.code, error.permanent) == ("not_authorized", True)
    assert "invalid_client" in error.message and "PARTNER_CENTER_CLIENT_SECRET" in error.message
    assert "Trace ID" not in error.message
    assert fake_partner_center.api_requests() == []


def test_an_expired_refresh_token_says_to_consent_again(fake_partner_center, settings):
    settings.PARTNER_CENTER_REFRESH_TOKEN = "an-old-refresh-token"
    with pytest.raises(ProvisionerError) as refused:
        PartnerCenterProvisioner(sleep=lambda s: None).domain_available(prefix="brightwave")
    assert refused.value.code == "not_authorized"
    assert "PARTNER_CENTER_REFRESH_TOKEN" in refused.value.message


def test_missing_credentials_are_named(fake_partner_center, settings):
    settings.PARTNER_CENTER_CLIENT_SECRET = ""
    with pytest.raises(ProvisionerError) as refused:
        PartnerCenterProvisioner().domain_available(prefix="brightwave")
    assert refused.value.code == "not_configured"
    assert "PARTNER_CENTER_CLIENT_SECRET" in refused.value.message
    assert fake_partner_center.requests == []


def test_a_token_endpoint_hiccup_is_retried(pc, fake_partner_center, sleeps):
    fake_partner_center.fail_next("/fake-partner-tenant/oauth2", 503)
    assert pc.domain_available(prefix="brightwave") is True
    assert len(sleeps) == 1


# Headers


def test_every_call_carries_the_documented_headers(pc, fake_partner_center):
    fake_partner_center.fail_next("/v1/customers", 500, method="POST")
    pc.domain_available(prefix="brightwave")
    customer = pc.create_customer(profile=profile(), idempotency_key="request-42")
    pc.customer_find(domain_prefix="brightwave")
    pc.accept_customer_agreement(customer_id=customer.id, signer=signer())

    calls = fake_partner_center.api_requests()
    assert {(r.method, r.path.split("/")[2]) for r in calls} == {
        ("HEAD", "domains"),
        ("POST", "customers"),
        ("GET", "customers"),
        ("GET", "agreements"),
    }
    for call in calls:
        assert call.headers["authorization"].startswith("Bearer ")
        assert call.headers["accept"] == "application/json"
        uuid.UUID(call.headers["ms-requestid"])
        uuid.UUID(call.headers["ms-correlationid"])
        if call.body:
            assert call.headers["content-type"] == "application/json"
    first_try, retry = [r for r in fake_partner_center.api_requests("POST") if r.path == "/v1/customers"]
    assert first_try.headers["ms-requestid"] == retry.headers["ms-requestid"]
    assert first_try.headers["ms-correlationid"] != retry.headers["ms-correlationid"]
    other_key = PartnerCenterProvisioner(sleep=lambda s: None)
    other_key.create_customer(profile=profile("otherco"), idempotency_key="request-43")
    third = fake_partner_center.api_requests("POST", "/v1/customers")[-1]
    assert third.headers["ms-correlationid"] != first_try.headers["ms-correlationid"]
    assert len({r.headers["ms-requestid"] for r in fake_partner_center.api_requests("GET")}) == len(
        fake_partner_center.api_requests("GET")
    )
