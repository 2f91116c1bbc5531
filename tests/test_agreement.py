"""Steps 3 to 5: Carl, the commercial contact, receives the agreement, signs it online, and it is sealed."""

import re
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from portal.agreements.models import Agreement, SigningInvitation
from portal.agreements.seal import verify_pdf
from portal.agreements.services import signature_expire, signature_follow_up
from portal.core.tokens import token_hash
from portal.notifications.models import OutboundEmail
from portal.onboarding.models import TimelineEntry
from portal.onboarding.services import request_validate
from tests.conftest import latest_code, signing_token

CARL = "carl@brightwave.example"
TESS = "tess@brightwave.example"


def sign_via_api(client, inbox, worker, token, *, code=None):
    assert client.post(f"/api/v1/signing/{token}/code").status_code == 202
    worker()
    body = {
        "full_name": "Carl Commerce",
        "job_title": "CEO",
        "signing_authority": True,
        "code": code or latest_code(inbox),
    }
    return client.post(f"/api/v1/signing/{token}", body, content_type="application/json")


def test_validation_sends_the_contract_with_the_pdf_and_a_personal_link(awaiting, smtp_server):
    awaiting.refresh_from_db()
    assert awaiting.stage == "awaiting_signature"
    contract = [m for m in smtp_server.to(CARL) if "please sign online" in str(m["Subject"])]
    assert len(contract) == 1
    message = contract[0]
    assert "contracts@" in str(message["From"])
    attachments = [part for part in message.iter_attachments()]
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    assert attachments[0].get_content().startswith(b"%PDF-")
    text = message.get_body(("plain",)).get_content()
    assert "authority to sign" in text and "works until" in text
    assert re.search(r"http://127\.0\.0\.1:8000/sign/[A-Za-z0-9_\-]{43}/", text)
    agreement = Agreement.objects.get(request=awaiting)
    assert agreement.sha256 and bytes(agreement.pdf) == attachments[0].get_content()


def test_tokens_are_stored_only_as_hashes(awaiting, smtp_server):
    token = signing_token(smtp_server)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM agreements_signinginvitation")
        rows = cursor.fetchall()
    assert rows and all(token not in str(value) for row in rows for value in row)
    assert SigningInvitation.objects.filter(token_hash=token_hash(token)).exists()
    sent = OutboundEmail.objects.get(template="contract")
    assert (
        sent.status == "sent"
        and token not in sent.body_text + sent.body_html
        and "/sign/[removed after sending]/" in sent.body_text
    )


def test_signing_through_the_api_ends_at_provisioning_with_the_sealed_pdf_emailed(
    client, awaiting, smtp_server, worker
):
    token = signing_token(smtp_server)
    link = client.get(f"/api/v1/signing/{token}").json()
    assert link["company"] == "Brightwave Analytics BV" and link["status"] == "sent"
    assert client.get(link["document_url"].removeprefix("http://127.0.0.1:8000")).content.startswith(b"%PDF-")

    assert client.post(f"/api/v1/signing/{token}/code").status_code == 202
    worker()
    code = latest_code(smtp_server)
    bad = "000000" if code != "000000" else "111111"
    body = {"full_name": "Carl Commerce", "job_title": "CEO", "signing_authority": True, "code": bad}
    wrong = client.post(f"/api/v1/signing/{token}", body, content_type="application/json")
    assert wrong.status_code == 400 and wrong.json()["tries_left"] == 4

    signed = client.post(f"/api/v1/signing/{token}", {**body, "code": code}, content_type="application/json")
    assert signed.status_code == 200, signed.content
    assert signed.json()["stage"] == "provisioning"
    awaiting.refresh_from_db()
    assert awaiting.stage == "provisioning"
    worker()
    signed_mail = [m for m in smtp_server.to(CARL) if str(m["Subject"]).startswith("Signed:")]
    assert len(signed_mail) == 1
    pdf = next(signed_mail[0].iter_attachments()).get_content()
    verdict = verify_pdf(pdf)
    assert verdict.ok and verdict.request_id == awaiting.pk and verdict.signer_name == "Carl Commerce"
    assert any(str(m["Subject"]).startswith("Agreement signed: we are creating") for m in smtp_server.to(TESS))
    assert client.get(f"/api/v1/signing/{token}").status_code == 410
    assert client.post(f"/api/v1/signing/{token}", body, content_type="application/json").status_code == 410


