"""The agreement as a document: rendered from a versioned template, with an evidence page once signed."""

import hashlib

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
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
            "company": request.company,
            "technical": request.technical_contact,
            "commercial": request.commercial_contact,
        },
    )


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signed_document(*, agreement, invitation) -> bytes:
    """The agreement as sent, followed by the evidence page, as one PDF (to be sealed)."""
    request = agreement.request
    evidence = render_to_string(
        "agreements/evidence.html",
        {
            "brand": settings.PORTAL_BRAND,
            "agreement": agreement,
            "invitation": invitation,
            "req": request,
            "company": request.company,
            "verify_url": settings.PORTAL_BASE_URL + reverse("agreements:verify"),
        },
    )
    base = str(settings.BASE_DIR)
    body = HTML(string=agreement.html, base_url=base).render()
    proof = HTML(string=evidence, base_url=base).render()
    return body.copy(body.pages + proof.pages).write_pdf()
