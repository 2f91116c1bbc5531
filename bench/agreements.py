"""The service agreement's cost, beside a bare pyHanko signature of a one-page PDF measured in the same run.

In-process: typesetting the agreement (PDF and the page HTML), sealing it (evidence page and PAdES seal) and
verifying it, in CPU time (time.process_time: the machine's other work does not count) and wall time.
Through gunicorn configured as the README's production command (BENCH_CLICK_WORKERS=4 sync workers), when a
benchmark database is set up: the staff "Validate" click and the signer's "Sign" click at BENCH_CLICK_USERS (5)
concurrent users, BENCH_CLICKS (100) clicks each after a warm-up, p50 and p95.

`bench/run.py` calls agreement_figures(env) and print_agreement_figures(). Alone, on the same database as
bench/run.py (PostgreSQL when reachable, else SQLite; its data is wiped): `.venv/bin/python bench/agreements.py`.
"""

import os
import statistics
import time
from collections.abc import Callable
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

ROUNDS = 30
CLICK_USERS = int(os.environ.get("BENCH_CLICK_USERS", "5"))
CLICKS = int(os.environ.get("BENCH_CLICKS", "100"))
CLICK_SECONDS = float(os.environ.get("BENCH_CLICK_SECONDS", "60"))
WARMUP = 2 * CLICK_USERS  # reaches most server threads: their first document is slower
CODE = "246810"
GOAL_RENDER_SEAL_CPU_MS = 100
GOAL_CLICK_P95_MS = 300


def _timed(function: Callable[[], Any], rounds: int = ROUNDS) -> tuple[dict[str, list[float]], Any]:
    result = function()  # warm-up: fonts, caches, the seal key
    cpu, wall = [], []
    for _ in range(rounds):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        result = function()
        cpu.append((time.process_time() - cpu_start) * 1000)
        wall.append((time.perf_counter() - wall_start) * 1000)
    return {"cpu": cpu, "wall": wall}, result


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * 0.95) - 1, 0)]


def _figures(times: dict[str, list[float]], baseline: dict[str, float]) -> dict:
    cpu, wall = statistics.median(times["cpu"]), statistics.median(times["wall"])
    return {
        "cpu_median_ms": round(cpu, 1),
        "cpu_p95_ms": round(_p95(times["cpu"]), 1),
        "wall_median_ms": round(wall, 1),
        "wall_p95_ms": round(_p95(times["wall"]), 1),
        "x_bare_cpu": round(cpu / baseline["cpu"], 2),
        "x_bare_wall": round(wall / baseline["wall"], 2),
    }


def _company_and_contacts(n: int, legal_name: str):
    from portal.companies.models import Company, Contact

    company = Company(
        legal_name=legal_name,
        vat_number="BE0403170701",
        registry_number="0403.170.701",
        address_line1=f"Korenmarkt {n}",
        postal_code="9000",
        city="Gent",
        country="BE",
        phone="+3292345678",
    )
    tess = Contact(
        company=company,
        first_name="Tess",
        last_name="Tech",
        email=f"tess{n}@brightwave.example",
        phone="+32478123456",
        job_title="IT manager",
    )
    carl = Contact(
        company=company,
        first_name="Carl",
        last_name="Commerce",
        email=f"carl{n}@brightwave.example",
        phone="+32478654321",
        job_title="CEO",
    )
    return company, tess, carl


def _tenant_request(n: int, company, tess, carl, **fields):
    from django.conf import settings
    from django.utils import timezone

    from portal.companies.models import COMPANY_DETAILS
    from portal.onboarding.models import TenantRequest

    return TenantRequest(
        company=company,
        company_snapshot={field: getattr(company, field) for field in COMPANY_DETAILS},
        technical_contact=tess,
        commercial_contact=carl,
        domain_prefix=f"brightwave{n}",
        display_name="Brightwave",
        tenant_country="BE",
        terms_version=settings.TERMS_VERSION,
        terms_accepted_at=timezone.now(),
        **fields,
    )


def _demo_request():
    """Brightwave's request, unsaved: the agreement is typeset without a database."""
    company, tess, carl = _company_and_contacts(1, "Brightwave Analytics BV")
    return _tenant_request(1, company, tess, carl, pk=1)


