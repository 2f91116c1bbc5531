"""The whole OpenAPI document, fuzzed in-process through the WSGI application: never a 5xx, answers as documented."""

import json
import os

import pytest
import schemathesis
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, settings

from config.wsgi import application
from portal.accounts.models import User
from portal.onboarding.services import request_submit
from tests.conftest import contact, request_data

STAFF_EMAIL = "vera@reseller.example"
STAFF_PASSWORD = "Vera-validates-2026"

# A schema-valid submission may still break a business rule JSON Schema cannot express (VAT checksum,
# numbering plan of a phone number, a tenant name already taken): that is a documented 422, not a bug.
CONFIG = schemathesis.Config.from_dict(
    {
        "operations": [
            {
                "include-name": "POST /api/v1/tenant-requests",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "409", "422", "429"]}
                },
            }
        ]
    }
)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)


def errors_are_json_detail(ctx, response, case):
    """Every error is JSON {"detail": …}, never an HTML page (even a 405 or a 404 from the framework)."""
    if response.status_code < 400:
        return None
    content_type = ",".join(response.headers.get("content-type", []))
    assert content_type.startswith("application/json"), f"{response.status_code} answered as {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("detail"), f"{response.status_code} without a detail: {body!r}"
    return None


FUZZ = settings(
    max_examples=int(os.environ.get("OPENAPI_MAX_EXAMPLES", "40")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def seeded_requests(transactional_db):
    """A few requests at To Validate, so that ids 1, 2, 3 … exist for the staff decisions."""
    return [
        request_submit(
            data=request_data(
                domain_prefix=f"fuzzcorp{n}",
                technical=contact("Tess", "Tech", "IT manager", "+32478123456", f"fuzz{n}.example"),
                commercial=contact("Carl", "Commerce", "CEO", "+32478654321", f"fuzz{n}.example"),
            )
        )
        for n in range(1, 6)
    ]


@pytest.fixture
def staff_token(transactional_db) -> str:
    User.objects.create_user(STAFF_EMAIL, STAFF_PASSWORD, is_staff=True, first_name="Vera", last_name="Validator")
    response = Client().post(
        "/api/v1/auth/token", {"email": STAFF_EMAIL, "password": STAFF_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    listing = Client().get("/api/v1/staff/tenant-requests", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert listing.status_code == 200, listing.content
    return token


@schema.parametrize()
@FUZZ
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_api_anonymous(case, seeded_requests):
    case.call_and_validate(additional_checks=[errors_are_json_detail])


@pytest.fixture
def staff_token_two_step(transactional_db, settings) -> str:
    """A staff token issued with the TOTP code, on a portal where staff must use their second factor."""
    settings.STAFF_REQUIRE_MFA = True
    vera = User.objects.create_user(
        STAFF_EMAIL, STAFF_PASSWORD, is_staff=True, first_name="Vera", last_name="Validator"
    )
    device = TOTPDevice.objects.create(user=vera, name="phone", confirmed=True)
    response = Client().post(
        "/api/v1/auth/token",
        {"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "otp": f"{totp(device.bin_key):06d}"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    for path in ("/api/v1/staff/tenant-requests", "/api/v1/tenant-requests/1"):
        answer = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert answer.status_code == 200, answer.content
    return token


@schema.parametrize()
@FUZZ
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_api_as_staff_with_two_step_sign_in(case, seeded_requests, staff_token_two_step):
    """A staff bearer token on a portal with staff two-step sign-in on: no operation answers 500."""
    case.call_and_validate(
        headers={"Authorization": f"Bearer {staff_token_two_step}"}, additional_checks=[errors_are_json_detail]
    )


@schema.parametrize()
@FUZZ
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_api_as_staff(case, seeded_requests, staff_token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {staff_token}"}, additional_checks=[errors_are_json_detail]
    )
