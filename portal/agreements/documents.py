"""The agreement as a document: a versioned Typst template per language, with an evidence page once signed.

One template per agreement version and language makes both the PDF that is sent and signed and the HTML the signer
reads on the signing page, from the same data: the two cannot say different things. The data goes to
Typst as JSON (`sys.inputs`), never spliced into markup, so any company or person name prints as written.
"""

import datetime
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

import nh3
import typst
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from portal.agreements.models import Agreement, SigningInvitation
from portal.onboarding.models import TenantRequest

logger = logging.getLogger(__name__)

# Debian's fonts-dejavu-core beside the fonts Typst embeds, and no others: the same data makes the same bytes.
FONT_DIRS = ["/usr/share/fonts/truetype/dejavu"]
_HTML_EXPORT_NOTICE = "html export is under active development"
_compilers = threading.local()


def templates_dir() -> Path:
    return Path(settings.BASE_DIR) / "templates" / "agreements"


def template_name(version: str, language: str) -> str:
    return f"service-agreement-{version}.{language}.typ"


class LanguageMissing(ValueError):
    """This agreement version has no text in that language: it cannot be sent in it (never falls back to English)."""

    def __init__(self, version: str, language: str):
        self.version, self.language = version, language
        super().__init__(
            gettext("Version %(version)s of the agreement has no %(language)s text (%(file)s is missing).")
            % {"version": version, "language": language_name(language), "file": template_name(version, language)}
        )


def language_name(language: str) -> str:
    return str(dict(settings.LANGUAGES).get(language, language))


def version_languages(version: str) -> list[str]:
    """The languages this version of the agreement can be sent in: those whose template exists."""
    codes = [code for code, _name in settings.LANGUAGES]
    return [code for code in codes if (templates_dir() / template_name(version, code)).is_file()]


def _template(version: str, language: str) -> str:
    if language not in version_languages(version):
        raise LanguageMissing(version, language)
    return template_name(version, language)


@cache
def _fonts() -> typst.Fonts:
    """Read once per process and shared by the compilers: a new one is ready in well under a millisecond."""
    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=True, font_paths=FONT_DIRS)


def _compiler() -> typst.Compiler:
    """This thread's compiler, kept for what it learns from one document to the next; it serves one thread."""
    root = str(templates_dir())
    if getattr(_compilers, "root", None) != root:
        _compilers.compiler = typst.Compiler(root=root, font_paths=_fonts(), ignore_system_fonts=True)
        _compilers.root = root
    return _compilers.compiler


def _compile(
    template: str,
    data: dict[str, Any],
    *,
    made_at: datetime.datetime,
    output: Literal["pdf", "html"],
    tagged: bool = True,
) -> bytes:
    """`data` reaches the template as `sys.inputs.data`; `made_at` dates the PDF, so the same data makes the same bytes.

    A tagged PDF carries its structure for screen readers."""
    result, warnings = _compiler().compile_with_warnings(
        str(templates_dir() / template),
        format=output,
        sys_inputs={"data": json.dumps(data)},
        timestamp=int(made_at.timestamp()),
        pdf_tags=tagged,
    )
    for warning in warnings:
        if not str(warning).startswith(_HTML_EXPORT_NOTICE):
            logger.warning("Typst, %s (%s): %s", template, output, warning)
    assert isinstance(result, bytes)
    return result


def _when(moment: datetime.datetime | None, pattern: str, empty: str = "—") -> str:
    return date_format(timezone.localtime(moment), pattern) if moment else empty


def agreement_data(
    *, request: TenantRequest, version: str, language: str, prepared_at: datetime.datetime
) -> dict[str, Any]:
    """What an agreement says about this request, as plain JSON values, dates written in `language`."""
    company = request.applicant
    technical, commercial = request.technical_contact, request.commercial_contact
    return {
        "brand": settings.PORTAL_BRAND,
        "version": version,
        "language": language,
        "prepared": _when(prepared_at, "DATE_FORMAT"),
        "request": request.pk,
        "company": {
            "legal_name": company.legal_name,
            "address_lines": company.address_lines,
            "vat_number": company.vat_number,
            "registry_number": company.registry_number,
        },
        "tenant": {"domain": request.domain, "display_name": request.display_name, "country": request.tenant_country},
        "technical": {"full_name": technical.full_name, "email": technical.email},
        "commercial": {"full_name": commercial.full_name, "job_title": commercial.job_title, "email": commercial.email},
    }


def _prepared(request: TenantRequest, version: str, language: str) -> tuple[str, dict[str, Any], datetime.datetime]:
    """The template, the data (dates written in `language`) and the moment of one agreement about to be made."""
    template = _template(version, language)
    prepared_at = timezone.now()
    with translation.override(language):
        data = agreement_data(request=request, version=version, language=language, prepared_at=prepared_at)
    return template, data, prepared_at


