"""Pages whose lists grow keep a constant number of queries; the request POST keeps to its statement budget."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.notifications.models import OutboundEmail
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_follow_up, request_submit
from tests.conftest import api_body, contact, form_post, request_data

# The request POST's own statements: the form's checks and the storing of the request, for an anonymous caller
# with rate limits off (each limit adds its counter's upsert). Transaction control (BEGIN, COMMIT, savepoints) is
# left out. The simulated provisioner's query, standing for the call to Microsoft, is counted.
REQUEST_POST_BUDGET = 8
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _requests(count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        request_submit(
            data=request_data(
                domain_prefix=f"company{index}",
                technical=contact("Tess", "Tech", "IT", "+32478123456", f"c{index}.example"),
                commercial=contact("Carl", "Commerce", "CEO", "+32478654321", f"c{index}.example"),
            )
        )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/backoffice/", "/backoffice/?stage=all"])
def test_the_staff_pipeline_does_not_grow_with_the_requests(client, vera, url):
    client.force_login(vera)
    _requests(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _requests(30, start=3)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert page.status_code == 200
    assert len(many) == len(few) <= 8
    for request in TenantRequest.objects.all():
        assert f'<a href="/backoffice/requests/{request.pk}/">{request.pk}</a>' in page.content.decode()


@pytest.mark.django_db
def test_a_request_page_does_not_grow_with_its_timeline(client, vera, submitted, django_assert_max_num_queries):
    client.force_login(vera)
    with django_assert_max_num_queries(16):
        assert client.get(f"/backoffice/requests/{submitted.pk}/").status_code == 200


@pytest.mark.django_db
def test_a_reloaded_request_page_does_not_ask_microsoft_again(client, vera, submitted, monkeypatch):
    asked = []

    class Microsoft:
        def domain_available(self, *, prefix: str) -> bool:
            asked.append(prefix)
            return True

    monkeypatch.setattr("portal.onboarding.domains.get_provisioner", Microsoft)
    client.force_login(vera)
    for _ in range(3):
        page = client.get(f"/backoffice/requests/{submitted.pk}/")
        assert "brightwave.onmicrosoft.com is free." in page.content.decode()
    assert asked == ["brightwave"]


@pytest.mark.django_db
def test_storing_a_request_takes_eight_statements(django_assert_max_num_queries, settings):
    settings.VIES_URL = "http://127.0.0.1:9/vies"  # the VIES check is queued by the follow-up job
    with django_assert_max_num_queries(REQUEST_POST_BUDGET):  # six inserts between the savepoint and its release
        request_submit(data=request_data())


def _post_page(client):
    return client.post("/request-tenant/", form_post())


def _post_api(client):
    return client.post("/api/v1/tenant-requests", api_body(), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(("post", "status"), [(_post_page, 302), (_post_api, 201)], ids=["page", "api"])
def test_the_request_post_keeps_to_its_statement_budget(client, settings, post, status):
    settings.RATE_LIMIT_SUBMIT = settings.RATE_LIMIT_SUBMIT_PER_EMAIL = "off"
    settings.VIES_URL = "http://127.0.0.1:9/vies"
    with CaptureQueriesContext(connection) as captured:
        assert post(client).status_code == status
    work = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]
    assert len(work) <= REQUEST_POST_BUDGET, "\n".join(work)


@pytest.mark.django_db
def test_the_follow_up_queues_both_confirmations_once(submitted):
    assert not OutboundEmail.objects.exists()  # the worker queues them, in the request's follow-up job
    assert request_follow_up(request_id=submitted.pk) == "followed up"
    assert request_follow_up(request_id=submitted.pk) == "already followed up"
    assert sorted(OutboundEmail.objects.values_list("to", flat=True)) == [
        ["carl@brightwave.example"],
        ["tess@brightwave.example"],
    ]
