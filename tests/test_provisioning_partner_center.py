"""Provisioning through Partner Center (a local fake of its REST API), crashes and throttling included."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from portal.provisioning.models import Tenant
from tests.conftest import request_data, sign

ROOT = Path(__file__).resolve().parent.parent
TESS, CARL = "tess@brightwave.example", "carl@brightwave.example"


@pytest.fixture
def signed(fake_partner_center, smtp_server, worker, vera):
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    sign(request, smtp_server, worker)
    return request


def test_the_tenant_is_created_at_partner_center_and_the_three_emails_go_out(
    signed, fake_partner_center, smtp_server, worker
):
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed"
    assert [c["companyProfile"]["domain"] for c in fake_partner_center.customers] == ["brightwave.onmicrosoft.com"]
    tenant = Tenant.objects.get(request=signed)
    assert tenant.customer_id == fake_partner_center.customers[0]["id"]
    agreement = fake_partner_center.agreements[0]
    assert agreement["primaryContact"]["email"] == CARL and agreement["primaryContact"]["firstName"] == "Carl"
    assert all(
        r.headers.get("ms-requestid") and r.headers.get("ms-correlationid") for r in fake_partner_center.api_requests()
    )
    recipients = {
        str(m["To"]): str(m["Subject"])
        for m in smtp_server.messages
        if "ready" in str(m["Subject"]) or "Registration completed" in str(m["Subject"])
    }
    assert set(recipients) == {TESS, CARL}
    password = fake_partner_center.customers[0]["userCredentials"]["password"]
    assert all(password not in m.as_string() for m in smtp_server.messages)


def test_throttling_and_a_server_error_are_retried(signed, fake_partner_center, worker):
    fake_partner_center.fail_next("/v1/customers", 429, retry_after=1, method="POST")
    fake_partner_center.fail_next("/v1/customers", 500, method="POST")
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed" and len(fake_partner_center.customers) == 1
    statuses = [
        r.method for r in fake_partner_center.api_requests("POST", "/v1/customers") if r.path == "/v1/customers"
    ]
    assert len(statuses) == 3


def test_domain_taken_ends_in_provisioning_failed_and_a_retry_with_another_name_completes(
    signed, fake_partner_center, smtp_server, worker, vera, client
):
    fake_partner_center.taken_domains.add("brightwave.onmicrosoft.com")
    worker()
    signed.refresh_from_db()
    assert signed.stage == "provisioning_failed"
    assert "brightwave.onmicrosoft.com" in signed.provisioning_error and "{" not in signed.provisioning_error
    assert any("provisioning failed" in str(m["Subject"]) for m in smtp_server.to(vera.email))
    client.force_login(vera)
    client.post(f"/backoffice/requests/{signed.pk}/provisioning/retry/", {"domain_prefix": "brightwaveanalytics"})
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed"
    assert [c["companyProfile"]["domain"] for c in fake_partner_center.customers] == [
        "brightwaveanalytics.onmicrosoft.com"
    ]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker_env(fake, smtp_port: int) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "PROVISIONER": "partner_center",
        "PARTNER_CENTER_API_URL": fake.url,
        "PARTNER_CENTER_TOKEN_URL": fake.token_url,
        "PARTNER_CENTER_TENANT_ID": fake.tenant_id,
        "PARTNER_CENTER_CLIENT_ID": fake.client_id,
        "PARTNER_CENTER_CLIENT_SECRET": fake.client_secret,
        "PARTNER_CENTER_TIMEOUT": "5",
        "NO_PROXY": "127.0.0.1,localhost",
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def worker_killed_when(env: dict, reached: threading.Event, held: threading.Event, doing: str) -> None:
    """Start a real worker and SIGKILL it once the fake has answered it (`reached`) and holds the answer (`held`)."""
    first = subprocess.Popen([sys.executable, "manage.py", "run_worker", "--interval", "0.2", "-v0"], cwd=ROOT, env=env)
    try:
        assert reached.wait(60), f"the worker never {doing}"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        held.set()
        if first.poll() is None:
            first.kill()


def worker_once_after_a_kill(env: dict) -> None:
    """A new worker, once: it puts back the job the killed one left running, and runs it."""
    second = subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--once", "-v1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Re-queued 1 job(s) left running" in second.stdout


def test_a_worker_killed_after_microsoft_created_the_customer_leaves_exactly_one_tenant(
    signed, fake_partner_center, smtp_server
):
    """SIGKILL between Microsoft's answer and our commit: a new worker finishes, and Microsoft holds one customer."""
    port = int(settings.MAILERS["default"]["OPTIONS"]["port"])
    env = _worker_env(fake_partner_center, port)
    fake_partner_center.hold_answer_after_create = threading.Event()
    worker_killed_when(
        env,
        fake_partner_center.customer_created,
        fake_partner_center.hold_answer_after_create,
        "asked Microsoft to create the customer",
    )
    assert TenantRequest.objects.get(pk=signed.pk).stage == "provisioning"
    worker_once_after_a_kill(env)
    signed.refresh_from_db()
    assert signed.stage == "completed"
    assert len(fake_partner_center.customers) == 1
    assert len([r for r in fake_partner_center.api_requests("POST") if r.path == "/v1/customers"]) == 1
    assert Tenant.objects.get(request=signed).customer_id == fake_partner_center.customers[0]["id"]
    subjects = [str(m["Subject"]) for m in smtp_server.to(TESS)]
    assert sum("is ready" in s for s in subjects) == 1