def test_the_e_mails_after_a_signature_are_queued_once_when_their_job_runs_again(signed, smtp_server, worker):
    """The signature's follow-up job queues the signer's sealed copy and Tess's notice; run again, it queues nothing."""
    agreement = Agreement.objects.get(request=signed, status="signed")
    worker()
    assert signature_follow_up(agreement_id=agreement.pk) == "already followed up"
    worker()
    templates = list(OutboundEmail.objects.filter(request=signed).values_list("template", flat=True))
    assert templates.count("agreement-signed") == 1 and templates.count("provisioning-started") == 1
    assert len([m for m in smtp_server.to(CARL) if str(m["Subject"]).startswith("Signed:")]) == 1


def test_refusals_beside_the_field(client, awaiting, smtp_server):
    token = signing_token(smtp_server)
    page = client.post(f"/sign/{token}/", {"full_name": "Carl", "job_title": "CEO", "code": "123456"})
    assert page.status_code == 400 and b"authority to sign" in page.content
    page = client.post(
        f"/sign/{token}/", {"signing_authority": "on", "full_name": " ", "job_title": "CEO", "code": "123456"}
    )
    assert page.status_code == 400 and b"Type your full name" in page.content
    api = client.post(
        f"/api/v1/signing/{token}",
        {"full_name": "Carl", "job_title": "CEO", "signing_authority": False, "code": "123456"},
        content_type="application/json",
    )
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["body", "signing_authority"]
    assert client.get("/sign/not-a-real-token/").status_code == 404
    assert client.get("/api/v1/signing/not-a-real-token").status_code == 404
    awaiting.refresh_from_db()
    assert awaiting.stage == "awaiting_signature"


def test_codes_are_rate_limited_and_never_kept(client, awaiting, smtp_server, worker):
    token = signing_token(smtp_server)
    assert client.post(f"/api/v1/signing/{token}/code").status_code == 202
    assert client.post(f"/api/v1/signing/{token}/code").status_code == 429
    worker()
    code = latest_code(smtp_server)
    stored = OutboundEmail.objects.get(template="signature-code")
    assert code not in stored.subject + stored.body_text + stored.body_html


def test_five_wrong_codes_kill_the_code(client, awaiting, smtp_server, worker):
    token = signing_token(smtp_server)
    client.post(f"/api/v1/signing/{token}/code")
    worker()
    code = latest_code(smtp_server)
    bad = "000000" if code != "000000" else "111111"
    body = {"full_name": "Carl Commerce", "job_title": "CEO", "signing_authority": True}
    answers = [
        client.post(f"/api/v1/signing/{token}", {**body, "code": bad}, content_type="application/json").json()[
            "tries_left"
        ]
        for _ in range(5)
    ]
    assert answers == [4, 3, 2, 1, 0]
    late = client.post(f"/api/v1/signing/{token}", {**body, "code": code}, content_type="application/json")
    assert late.status_code == 400 and "new code" in late.json()["detail"]


@pytest.fixture
def signed_pdf(client, awaiting, smtp_server, worker, tmp_path):
    token = signing_token(smtp_server)
    assert sign_via_api(client, smtp_server, worker, token).status_code == 200
    path = tmp_path / "signed.pdf"
    path.write_bytes(bytes(Agreement.objects.get(request=awaiting).signed_pdf))
    return path