@dataclass(frozen=True)
class RenderedAgreement:
    html: str  # for reading on the signing page
    pdf: bytes  # sent, signed and sealed


def agreement_render(*, request: TenantRequest, version: str, language: str | None = None) -> RenderedAgreement:
    """The agreement of this request from the template of `version`, in `language` (the request's unless said),
    as PDF and as HTML. LanguageMissing when that version has no text in that language."""
    template, data, prepared_at = _prepared(request, version, language or request.language)
    return RenderedAgreement(
        html=_compile(template, data, made_at=prepared_at, output="html").decode(),
        pdf=_compile(template, data, made_at=prepared_at, output="pdf"),
    )


def agreement_pdf(*, request: TenantRequest, version: str, language: str | None = None) -> bytes:
    """The PDF alone: what staff preview before validating."""
    template, data, prepared_at = _prepared(request, version, language or request.language)
    return _compile(template, data, made_at=prepared_at, output="pdf")


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
_HEADING = re.compile(r"(</?)h([1-4])\b")


def agreement_text(html: str) -> str:
    """The agreement's text inside the signing page: its HTML export's body, sanitised, headings two levels down.

    The page names the agreement in its own h1 and h2; the text keeps its structure below them.
    """
    found = _BODY.search(html)
    body = nh3.clean(found.group(1) if found else html, attributes={"*": {"class"}})
    return _HEADING.sub(lambda m: f"{m.group(1)}h{int(m.group(2)) + 2}", body)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def evidence_data(*, agreement: Agreement, invitation: SigningInvitation) -> dict[str, Any]:
    request = agreement.request
    company = request.applicant
    moment = "Y-m-d H:i:s T"
    return {
        "brand": settings.PORTAL_BRAND,
        "version": agreement.version,
        "request": request.pk,
        "company": company.legal_name,
        "vat_number": company.vat_number,
        "signer_name": agreement.signer_name,
        "signer_title": agreement.signer_title,
        "signer_email": agreement.signer_email,
        "signer_ip": agreement.signer_ip or "unknown",
        "signer_user_agent": agreement.signer_user_agent or "unknown",
        "sent_at": _when(invitation.created_at, moment),
        "first_opened_at": _when(invitation.first_opened_at, moment),
        "code_sent_at": _when(invitation.code_sent_at, moment),
        "code_verified_at": _when(invitation.code_verified_at, moment),
        "signed_at": _when(agreement.signed_at, moment),
        "sha256": agreement.sha256,
        "consent_version": agreement.consent_version,
        "consent_text": agreement.consent_text,
        "verify_url": settings.PORTAL_BASE_URL + reverse("agreements:verify"),
    }


def evidence_pdf(*, agreement: Agreement, invitation: SigningInvitation) -> bytes:
    """Untagged: the page joins the signed file as a drawing (a form XObject), which keeps no structure."""
    data = evidence_data(agreement=agreement, invitation=invitation)
    made_at = agreement.signed_at or timezone.now()
    return _compile(f"evidence.{agreement.language}.typ", data, made_at=made_at, output="pdf", tagged=False)


def signed_document(*, agreement: Agreement, invitation: SigningInvitation) -> bytes:
    """The agreement exactly as sent, with the evidence pages added as an incremental update (to be sealed).

    The sent PDF's bytes stay the file's first revision, so its SHA-256 on the evidence page can be checked.
    """
    output = BytesIO()
    signed_document_update(agreement=agreement, invitation=invitation).write(output)
    return output.getvalue()


def signed_document_update(*, agreement: Agreement, invitation: SigningInvitation) -> IncrementalPdfFileWriter:
    """The same, not yet written: the seal goes into the same update, which spares writing and reading it again."""
    writer = IncrementalPdfFileWriter(BytesIO(bytes(agreement.pdf)))
    evidence = PdfFileReader(BytesIO(evidence_pdf(agreement=agreement, invitation=invitation)))
    for index in range(int(evidence.root["/Pages"]["/Count"])):
        page = evidence.find_page_for_modification(index)[0].get_object()
        xobject = writer.import_page_as_xobject(evidence, page_ix=index)
        content = generic.StreamObject(stream_data=b"q /Evidence Do Q")
        writer.insert_page(
            generic.DictionaryObject(
                {
                    generic.pdf_name("/Type"): generic.pdf_name("/Page"),
                    generic.pdf_name("/MediaBox"): page["/MediaBox"],
                    generic.pdf_name("/Resources"): generic.DictionaryObject(
                        {
                            generic.pdf_name("/XObject"): generic.DictionaryObject(
                                {generic.pdf_name("/Evidence"): xobject}
                            )
                        }
                    ),
                    generic.pdf_name("/Contents"): writer.add_object(content),
                }
            )
        )
    return writer
