"""Render, seal and verify times of the service agreement, beside a bare pyHanko signature of a one-page PDF.

Runs in-process: no database is needed, the agreement is rendered for an unsaved request.
"""

import statistics
import time
from io import BytesIO

ROUNDS = 30


def _timed(function, rounds: int = ROUNDS) -> tuple[list[float], object]:
    result = function()  # warm-up: fonts, caches
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def _figures(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1),
    }


def _demo_request():
    from portal.companies.models import Company, Contact
    from portal.onboarding.models import TenantRequest

    company = Company(
        legal_name="Brightwave Analytics BV",
        vat_number="BE0403170701",
        registry_number="0403.170.701",
        address_line1="Korenmarkt 1",
        postal_code="9000",
        city="Gent",
        country="BE",
        phone="+3292345678",
    )
    tess = Contact(
        company=company,
        first_name="Tess",
        last_name="Tech",
        email="tess@brightwave.example",
        phone="+32478123456",
        job_title="IT manager",
    )
    carl = Contact(
        company=company,
        first_name="Carl",
        last_name="Commerce",
        email="carl@brightwave.example",
        phone="+32478654321",
        job_title="CEO",
    )
    return TenantRequest(
        pk=1,
        company=company,
        technical_contact=tess,
        commercial_contact=carl,
        domain_prefix="brightwave",
        display_name="Brightwave",
        tenant_country="BE",
    )


def _signed(request, pdf: bytes):
    from django.utils import timezone

    from portal.agreements.documents import sha256
    from portal.agreements.models import Agreement, SigningInvitation

    now = timezone.now()
    agreement = Agreement(
        request=request,
        version="bench",
        pdf=pdf,
        sha256=sha256(pdf),
        signed_at=now,
        signer_name="Carl Commerce",
        signer_title="CEO",
        signer_email="carl@brightwave.example",
        signer_ip="127.0.0.1",
        signer_user_agent="bench",
        consent_text="I sign.",
        consent_version="bench",
    )
    invitation = SigningInvitation(
        agreement=agreement, created_at=now, expires_at=now, first_opened_at=now, code_sent_at=now, code_verified_at=now
    )
    return agreement, invitation


def agreement_figures() -> dict:
    from django.conf import settings
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from portal.agreements.documents import agreement_html, html_to_pdf, signed_document
    from portal.agreements.seal import portal_signer, seal_pdf, verify_pdf

    settings.SEAL_ALLOW_DEV_CERT = True
    request = _demo_request()
    render, pdf = _timed(lambda: html_to_pdf(agreement_html(request=request, version=settings.AGREEMENT_VERSION)))
    agreement, invitation = _signed(request, pdf)
    seal, sealed = _timed(
        lambda: seal_pdf(
            signed_document(agreement=agreement, invitation=invitation), request_id=1, signer_name="Carl Commerce"
        )
    )
    verify, verdict = _timed(lambda: verify_pdf(sealed))
    assert verdict.ok, verdict.reason
    one_page = html_to_pdf("<p>One page.</p>")
    signer = portal_signer()

    def bare_sign():
        writer = IncrementalPdfFileWriter(BytesIO(one_page))
        return signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Sig"), signer=signer).getvalue()

    bare, _ = _timed(bare_sign)
    render_seal = [a + b for a, b in zip(render, seal, strict=True)]
    baseline = statistics.median(bare)
    rows = {
        "render": _figures(render),
        "seal (evidence page + PAdES seal)": _figures(seal),
        "render + seal": _figures(render_seal),
        "verify": _figures(verify),
        "bare pyHanko signature (1 page)": _figures(bare),
    }
    for row in rows.values():
        row["x_bare"] = round(row["median_ms"] / baseline, 2)
    return {"rounds": ROUNDS, "rows": rows}


def print_agreement_figures(figures: dict) -> None:
    print(f"\nService agreement ({figures['rounds']} rounds each, in-process)")
    print(f"  {'step':34} {'median':>9} {'p95':>9} {'× bare signature':>17}")
    for name, row in figures["rows"].items():
        print(f"  {name:34} {row['median_ms']:>7.1f}ms {row['p95_ms']:>7.1f}ms {row['x_bare']:>16.2f}x")
    goals = figures["rows"]
    print(
        f"  goals: render + seal median < 100 ms: {'met' if goals['render + seal']['median_ms'] < 100 else 'NOT met'}; "
        f"verify median < 20 ms: {'met' if goals['verify']['median_ms'] < 20 else 'NOT met'}"
    )


if __name__ == "__main__":
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print_agreement_figures(agreement_figures())
