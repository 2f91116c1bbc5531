import pytest

from portal.notifications.models import OutboundEmail
from portal.onboarding.models import TenantRequest
from tests.conftest import api_body, form_post


@pytest.mark.django_db
def test_pages_answer(client, submitted, vera, settings):
    settings.DEBUG = True
    assert client.get("/").status_code == 200
    assert client.get("/request-tenant/").status_code == 200
    assert client.get("/dev/mailbox/").status_code == 200
    client.force_login(vera)
    assert client.get("/backoffice/").status_code == 200
    assert client.get(f"/backoffice/requests/{submitted.pk}/").status_code == 200
    assert client.get(f"/requests/{submitted.pk}/").status_code == 200


@pytest.mark.django_db
def test_form_and_api_submit(client, smtp_server, worker):
    response = client.post("/request-tenant/", form_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    response = client.post(
        "/api/v1/tenant-requests",
        api_body(tenant={"domain_prefix": "brightwave2", "display_name": "B", "country": "BE"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert TenantRequest.objects.count() == 2
    worker()
    assert OutboundEmail.objects.filter(status="sent").count() == 4
    assert len(smtp_server.messages) == 4
