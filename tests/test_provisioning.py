"""Steps 5 and 6: once Carl signs, the tenant is created and Tess gets into the portal."""

import re

from django.core import mail  # noqa: F401  (the SMTP server fixture replaces the mailer)
from django.core.management import call_command

from portal.accounts.models import ActivationLink, User
from portal.companies.models import Membership
from portal.core.sealed_box import open_text
from portal.core.tokens import token_hash
from portal.notifications.models import OutboundEmail
from portal.onboarding.services import request_submit, request_validate
from portal.provisioning.models import SimulatedCustomer, Tenant
from tests.conftest import request_data, sign

TESS = "tess@brightwave.example"
CARL = "carl@brightwave.example"


def activation_path(inbox) -> str:
    text = [m for m in inbox.to(TESS) if "activate your" in str(m["Subject"])][-1].get_body(("plain",)).get_content()
    return re.search(r"http://127\.0\.0\.1:8000(/activate/[A-Za-z0-9_\-]+/)", text).group(1)


def test_the_worker_creates_the_tenant_and_tells_the_right_people(signed, smtp_server, worker, client):
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed"
    tenant = Tenant.objects.get(request=signed)
    assert tenant.domain == "brightwave.onmicrosoft.com" and SimulatedCustomer.objects.count() == 1
    assert SimulatedCustomer.objects.get().agreement_accepted_at is not None
    subjects = {(str(m["To"]), str(m["Subject"])) for m in smtp_server.messages}
    assert (TESS, "Your tenant brightwave.onmicrosoft.com is ready: activate your Arxus portal access") in subjects
    assert (CARL, "Registration completed: Brightwave Analytics BV is ready at Arxus") in subjects
    password = open_text(tenant.admin_secret)
    assert password and all(password not in m.as_string() for m in smtp_server.messages)
    assert "activate" not in str([s for t, s in subjects if t == CARL])
    user = User.objects.get(email=TESS)
    assert not user.has_usable_password() and Membership.objects.filter(user=user, company=signed.company).exists()
    assert client.get(f"/track/{'x' * 43}/").status_code == 404