def _signed(request, pdf: bytes):
    from django.utils import timezone

    from portal.agreements.documents import sha256
    from portal.agreements.models import Agreement, SigningInvitation

    now = timezone.now()
    agreement = Agreement(
        request=request,
        version="2026-01",
        pdf=pdf,
        sha256=sha256(pdf),
        signed_at=now,
        signer_name="Carl Commerce",
        signer_title="CEO",
        signer_email="carl@brightwave.example",
        signer_ip="127.0.0.1",
        signer_user_agent="bench",
        consent_text="I sign.",
        consent_version="2026-01",
    )
    invitation = SigningInvitation(
        agreement=agreement, created_at=now, expires_at=now, first_opened_at=now, code_sent_at=now, code_verified_at=now
    )
    return agreement, invitation


def _bare_signature() -> Callable[[], bytes]:
    """pyHanko's plain signature, with its defaults, of a one-page PDF: the run's baseline."""
    import typst
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from portal.agreements.seal import portal_signer

    one_page = typst.Compiler(ignore_system_fonts=True).compile(b"One page.", format="pdf", timestamp=0)
    assert isinstance(one_page, bytes)
    signer = portal_signer()

    def sign() -> bytes:
        writer = IncrementalPdfFileWriter(BytesIO(one_page))
        return signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Sig"), signer=signer).getvalue()

    return sign


def document_figures() -> dict:
    """Typesetting, sealing and verifying the agreement in this process, beside the bare signature."""
    from django.conf import settings

    from portal.agreements.documents import agreement_render, signed_document_update
    from portal.agreements.seal import seal_pdf, verify_pdf

    settings.SEAL_ALLOW_DEV_CERT = True
    request = _demo_request()
    bare, _ = _timed(_bare_signature())
    baseline = {kind: statistics.median(values) for kind, values in bare.items()}
    render, rendered = _timed(lambda: agreement_render(request=request, version=settings.AGREEMENT_VERSION))
    agreement, invitation = _signed(request, rendered.pdf)
    seal, sealed = _timed(
        lambda: seal_pdf(
            signed_document_update(agreement=agreement, invitation=invitation),
            request_id=1,
            signer_name="Carl Commerce",
        )
    )
    verify, verdict = _timed(lambda: verify_pdf(sealed))
    assert verdict.ok, verdict.reason
    both = {kind: [a + b for a, b in zip(render[kind], seal[kind], strict=True)] for kind in ("cpu", "wall")}
    rows = {
        "render (agreement PDF + page HTML)": _figures(render, baseline),
        "seal (evidence page + PAdES seal)": _figures(seal, baseline),
        "render + seal": _figures(both, baseline),
        "verify": _figures(verify, baseline),
        "bare pyHanko signature (1 page)": _figures(bare, baseline),
    }
    return {"rounds": ROUNDS, "rows": rows}


# --- the clicks, through gunicorn ------------------------------------------------------------------


def _requests_to_validate(count: int) -> list[int]:
    from django.db import connection

    from portal.companies.models import Company, Contact
    from portal.onboarding.models import TenantRequest

    people = [_company_and_contacts(n, f"Click Company {n:04d} BV") for n in range(count)]
    Company.objects.bulk_create([company for company, _, _ in people])
    for company, tess, carl in people:
        tess.company = carl.company = company  # now saved: the contacts take its id
    Contact.objects.bulk_create([contact for _, tess, carl in people for contact in (tess, carl)])
    requests = TenantRequest.objects.bulk_create(
        [_tenant_request(n, company, tess, carl) for n, (company, tess, carl) in enumerate(people)]
    )
    connection.close()
    return [request.pk for request in requests]


