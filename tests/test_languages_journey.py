"""A request made in Dutch: its e-mails, its agreement and its evidence in Dutch; staff resend it in French."""

import io
import re
from email.message import EmailMessage

import pytest
from django.utils import translation
from django.utils.translation import gettext
from pypdf import PdfReader

from portal.agreements.documents import evidence_pdf
from portal.agreements.models import Agreement
from portal.agreements.services import Signature, agreement_sign, signing_code_send
from portal.notifications.models import OutboundEmail
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from tests.conftest import api_body, request_data, unsaved_request, unsaved_signature

TESS = "tess@brightwave.example"
CARL = "carl@brightwave.example"


@pytest.fixture(autouse=True)
def portal_settings(settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8000"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def in_(language: str, english: str, **values) -> str:
    """What the catalogue makes of an English message in `language`; a test of its own checks it is translated."""
    with translation.override(language):
        text = gettext(english)
    assert text != english, f"{english!r} has no {language} translation"
    return text % values if values else text


def of(inbox, address: str, template: str) -> list[EmailMessage]:
    return [m for m in inbox.to(address) if str(m["Message-ID"]).strip().startswith(f"<{template}.")]


def parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def pdf_text(data: bytes) -> str:
    return " ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages)


def attachment(message: EmailMessage) -> bytes:
    [pdf] = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    return pdf.get_content()


def token_in(message: EmailMessage) -> str:
    return re.search(r"/sign/([A-Za-z0-9_\-]+)/", parts(message)[0]).group(1)


def test_a_request_in_dutch_gets_dutch_mail_a_dutch_agreement_and_staff_resend_it_in_french(
    client, smtp_server, worker, vera
):
    request = request_submit(data=request_data(language="nl"))
    worker()

    for address in (TESS, CARL):
        [confirmation] = of(smtp_server, address, "request-confirmation")
        subject = in_(
            "nl",
            "We received your tenant request for %(domain)s (#%(number)s)",
            domain=request.domain,
            number=request.pk,
        )
        assert str(confirmation["Subject"]).strip() == subject
        text, html = parts(confirmation)
        assert in_("nl", "What happens next") in text
        assert in_("nl", "What happens next") in html and '<html lang="nl">' in html
    assert set(OutboundEmail.objects.filter(template="request-confirmation").values_list("language", flat=True)) == {
        "nl"
    }

    request_validate(request_id=request.pk, by=vera)
    worker()
    [contract] = of(smtp_server, CARL, "contract")
    assert "Dienstverleningsovereenkomst" in str(contract["Subject"])
    dutch = pdf_text(attachment(contract))
    assert "Dienstverleningsovereenkomst" in dutch and "Voorwerp" in dutch and "Service Agreement" not in dutch
    dutch_link = token_in(contract)
    assert Agreement.objects.get(request=request).language == "nl"

    client.force_login(vera)
    page = client.get(f"/backoffice/requests/{request.pk}/")
    assert 'lang="nl">Nederlands</span>' in page.content.decode()
    client.post(f"/backoffice/requests/{request.pk}/resend/", {"language": "fr"})
    worker()
    assert client.get(f"/sign/{dutch_link}/").status_code == 410
    assert client.get(f"/api/v1/signing/{dutch_link}").status_code == 410

    french_contract = of(smtp_server, CARL, "contract")[-1]
    assert "contrat de service" in str(french_contract["Subject"]).lower()
    assert "Contrat de service" in pdf_text(attachment(french_contract))
    assert list(Agreement.objects.filter(request=request).values_list("language", "status").order_by("pk")) == [
        ("nl", "withdrawn"),
        ("fr", "sent"),
    ]

    french_link = token_in(french_contract)
    signing_code_send(raw=french_link)
    worker()
    code_mail = of(smtp_server, CARL, "signature-code")[-1]
    assert '<html lang="fr">' in parts(code_mail)[1]
    code = re.search(r"\b(\d{6})\b", parts(code_mail)[0]).group(1)
    signed = agreement_sign(
        raw=french_link, signature=Signature("Carl Commerce", "CEO", True, code, "127.0.0.1", "test")
    )
    evidence = pdf_text(bytes(signed.signed_pdf))
    assert "Preuve de signature" in evidence and "Langue du contrat" in evidence and "Français" in evidence
    assert "Je confirme avoir le pouvoir" in signed.consent_text


def test_the_evidence_page_of_a_dutch_agreement_names_its_language():
    request = unsaved_request()
    request.language = "nl"
    agreement, invitation = unsaved_signature(request, b"%PDF-1.7 unused")
    agreement.language = "nl"
    text = pdf_text(evidence_pdf(agreement=agreement, invitation=invitation))
    assert "Bewijs van ondertekening" in text and "Taal van de overeenkomst" in text and "Nederlands" in text


def test_a_version_without_a_text_in_the_language_is_not_sent_and_staff_read_why(
    client, smtp_server, worker, vera, settings, tmp_path
):
    request = request_submit(data=request_data(language="fr"))
    worker()
    settings.AGREEMENT_VERSION = "2099-01"  # no such template in any language
    client.force_login(vera)
    page = client.post(f"/backoffice/requests/{request.pk}/validate/", follow=True)
    assert "2099-01" in page.content.decode() and "service-agreement-2099-01.fr.typ" in page.content.decode()
    request.refresh_from_db()
    assert request.stage == "to_validate"
    assert not of(smtp_server, CARL, "contract")


def test_the_api_takes_the_contacts_language(client, db):
    response = client.post("/api/v1/tenant-requests", api_body(language="fr"), content_type="application/json")
    assert response.status_code == 201, response.content
    assert TenantRequest.objects.get().language == "fr"


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_api_answers_a_bad_request_in_the_language_it_is_asked(client, db, language):
    body = api_body()
    body["company"]["vat_number"] = "BE0000000000"
    response = client.post(
        "/api/v1/tenant-requests", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE=f"{language}-BE"
    )
    assert response.status_code == 422
    english = client.post("/api/v1/tenant-requests", body, content_type="application/json").json()
    assert response.json()["detail"] != english["detail"]
    assert response["Content-Language"] == language
    missing = client.get("/api/v1/tenant-requests/999999", HTTP_ACCEPT_LANGUAGE=language)
    assert missing.status_code in (401, 403, 404)
    assert missing.json()["detail"] != client.get("/api/v1/tenant-requests/999999").json()["detail"]