def test_verify_agreement_accepts_the_signed_pdf_and_refuses_any_change(signed_pdf, tmp_path, capsys):
    call_command("verify_agreement", str(signed_pdf))
    out = capsys.readouterr().out
    assert "INTACT" in out and "Carl Commerce" in out and "request:" in out

    data = signed_pdf.read_bytes()
    changed = tmp_path / "changed.pdf"
    at = data.index(b"stream", 2000) + 40  # one byte inside a page's content
    changed.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    with pytest.raises(CommandError, match="changed after it was sealed"):
        call_command("verify_agreement", str(changed))

    appended = tmp_path / "appended.pdf"
    appended.write_bytes(data + b"\n% one more line\n")
    with pytest.raises(CommandError, match="added to the file after it was sealed"):
        call_command("verify_agreement", str(appended))

    plain = tmp_path / "plain.pdf"
    plain.write_bytes(bytes(Agreement.objects.get().pdf))
    with pytest.raises(CommandError, match="no seal"):
        call_command("verify_agreement", str(plain))

    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_bytes(b"hello")
    with pytest.raises(CommandError, match="not a PDF"):
        call_command("verify_agreement", str(not_pdf))


def test_the_verify_page_says_the_same(client, signed_pdf):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = signed_pdf.read_bytes()
    good = client.post("/verify/", {"file": SimpleUploadedFile("a.pdf", data, "application/pdf")})
    assert good.status_code == 200 and "Intact" in good.content.decode()
    bad = client.post("/verify/", {"file": SimpleUploadedFile("a.pdf", data + b"%%junk\n", "application/pdf")})
    assert "Not valid" in bad.content.decode() and "added to the file" in bad.content.decode()
    text = client.post("/verify/", {"file": SimpleUploadedFile("a.pdf", b"just text", "text/plain")})
    assert text.status_code == 400 and "not a PDF" in text.content.decode()
    huge = client.post(
        "/verify/", {"file": SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (50 * 1024 * 1024), "application/pdf")}
    )
    assert huge.status_code == 413 and "too large" in huge.content.decode()


def test_reminders_at_each_interval_then_expiry_back_to_to_validate(
    client, settings, awaiting, smtp_server, worker, time_machine, vera
):
    settings.SIGNATURE_REMINDER_EVERY = timedelta(days=3)
    settings.SIGNATURE_EXPIRES_AFTER = timedelta(days=14)
    token = signing_token(smtp_server)
    invitation = SigningInvitation.objects.get()
    start = invitation.created_at
    reminder_days = []
    for day in range(1, 15):
        time_machine.move_to(start + timedelta(days=day, minutes=1), tick=False)
        before = len(smtp_server.messages)
        worker()
        if any("eminder" in str(m["Subject"]) for m in smtp_server.messages[before:]):
            reminder_days.append(day)
    assert reminder_days == [3, 6, 9, 12]
    subjects = [str(m["Subject"]) for m in smtp_server.to(CARL) if "eminder" in str(m["Subject"])]
    assert len(subjects) == 4
    assert subjects[-1].startswith("Last reminder") and all(s.startswith("Reminder") for s in subjects[:-1])
    awaiting.refresh_from_db()
    assert awaiting.stage == "to_validate"
    assert TimelineEntry.objects.filter(
        request=awaiting, to_stage="to_validate", message__contains="not signed"
    ).exists()
    assert client.get(f"/sign/{token}/").status_code == 410
    assert "expired" in [str(m["Subject"]) for m in smtp_server.to(CARL)][-1]
    assert any("Unsigned" in str(m["Subject"]) for m in smtp_server.to(vera.email))

    request_validate(request_id=awaiting.pk, by=vera)
    worker()
    fresh = signing_token(smtp_server)
    assert fresh != token and client.get(f"/sign/{fresh}/").status_code == 200


