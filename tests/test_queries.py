"""Pages whose lists grow keep a constant number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.onboarding.services import request_submit
from tests.conftest import contact, request_data


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
        assert client.get(url).status_code == 200
    assert len(many) == len(few) <= 8


@pytest.mark.django_db
def test_a_request_page_does_not_grow_with_its_timeline(client, vera, submitted, django_assert_max_num_queries):
    client.force_login(vera)
    with django_assert_max_num_queries(16):
        assert client.get(f"/backoffice/requests/{submitted.pk}/").status_code == 200
