"""VIES confirms EU VAT numbers for staff, and never blocks a request when it cannot answer."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.services import request_submit
from tests.conftest import free_port, request_data


class FakeVies(BaseHTTPRequestHandler):
    """Answers like the EU's VIES REST API: GET /ms/{country}/vat/{number}."""

    registered = {"BE0403170701": "NV BRIGHTWAVE ANALYTICS"}

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        number = parts[1] + parts[3]
        name = self.registered.get(number)
        body = {"isValid": name is not None, "name": name or "---", "userError": "VALID" if name else "INVALID"}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def vies(settings):
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeVies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.VIES_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def test_vies_confirms_a_registered_number(vies, worker):
    request = request_submit(data=request_data())
    worker()
    request.refresh_from_db()
    assert request.vat_check == TenantRequest.VatCheck.CONFIRMED
    assert request.vat_registered_name == "NV BRIGHTWAVE ANALYTICS"
    assert TimelineEntry.objects.filter(request=request, kind="note", message__contains="Confirmed by VIES").exists()


def test_vies_reports_an_unknown_number(vies, worker):
    request = request_submit(data=request_data(vat_number="BE0202239951"))
    worker()
    request.refresh_from_db()
    assert request.vat_check == TenantRequest.VatCheck.NOT_FOUND


def test_unreachable_vies_leaves_the_request_unconfirmed_and_in_the_pipeline(settings, worker, time_machine):
    settings.VIES_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.VIES_TIMEOUT = 1
    time_machine.move_to(timezone.now(), tick=True)
    request = request_submit(data=request_data())
    for _ in range(4):
        worker()
        time_machine.shift(3600 * 2)
    request.refresh_from_db()
    assert request.stage == "to_validate"
    assert request.vat_check == TenantRequest.VatCheck.UNCONFIRMED
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(task_path__endswith="check_vat").count() == 3


def test_outside_the_eu_there_is_no_vies(db):
    request = request_submit(
        data=request_data(vat_number="CHE116281710", country="CH", registry_number="", domain_prefix="swissco")
    )
    assert request.vat_check == TenantRequest.VatCheck.NOT_APPLICABLE
