"""The agreement as a document: rendered from a versioned template, with an evidence page once signed."""

import hashlib
from io import BytesIO

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from weasyprint import HTML

from portal.onboarding.models import TenantRequest


def template_name(version: str) -> str:
    return f"agreements/service-agreement-{version}.html"


def agreement_html(*, request: TenantRequest, version: str) -> str:
    return render_to_string(
        template_name(version),
        {
            "brand": settings.PORTAL_BRAND,
            "version": version,
            "prepared_at": timezone.localtime(),
            "req": request,
            "company": request.applicant,
            "technical": request.technical_contact,
            "commercial": request.commercial_contact,
        },
    )


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def evidence_pdf(*, agreement, invitation) -> bytes:
    request = agreement.request
    evidence = render_to_string(
        "agreements/evidence.html",
        {
            "brand": settings.PORTAL_BRAND,
            "agreement": agreement,
            "invitation": invitation,
            "req": request,
            "company": request.applicant,
            "verify_url": settings.PORTAL_BASE_URL + reverse("agreements:verify"),
        },
    )
    return html_to_pdf(evidence)


def signed_document(*, agreement, invitation) -> bytes:
    """The agreement exactly as sent, with the evidence pages added as an incremental update (to be sealed).

    The sent PDF's bytes stay the file's first revision, so its SHA-256 on the evidence page can be checked.
    """
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
    output = BytesIO()
    writer.write(output)
    return output.getvalue()