def test_staff_resend_kills_the_old_link(client, awaiting, smtp_server, worker, vera):
    old = signing_token(smtp_server)
    client.force_login(vera)
    client.post(f"/backoffice/requests/{awaiting.pk}/resend/")
    worker()
    new = signing_token(smtp_server)
    assert new != old
    assert client.get(f"/sign/{old}/").status_code == 410
    assert client.get(f"/sign/{new}/").status_code == 200


def test_staff_withdraw_and_signer_decline(client, awaiting, smtp_server, worker, vera):
    token = signing_token(smtp_server)
    page = client.post(f"/sign/{token}/decline/", {"reason": "Our CFO signs contracts: cfo@brightwave.example"})
    assert page.status_code == 200
    awaiting.refresh_from_db()
    assert awaiting.stage == "to_validate"
    worker()
    assert any("Declined" in str(m["Subject"]) for m in smtp_server.to(vera.email))
    assert client.get(f"/sign/{token}/").status_code == 410

    request_validate(request_id=awaiting.pk, by=vera)
    client.force_login(vera)
    client.post(f"/backoffice/requests/{awaiting.pk}/withdraw/", {"reason": "Wrong company details."})
    awaiting.refresh_from_db()
    assert awaiting.stage == "to_validate"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
def test_sign_and_expire_race_one_wins(client, settings, awaiting, smtp_server, worker):
    token = signing_token(smtp_server)
    client.post(f"/api/v1/signing/{token}/code")
    worker()
    code = latest_code(smtp_server)
    invitation = SigningInvitation.objects.get()
    # The link expires just as Carl signs: move the deadline to now, then race both.
    SigningInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + timedelta(milliseconds=300))
    from portal.agreements.services import Signature, agreement_sign

    outcome = {}
    barrier = threading.Barrier(2)

    def sign():
        barrier.wait()
        try:
            agreement_sign(raw=token, signature=Signature("Carl Commerce", "CEO", True, code, "127.0.0.1", "race"))
            outcome["sign"] = "won"
        except Exception as error:  # the loser is told the link is dead
            outcome["sign"] = type(error).__name__
        finally:
            connection.close()

    def expire():
        barrier.wait()
        import time

        time.sleep(0.31)
        outcome["expire"] = signature_expire(invitation_id=invitation.pk)
        connection.close()

    threads = [threading.Thread(target=sign), threading.Thread(target=expire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    awaiting.refresh_from_db()
    moves = list(TimelineEntry.objects.filter(request=awaiting, kind="stage").values_list("to_stage", flat=True))
    templates = set(OutboundEmail.objects.values_list("template", flat=True))
    if outcome["sign"] == "won":
        assert awaiting.stage == "provisioning" and outcome["expire"] == "no longer needed"
        assert moves[-1] == "provisioning" and "signature-expired" not in templates
    else:
        assert awaiting.stage == "to_validate" and outcome["expire"] == "expired"
        assert moves[-1] == "to_validate" and "provisioning" not in moves
        assert "agreement-signed" not in templates and "provisioning-started" not in templates
    call_command("verify_audit")


def test_a_seal_that_cannot_be_made_records_nothing_and_the_signer_can_retry(
    client, settings, awaiting, smtp_server, worker
):
    from tests.conftest import free_port

    token = signing_token(smtp_server)
    client.post(f"/api/v1/signing/{token}/code")
    worker()
    body = {
        "full_name": "Carl Commerce",
        "job_title": "CEO",
        "signing_authority": True,
        "code": latest_code(smtp_server),
    }
    settings.SEAL_TSA_URL = f"http://127.0.0.1:{free_port()}/"  # a time-stamp server that does not answer
    refused = client.post(f"/api/v1/signing/{token}", body, content_type="application/json")
    assert refused.status_code == 503 and "nothing was recorded" in refused.json()["detail"]
    awaiting.refresh_from_db()
    assert awaiting.stage == "awaiting_signature" and not Agreement.objects.get().signed_pdf
    settings.SEAL_TSA_URL = ""
    assert client.post(f"/api/v1/signing/{token}", body, content_type="application/json").status_code == 200
