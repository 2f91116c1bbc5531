"""A link e-mailed for one stage dies when the request leaves that stage; unverified staff see nothing."""

import re

import pytest

from portal.onboarding.services import request_ask_changes, request_reject, request_submit, request_validate
from tests.conftest import request_data

CARL, TESS = "carl@brightwave.example", "tess@brightwave.example"


def _path(inbox, address: str, pattern: str) -> str:
    """The link of the newest e-mail to `address` that holds one (the request's confirmation may come later)."""
    texts = [message.get_body(("plain",)).get_content() for message in reversed(inbox.to(address))]
    return next(match.group(1) for text in texts if (match := re.search(pattern, text)))


def test_a_rejected_request_kills_its_correction_link(client, smtp_server, worker, vera):
    request = request_submit(data=request_data())
    request_ask_changes(request_id=request.pk, by=vera, message="Please give the full address.")
    worker()
    path = _path(smtp_server, TESS, r"http://127\.0\.0\.1:8000(/correct/[^/\s]+/)")
    assert client.get(path).status_code == 200
    request_reject(request_id=request.pk, by=vera, reason="Not a company we can serve.")
    assert client.get(path).status_code == 410


def test_a_withdrawn_agreement_kills_its_signing_link(client, smtp_server, worker, vera):
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    path = _path(smtp_server, CARL, r"http://127\.0\.0\.1:8000(/sign/[^/\s]+/)")
    assert client.get(path).status_code == 200
    client.force_login(vera)
    client.post(f"/backoffice/requests/{request.pk}/withdraw/", {"reason": "Wrong details."})
    client.logout()
    assert client.get(path).status_code == 410
    assert client.post(path.replace("/sign/", "/api/v1/signing/").rstrip("/") + "/code").status_code == 410


@pytest.mark.django_db
def test_staff_without_their_second_factor_see_no_request(client, settings, vera, submitted):
    settings.STAFF_REQUIRE_MFA = True
    client.force_login(vera)
    assert client.get(f"/requests/{submitted.pk}/").status_code == 404
    assert client.get(f"/api/v1/tenant-requests/{submitted.pk}").status_code in (403, 404)