def _signing_links(request_ids: list[int]) -> list[str]:
    """A fresh link with a known code for the invitation of each validated request (the e-mails hold the real ones)."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from portal.agreements.models import SigningInvitation
    from portal.agreements.services import CODE_TRIES, _code_hash
    from portal.core.tokens import token_new

    now = timezone.now()
    tokens = []
    for invitation in SigningInvitation.objects.filter(agreement__request_id__in=request_ids, used_at=None):
        raw, invitation.token_hash = token_new()
        invitation.code_hash = _code_hash(invitation, CODE)
        invitation.code_expires_at = now + settings.SIGNING_CODE_VALID_FOR
        invitation.code_tries_left = CODE_TRIES
        invitation.code_sent_at = now
        invitation.save(update_fields=["token_hash", "code_hash", "code_expires_at", "code_tries_left", "code_sent_at"])
        tokens.append(raw)
    connection.close()
    return tokens


def _stages(request_ids: list[int]) -> dict[str, int]:
    from django.db import connection
    from django.db.models import Count

    from portal.onboarding.models import TenantRequest

    rows = TenantRequest.objects.filter(pk__in=request_ids).values("stage").annotate(n=Count("pk"))
    stages = {row["stage"]: row["n"] for row in rows}
    connection.close()
    return stages


def _validate_send(pending: list[int]):
    from bench.load import read

    async def send(http, browser) -> tuple[int, str]:
        pk = pending.pop()
        headers = {**browser.cookie_header(), "X-CSRFToken": browser.cookies["csrftoken"]}
        async with http.post(f"/backoffice/requests/{pk}/validate/", headers=headers, allow_redirects=False) as answer:
            status, body = await read(answer, browser)
            location = answer.headers.get("Location", "")
        if status == 302 and urlsplit(location).path != f"/backoffice/requests/{pk}/":
            return 0, f"302 to {location}"
        return status, body

    return send


def _sign_send(tokens: list[str]):
    from bench.load import read

    async def send(http, browser) -> tuple[int, str]:
        token = tokens.pop()
        form = {
            "csrfmiddlewaretoken": browser.token,
            "full_name": "Carl Commerce",
            "job_title": "CEO",
            "signing_authority": "on",
            "code": CODE,
        }
        path = f"/sign/{token}/"
        async with http.post(path, data=form, headers=browser.cookie_header(), allow_redirects=False) as answer:
            status, body = await read(answer, browser)
            location = answer.headers.get("Location", "")
        if status == 302 and urlsplit(location).path != f"{path}signed/":
            return 0, f"302 to {location}"
        return status, body

    return send


def _click(server, name: str, send, prepare) -> dict:
    from bench import load
    from bench.server import TICKS, machine_cpu

    outcome = load.run(
        name=name,
        base_url=server.base_url,
        expected=302,
        send=send,
        prepare=prepare,
        clients=CLICK_USERS,
        max_requests=CLICKS,
        max_seconds=CLICK_SECONDS,
        warmup=WARMUP,
        server_cpu=server.cpu_ticks,
        machine_cpu=machine_cpu,
        ticks=TICKS,
    )
    return outcome.as_dict()


def click_figures(env: dict[str, str], baseline_ms: float) -> dict:
    """Staff validate requests, then their signers sign, BENCH_CLICK_USERS at a time, through gunicorn."""
    from bench import data, scenarios
    from bench.load import csrf_fetch
    from bench.server import Gunicorn, free_port

    data.clean()
    data.staff_create()
    request_ids = _requests_to_validate(WARMUP + CLICKS)
    settled = {"validate": data.settle()}
    server = Gunicorn(  # as the README's production command: 4 sync workers
        env,
        workers=int(os.environ.get("BENCH_CLICK_WORKERS", "4")),
        threads=int(os.environ.get("BENCH_CLICK_THREADS", "1")),
        port=free_port(),
    )
    with server:
        staff = scenarios.staff_prepare(scenarios.staff_login(server.base_url))
        validate = _click(server, "Validate (staff)", _validate_send(list(request_ids)), staff)
        validated = _stages(request_ids)
        tokens = _signing_links(request_ids)
        settled["sign"] = data.settle()

        async def signer_prepare(http, browser) -> None:
            await csrf_fetch(http, browser, "/verify/")

        sign = _click(server, "Sign (signer)", _sign_send(tokens), signer_prepare)
        signed = _stages(request_ids)
    data.clean()
    if validate["errors"] or sign["errors"]:
        print(f"gunicorn's log of the clicks: {server.log.name}", flush=True)
    else:
        server.log_discard()
    clicks = {"Validate (staff)": validate, "Sign (signer)": sign}
    for row in clicks.values():
        row["server_cpu_ms_per_click"] = round(row["server_cpu_s"] * 1000 / max(row["requests"], 1), 1)
        row["x_bare_p50"] = round(row["p50_ms"] / baseline_ms, 2)
        row["x_bare_p95"] = round(row["p95_ms"] / baseline_ms, 2)
    return {
        "users": CLICK_USERS,
        "warmup": WARMUP,
        "server": server.description,
        "bare_signature_ms": round(baseline_ms, 1),
        "clicks": clicks,
        "stages_after_validate": validated,
        "stages_after_sign": signed,
        "machine_busy_before_pct": {click: round(share * 100) for click, share in settled.items()},
    }


def agreement_figures(env: dict[str, str] | None = None) -> dict:
    """The in-process figures; with `env` (a benchmark database's environment), the clicks as well."""
    figures = document_figures()
    if env is not None:
        baseline_ms = figures["rows"]["bare pyHanko signature (1 page)"]["wall_median_ms"]
        figures["clicks"] = click_figures(env, baseline_ms)
    return figures


def print_agreement_figures(figures: dict) -> None:
    rows = figures["rows"]
    print(f"\nService agreement, in-process ({figures['rounds']} rounds each; CPU = this process's CPU time)")
    print(
        f"  {'step':36} {'CPU median':>10} {'CPU p95':>9} {'wall median':>12} {'× bare (CPU)':>13} {'× bare (wall)':>14}"
    )
    for name, row in rows.items():
        print(
            f"  {name:36} {row['cpu_median_ms']:>8.1f}ms {row['cpu_p95_ms']:>7.1f}ms {row['wall_median_ms']:>10.1f}ms"
            f" {row['x_bare_cpu']:>12.2f}x {row['x_bare_wall']:>13.2f}x"
        )
    render_seal = rows["render + seal"]["cpu_median_ms"]
    verify = rows["verify"]["cpu_median_ms"]
    print(
        f"  goals: render + seal CPU median < {GOAL_RENDER_SEAL_CPU_MS} ms: "
        f"{'met' if render_seal < GOAL_RENDER_SEAL_CPU_MS else 'NOT met'} ({render_seal:.1f} ms); "
        f"verify CPU median < 20 ms: {'met' if verify < 20 else 'NOT met'} ({verify:.1f} ms)"
    )
    if "clicks" not in figures:
        return
    clicks = figures["clicks"]
    print(
        f"\nClicks through {clicks['server']}: {clicks['users']} concurrent users, after {clicks['warmup']} warm-up "
        f"clicks; bare pyHanko signature {clicks['bare_signature_ms']:.1f} ms (wall median, same run); database "
        f"vacuumed and machine settled before each (busy {clicks['machine_busy_before_pct']} % just before)"
    )
    print(
        f"  {'click':18} {'clicks':>6} {'errors':>6} {'p50':>9} {'p95':>9} {'p50 × bare':>11} {'p95 × bare':>11}"
        f" {'server CPU/click':>17} {'machine busy':>13}"
    )
    for name, row in clicks["clicks"].items():
        print(
            f"  {name:18} {row['requests']:>6} {row['errors']:>6} {row['p50_ms']:>7.1f}ms {row['p95_ms']:>7.1f}ms"
            f" {row['x_bare_p50']:>10.2f}x {row['x_bare_p95']:>10.2f}x"
            f" {row['server_cpu_ms_per_click']:>15.1f}ms {row['machine_busy_pct']:>12.0f}%"
        )
        if row["errors"]:
            print(f"    errors: {row['error_kinds']}; first: {row['error_sample']}")
    print(
        f"  stages after the clicks: validated {clicks['stages_after_validate']}, signed {clicks['stages_after_sign']}"
    )
    worst = max(row["p95_ms"] for row in clicks["clicks"].values())
    print(f"  goal: p95 < {GOAL_CLICK_P95_MS} ms for both clicks: {'met' if worst < GOAL_CLICK_P95_MS else 'NOT met'}")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.database import bench_env, database_choose, migrate

    database, done = database_choose()
    print(f"· database: {database.vendor} {database.display} ({done}); its data is wiped", flush=True)
    if database.warning:
        print(f"WARNING: {database.warning}", file=sys.stderr, flush=True)
    environment = bench_env(database)
    migrate(environment)
    os.environ.update(environment)
    import django

    django.setup()
    print_agreement_figures(agreement_figures(environment))