def test_tess_activates_through_the_page_and_sees_the_admin_account_once(signed, smtp_server, worker, client):
    worker()
    path = activation_path(smtp_server)
    weak = client.post(path, {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    done = client.post(path, {"password1": "Gent-Korenmarkt-2026", "password2": "Gent-Korenmarkt-2026"})
    assert done.status_code == 302
    home = client.get("/").content.decode()
    assert "brightwave.onmicrosoft.com" in home and "Show the administrator account once" in home
    tenant = Tenant.objects.get()
    password = open_text(tenant.admin_secret)
    shown = client.post(f"/tenants/{tenant.pk}/admin-account/")
    assert password in shown.content.decode()
    tenant.refresh_from_db()
    assert tenant.admin_secret is None and tenant.admin_secret_shown_at
    again = client.post(f"/tenants/{tenant.pk}/admin-account/", follow=True)
    assert password not in again.content.decode()
    assert client.get(path).status_code == 410
    client.logout()
    assert client.post("/accounts/login/", {"email": TESS, "password": "Gent-Korenmarkt-2026"}).status_code == 302


def test_activation_through_the_api_and_bad_links(signed, smtp_server, worker, client):
    worker()
    token = activation_path(smtp_server).split("/")[2]
    weak = client.post(f"/api/v1/activation/{token}", {"password": "password"}, content_type="application/json")
    assert weak.status_code == 422 and "common" in str(weak.json()["detail"])
    ok = client.post(
        f"/api/v1/activation/{token}", {"password": "Gent-Korenmarkt-2026"}, content_type="application/json"
    )
    assert ok.status_code == 200 and ok.json()["email"] == TESS
    assert (
        client.post(
            f"/api/v1/activation/{token}", {"password": "Gent-Korenmarkt-2027"}, content_type="application/json"
        ).status_code
        == 410
    )
    assert (
        client.post(
            f"/api/v1/activation/{'A' * 43}", {"password": "Gent-Korenmarkt-2027"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(f"/activate/{'A' * 43}/").status_code == 404
    assert (
        not ActivationLink.objects.filter(token_hash=token).exists()
        and ActivationLink.objects.filter(token_hash=token_hash(token)).exists()
    )


def test_a_new_link_can_be_asked_for_and_the_old_one_dies(signed, smtp_server, worker, client):
    worker()
    old = activation_path(smtp_server)
    client.post("/accounts/activation/", {"email": TESS})
    client.post("/accounts/activation/", {"email": "nobody@brightwave.example"})
    worker()
    new = activation_path(smtp_server)
    assert new != old and client.get(old).status_code == 410 and client.get(new).status_code == 200
    assert not [m for m in smtp_server.messages if "nobody@" in str(m["To"])]


def test_a_contact_who_already_has_access_gets_only_tenant_created(smtp_server, worker, vera):
    tess = User.objects.create_user(TESS, "Tess-manages-2026", first_name="Tess")
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    sign(request, smtp_server, worker)
    worker()
    request.refresh_from_db()
    assert request.stage == "completed"
    to_tess = [str(m["Subject"]) for m in smtp_server.to(TESS)]
    assert "Your new tenant brightwave.onmicrosoft.com is ready" in to_tess
    assert not any("activate" in s for s in to_tess)
    assert Membership.objects.filter(user=tess, company=request.company).exists()
    assert not ActivationLink.objects.exists()


def test_domain_taken_at_microsoft_ends_in_provisioning_failed_then_staff_retry_completes(
    settings, signed, smtp_server, worker, client, vera
):
    settings.SIMULATED_TAKEN_DOMAINS = [
        *settings.SIMULATED_TAKEN_DOMAINS,
        "brightwave",
    ]  # another organisation took it meanwhile
    worker()
    signed.refresh_from_db()
    assert signed.stage == "provisioning_failed"
    assert "already taken" in signed.provisioning_error
    assert any("provisioning failed" in str(m["Subject"]) for m in smtp_server.to(vera.email))
    client.force_login(vera)
    page = client.get(f"/backoffice/requests/{signed.pk}/").content.decode()
    assert "already taken" in page and "Retry provisioning" in page
    client.post(f"/backoffice/requests/{signed.pk}/provisioning/retry/", {"domain_prefix": "brightwave2"})
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed" and Tenant.objects.get(request=signed).domain == "brightwave2.onmicrosoft.com"
    call_command("verify_audit")


def test_passing_failures_are_retried_with_backoff(settings, signed, smtp_server, worker, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    settings.SIMULATED_FAILURES = {"brightwave": "unavailable"}
    time_machine.move_to(timezone.now(), tick=False)
    worker()
    signed.refresh_from_db()
    assert signed.stage == "provisioning" and signed.provisioning_attempts == 1
    settings.SIMULATED_FAILURES = {}
    time_machine.shift(timedelta(minutes=2))
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed" and SimulatedCustomer.objects.count() == 1


def test_the_customer_sees_working_on_it_not_the_error(settings, signed, smtp_server, worker, client):
    settings.SIMULATED_TAKEN_DOMAINS = [*settings.SIMULATED_TAKEN_DOMAINS, "brightwave"]
    worker()
    tess = User.objects.create_user("tess2@brightwave.example", "Tess-manages-2026")
    Membership.objects.create(user=tess, company=signed.company)
    client.force_login(tess)
    page = client.get(f"/requests/{signed.pk}/").content.decode()
    assert "We are creating your tenant" in page and "already taken" not in page
    api = client.get(f"/api/v1/tenant-requests/{signed.pk}").json()
    assert api["stage"] == "provisioning_failed"
    assert OutboundEmail.objects.filter(template="provisioning-failed").exists()


def test_with_the_smtp_server_down_the_access_emails_wait_and_go_out_once(
    settings, signed, smtp_server, worker, time_machine
):
    from collections import Counter
    from datetime import timedelta

    from aiosmtpd.controller import Controller
    from django.utils import timezone

    port = int(settings.MAILERS["default"]["OPTIONS"]["port"])
    smtp_server.controller.stop()
    time_machine.move_to(timezone.now(), tick=True)
    worker()
    signed.refresh_from_db()
    assert signed.stage == "completed"
    waiting = OutboundEmail.objects.filter(template__in=["tenant-ready-activate", "registration-succeeded"])
    assert [e.status for e in waiting] == ["queued", "queued"]
    before = len(smtp_server.messages)
    again = Controller(smtp_server, hostname="127.0.0.1", port=port)
    again.start()
    try:
        time_machine.move_to(timezone.now() + timedelta(minutes=5), tick=True)
        worker()
        worker()
    finally:
        again.stop()
    arrived = Counter(str(m["Message-ID"]).strip() for m in smtp_server.messages[before:])
    assert set(arrived.values()) == {1}
    assert {e.message_id for e in waiting} <= set(arrived)
    assert all(e.status == "sent" for e in OutboundEmail.objects.filter(pk__in=[e.pk for e in waiting]))
