"""Brightwave's request from submission to Vera's decision, with the e-mails the contacts really receive."""

import hashlib
import re
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.env import parse_email_url
from portal.accounts.models import User
from portal.companies.models import Company, Membership
from portal.notifications.models import OutboundEmail
from portal.onboarding.models import RequestLink, TenantRequest, TimelineEntry
from portal.onboarding.services import request_submit
from tests.conftest import Inbox, api_body, contact, form_post, free_port, request_data

BASE_URL = "http://127.0.0.1:8000"
TESS = "tess@brightwave.example"
CARL = "carl@brightwave.example"


@pytest.fixture(autouse=True)
def portal_settings(settings):
    settings.PORTAL_BASE_URL = BASE_URL
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts of a multipart/alternative e-mail."""
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def message_id(message: EmailMessage) -> str:
    """The Message-ID as sent; a long one arrives folded onto a continuation line."""
    return str(message["Message-ID"]).strip()


def received(inbox: Inbox, address: str, template: str) -> list[EmailMessage]:
    """Messages the SMTP server received for one address, from one of our templates (known by Message-ID)."""
    return [m for m in inbox.to(address) if message_id(m).startswith(f"<{template}.")]


def correction_link(inbox: Inbox) -> tuple[str, str]:
    """The path and the raw token of the newest correction link Tess received."""
    text, _ = bodies(received(inbox, TESS, "request-changes")[-1])
    match = re.search(re.escape(BASE_URL) + r"(/correct/([A-Za-z0-9_-]+)/)", text)
    assert match, text
    return match.group(1), match.group(2)


def stage_of(request: TenantRequest) -> str:
    request.refresh_from_db()
    return request.stage


def second_request(prefix: str = "brightwavelabs") -> TenantRequest:
    return request_submit(data=request_data(domain_prefix=prefix, display_name="Brightwave Labs"))


# 1. Submission and confirmation


def test_tess_on_the_page_and_an_integrator_through_the_api_both_get_confirmed(client, smtp_server, worker):
    page = client.post("/request-tenant/", form_post())
    assert page.status_code == 302, page.content.decode()[:2000]
    api = client.post(
        "/api/v1/tenant-requests",
        api_body(tenant={"domain_prefix": "brightwaveapi", "display_name": "Brightwave API", "country": "BE"}),
        content_type="application/json",
    )
    assert api.status_code == 201, api.content
    assert api.json()["stage"] == "to_validate"

    from_page = TenantRequest.objects.get(domain_prefix="brightwave")
    from_api = TenantRequest.objects.get(pk=api.json()["id"])
    assert from_api.domain_prefix == "brightwaveapi"
    for request in (from_page, from_api):
        assert request.stage == "to_validate"
        assert request.company.vat_number == "BE0403170701"
        assert (request.technical_contact.email, request.commercial_contact.email) == (TESS, CARL)
    assert smtp_server.messages == []

    worker()

    assert len(smtp_server.messages) == 4
    for request in (from_page, from_api):
        for address in (TESS, CARL):
            (message,) = [
                m for m in received(smtp_server, address, "request-confirmation") if request.domain in m["Subject"]
            ]
            outbound = OutboundEmail.objects.get(message_id=message_id(message))
            assert (outbound.request_id, outbound.to, outbound.status) == (request.pk, [address], "sent")
            text, html = bodies(message)
            for part in (text, html):
                assert "Brightwave Analytics BV" in part
                assert "BE0403170701" in part
                assert request.domain in part
            assert re.search(r"http://127\.0\.0\.1:8000/track/[A-Za-z0-9_-]+/", text)
            track = re.search(r'href="(http://127\.0\.0\.1:8000(/track/[A-Za-z0-9_-]+/))"', html)
            assert track, html
            assert client.get(track.group(2)).status_code == 200

        on_timeline = TimelineEntry.objects.filter(request=request, kind="email")
        assert sorted(e.data["to"][0] for e in on_timeline) == [CARL, TESS]
        assert {e.data["message_id"] for e in on_timeline} == set(
            OutboundEmail.objects.filter(request=request).values_list("message_id", flat=True)
        )

    tess = User.objects.create_user(TESS, "Tess-manages-2026", first_name="Tess")
    Membership.objects.create(user=tess, company=from_page.company)
    client.force_login(tess)
    answer = client.get(f"/api/v1/tenant-requests/{from_page.pk}")
    assert answer.status_code == 200
    emails = [e for e in answer.json()["timeline"] if e["kind"] == "email"]
    assert len(emails) == 2
    assert any(TESS in e["message"] for e in emails) and any(CARL in e["message"] for e in emails)


def test_one_confirmation_when_tess_is_also_the_commercial_contact(client, smtp_server, worker):
    same_on_page = form_post(
        commercial_same_as_technical="on",
        commercial_first_name="",
        commercial_last_name="",
        commercial_email="",
        commercial_phone="",
        commercial_job_title="",
    )
    assert client.post("/request-tenant/", same_on_page).status_code == 302
    tess_twice = api_body(
        tenant={"domain_prefix": "brightwaveapi", "display_name": "Brightwave API", "country": "BE"},
        commercial_contact=api_body()["technical_contact"],
    )
    assert client.post("/api/v1/tenant-requests", tess_twice, content_type="application/json").status_code == 201

    worker()

    for request in TenantRequest.objects.all():
        assert request.technical_contact_id == request.commercial_contact_id
        assert OutboundEmail.objects.filter(request=request, template="request-confirmation").count() == 1
    assert len(smtp_server.messages) == 2
    assert len(smtp_server.to(TESS)) == 2
    assert len({message_id(m) for m in smtp_server.messages}) == 2


# 2. Vera's decisions


def test_vera_decides_in_the_backoffice(client, vera, submitted, smtp_server, worker):
    to_reject = second_request("brightwavelabs")
    to_change = second_request("brightwavecloud")
    client.force_login(vera)

    page = client.post(f"/backoffice/requests/{submitted.pk}/validate/", follow=True)
    assert page.status_code == 200
    assert "Validated" in page.content.decode()
    assert stage_of(submitted) == "awaiting_signature"
    assert submitted.timeline.filter(to_stage="awaiting_signature", actor=vera).exists()

    refused = client.post(f"/backoffice/requests/{to_reject.pk}/reject/", {"reason": "  "}, follow=True)
    assert "Give the reason for the rejection" in refused.content.decode()
    assert stage_of(to_reject) == "to_validate"

    reason = "The VAT number belongs to another company than Brightwave Analytics BV."
    client.post(f"/backoffice/requests/{to_reject.pk}/reject/", {"reason": reason})
    assert stage_of(to_reject) == "rejected"

    message = "Please give the street of your registered office."
    client.post(f"/backoffice/requests/{to_change.pk}/ask-changes/", {"message": message})
    assert stage_of(to_change) == "changes_requested"

    illegal = client.post(f"/backoffice/requests/{to_reject.pk}/validate/", follow=True)
    assert illegal.status_code == 200
    assert "is Rejected: it cannot move to Awaiting Signature" in illegal.content.decode()
    assert stage_of(to_reject) == "rejected"

    worker()

    for address in (TESS, CARL):
        (rejection,) = received(smtp_server, address, "request-rejected")
        assert to_reject.domain in rejection["Subject"]
        for part in bodies(rejection):
            assert "The VAT number belongs to another company" in part
    (changes,) = received(smtp_server, TESS, "request-changes")
    assert message in bodies(changes)[0]
    assert received(smtp_server, CARL, "request-changes") == []


def api_token(client, email: str, password: str, **extra) -> str:
    answer = client.post(
        "/api/v1/auth/token", {"email": email, "password": password, **extra}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["token"]


def test_vera_decides_through_the_api(client, vera, submitted, smtp_server, worker):
    to_reject = second_request("brightwavelabs")
    to_change = second_request("brightwavecloud")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {api_token(client, 'Vera@Reseller.example', 'Vera-validates-2026')}"}

    def staff_post(request_id: int, action: str, body: dict | None = None):
        return client.post(
            f"/api/v1/staff/tenant-requests/{request_id}/{action}",
            body or {},
            content_type="application/json",
            **bearer,
        )

    waiting = client.get("/api/v1/staff/tenant-requests?stage=to_validate", **bearer).json()
    assert waiting["count"] == 3

    validated = staff_post(submitted.pk, "validate")
    assert validated.status_code == 200
    assert validated.json()["stage"] == "awaiting_signature"

    assert staff_post(to_reject.pk, "reject", {"reason": " "}).status_code == 422
    reason = "Brightwave Analytics BV is not registered at this address."
    rejected = staff_post(to_reject.pk, "reject", {"reason": reason})
    assert rejected.status_code == 200
    assert rejected.json()["stage"] == "rejected"
    assert rejected.json()["timeline"][-1]["message"] == f"Rejected: {reason}"

    changes = staff_post(to_change.pk, "request-changes", {"message": "Which city is the office in?"})
    assert changes.status_code == 200
    assert changes.json()["stage"] == "changes_requested"

    illegal = staff_post(to_reject.pk, "validate")
    assert illegal.status_code == 409
    assert illegal["Content-Type"].startswith("application/json")
    assert "cannot move to Awaiting Signature" in illegal.json()["detail"]
    assert stage_of(to_reject) == "rejected"
    assert staff_post(submitted.pk, "request-changes", {"message": "Too late"}).status_code == 409
    assert stage_of(submitted) == "awaiting_signature"
    assert staff_post(999_999, "validate").status_code == 404

    worker()

    for address in (TESS, CARL):
        (rejection,) = received(smtp_server, address, "request-rejected")
        assert all(reason in part for part in bodies(rejection))
    (asked,) = received(smtp_server, TESS, "request-changes")
    assert "Which city is the office in?" in bodies(asked)[0]


# 3. The correction link


def ask_changes_and_read_link(client, vera, request, inbox, worker) -> tuple[str, str]:
    client.force_login(vera)
    client.post(f"/backoffice/requests/{request.pk}/ask-changes/", {"message": "Your street is missing its number."})
    client.logout()
    worker()
    return correction_link(inbox)


def test_tess_corrects_the_request_through_the_link_once(client, vera, submitted, smtp_server, worker):
    path, raw = ask_changes_and_read_link(client, vera, submitted, smtp_server, worker)

    form = client.get(path)
    assert form.status_code == 200
    page = form.content.decode()
    assert 'value="Korenmarkt 1"' in page
    assert 'value="brightwave"' in page
    assert 'value="tess@brightwave.example"' in page
    assert "Your street is missing its number." in page

    sent = client.post(path, form_post(company_address_line1="Veldstraat 5", _correction=raw))
    assert sent.status_code == 302, sent.content.decode()[:2000]
    assert stage_of(submitted) == "to_validate"
    assert TenantRequest.objects.get(pk=submitted.pk).applicant.address_line1 == "Veldstraat 5"
    assert Company.objects.get(pk=submitted.company_id).address_line1 == "Korenmarkt 1"  # until staff validate
    back = submitted.timeline.order_by("-seq").filter(kind="stage").first()
    assert (back.from_stage, back.to_stage) == ("changes_requested", "to_validate")
    assert back.data["changed"] == ["company.address_line1"]
    assert "company.address_line1 changed" in back.message

    assert client.get(path).status_code == 410
    assert client.post(path, form_post(company_address_line1="Veldstraat 7", _correction=raw)).status_code == 410
    assert TenantRequest.objects.get(pk=submitted.pk).applicant.address_line1 == "Veldstraat 5"
    assert client.get("/correct/made-up-token-that-nobody-was-sent/").status_code == 404

    link = RequestLink.objects.get(request=submitted, purpose="correction")
    assert link.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert link.used_at is not None
    for row in RequestLink.objects.values():
        assert all(raw not in str(value) for value in row.values())

    worker()
    for address in (TESS, CARL):
        corrected = [m for m in received(smtp_server, address, "request-confirmation") if "corrected" in m["Subject"]]
        assert len(corrected) == 1
        assert "Veldstraat 5" in bodies(corrected[0])[0]


def test_a_newer_correction_link_withdraws_the_older_one(client, vera, submitted, smtp_server, worker):
    first, first_token = ask_changes_and_read_link(client, vera, submitted, smtp_server, worker)
    assert client.post(first, form_post(_correction=first_token)).status_code == 302
    second, _ = ask_changes_and_read_link(client, vera, submitted, smtp_server, worker)
    assert second != first
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


# 4. The audit trail


def test_verify_audit_passes_after_the_journey_and_catches_an_edited_entry(
    client, vera, submitted, smtp_server, worker, capsys
):
    path, raw = ask_changes_and_read_link(client, vera, submitted, smtp_server, worker)
    client.post(path, form_post(company_city="Antwerpen", company_postal_code="2000", _correction=raw))
    client.force_login(vera)
    client.post(f"/backoffice/requests/{submitted.pk}/validate/")
    worker()
    sent = OutboundEmail.objects.filter(request=submitted, status="sent").count()
    assert sent >= 5
    assert TimelineEntry.objects.filter(request=submitted, kind="email").count() == sent

    call_command("verify_audit")
    assert "Timeline intact" in capsys.readouterr().out

    entry = TimelineEntry.objects.get(request=submitted, to_stage="changes_requested")
    with pytest.raises(ValueError, match="append-only"):
        entry.message = "Nothing was asked."
        entry.save()
    TimelineEntry.objects.filter(pk=entry.pk).update(message="Nothing was asked.")

    with pytest.raises(CommandError, match="broken in 1 place"):
        call_command("verify_audit")
    assert f"request #{submitted.pk}, entry {entry.seq}: was changed after it was written" in capsys.readouterr().err


# 5. The SMTP server is down


def test_confirmations_wait_for_the_smtp_server_and_go_out_once(client, settings, worker, time_machine):
    port = free_port()
    settings.MAILERS = {"default": parse_email_url(f"smtp://127.0.0.1:{port}?timeout=5")}
    settings.MAIL_CAPTURED = False
    time_machine.move_to(timezone.now(), tick=True)
    assert client.post("/request-tenant/", form_post()).status_code == 302
    request_submit(
        data=request_data(
            legal_name="Other Corp NV",
            vat_number="BE0202239951",
            domain_prefix="othercorp",
            technical=contact("Olga", "Other", "IT", "+32470111222", "other.example"),
            commercial=contact("Otto", "Other", "CEO", "+32470333444", "other.example"),
        )
    )

    worker()

    queued = OutboundEmail.objects.all()
    assert queued.count() == 4
    for email in queued:
        assert (email.status, email.attempts, email.sent_at) == ("queued", 1, None)
        assert email.last_error
        assert email.next_attempt_at > timezone.now()
    assert not TimelineEntry.objects.filter(kind="email").exists()

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        worker()
        assert inbox.messages == [], "a retry went out before its back-off"
        time_machine.move_to(timezone.now() + timedelta(minutes=15), tick=True)
        worker()
        assert len(inbox.messages) == 4
        worker()
        assert len(inbox.messages) == 4
    finally:
        controller.stop()

    sent_ids = Counter(message_id(m) for m in inbox.messages)
    assert sent_ids == Counter(OutboundEmail.objects.values_list("message_id", flat=True))
    assert set(sent_ids.values()) == {1}
    assert sorted(a for m in inbox.messages for a in str(m["To"]).split(", ")) == sorted(
        [TESS, CARL, "olga@other.example", "otto@other.example"]
    )
    for email in OutboundEmail.objects.all():
        assert (email.status, email.attempts, email.last_error) == ("sent", 2, "")
    assert TimelineEntry.objects.filter(kind="email").count() == 4
