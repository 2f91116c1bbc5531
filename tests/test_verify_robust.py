"""Anyone may upload any file to /verify/: a damaged agreement is "not valid", never a server error.

The defects these tests pin down: a damaged compressed stream (zlib.error), a broken cross-reference
stream (AssertionError) and other parser failures escaped the verifier as a 500 on the public page and
a traceback from `manage.py verify_agreement`; the page showed the PDF/CMS parsers' own error texts;
and a missing or unreadable seal certificate was found only when someone signed (503), not when the
portal starts nor by `manage.py check --deploy`.
"""

import datetime
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.agreements import checks as seal_checks
from portal.agreements.documents import agreement_pdf, signed_document
from portal.agreements.seal import UNCHECKABLE, UNREADABLE, seal_pdf, verify_pdf
from tests.conftest import unsaved_request, unsaved_signature

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED = 2026

PLAIN_REASONS = {
    UNREADABLE,
    UNCHECKABLE,
    "This PDF carries no seal: it is not a signed agreement of this portal.",
    "This PDF is signed, but not as a signed agreement of this portal.",
    "The file was changed after it was sealed: its content no longer matches the seal.",
    "Bytes were added to the file after it was sealed.",
    "The seal is intact: this is the agreement as signed, unchanged since.",
}
OTHER_SEAL = re.compile(r"The seal is not this portal&#x27;s \(sealed by [^<]*\)\.")
SHOWN_REASON = re.compile(r"</strong> — (.*?)\s*(?:<dl>|</div>)", re.S)


# The sealed agreement, made once for the module as signing makes it: rendered, evidence page added, sealed.


@pytest.fixture(scope="module")
def sealed() -> bytes:
    with override_settings(SEAL_ALLOW_DEV_CERT=True):
        request = unsaved_request()
        agreement, invitation = unsaved_signature(request, agreement_pdf(request=request, version="2026-01"))
        document = signed_document(agreement=agreement, invitation=invitation)
        data = seal_pdf(document, request_id=41, signer_name="Carl Commerce")
        assert verify_pdf(data).ok
        return data


# Mutations of the sealed agreement, deterministic (seeded), by family.

Mutation = tuple[str, bytes]


def _flip(data: bytes, at: int, mask: int) -> bytes:
    return data[:at] + bytes([data[at] ^ (mask or 1)]) + data[at + 1 :]


def _streams(data: bytes) -> list[tuple[int, int]]:
    """The data of every stream (most are Flate-compressed: page content, fonts, xref and object streams)."""
    spans = []
    for start in re.finditer(rb"(?<!end)stream\r?\n", data):
        end = data.find(b"endstream", start.end())
        if end > start.end() + 1:
            spans.append((start.end(), end))
    return spans


def _revisions(data: bytes) -> list[bytes]:
    """The file's revisions: the agreement as sent, the evidence pages, the seal."""
    ends = [m.end() for m in re.finditer(rb"%%EOF\r?\n?", data)]
    return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def byte_flips(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    for n in range(50):
        changed = data
        for _ in range(rng.randint(1, 4)):
            changed = _flip(changed, rng.randrange(len(changed)), rng.randrange(1, 256))
        yield f"flip-{n}", changed


def truncations(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    for n in range(25):
        yield f"truncated-{n}", data[: rng.randrange(8, len(data))]
    for m in re.finditer(rb"startxref|%%EOF|/ByteRange|/Contents", data):
        yield f"truncated-at-{m.group().decode()}-{m.start()}", data[: m.start()]


def inserted_garbage(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    for n in range(25):
        at = rng.randrange(len(data))
        junk = rng.choice([rng.randbytes(rng.randint(1, 64)), b"<<", b">>", b"[", b"endobj", b"(", b"9999999999 0 R"])
        yield f"garbage-{n}", data[:at] + junk + data[at:]


def zeroed_ranges(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    for n in range(25):
        at, length = rng.randrange(len(data)), rng.randint(1, 512)
        end = min(len(data), at + length)
        yield f"zeroed-{n}", data[:at] + bytes(end - at) + data[end:]


def compressed_stream_flips(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    spans = _streams(data)
    for n in range(40):
        start, end = rng.choice(spans)
        yield f"stream-flip-{n}", _flip(data, rng.randrange(start, end), 1 << rng.randrange(8))


def xref_and_trailer_flips(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    streams = [m.start() for m in re.finditer(rb"\d+ 0 obj\s*<<[^>]*?/Type\s*/XRef", data)]
    tables = [m.start() for m in re.finditer(rb"(?m)^xref\r?\n", data)]
    sections = [(at, data.index(b"endobj", at)) for at in streams] + [(at, data.index(b"trailer", at)) for at in tables]
    startxrefs = [m.start(1) for m in re.finditer(rb"startxref\s+(\d+)", data)]
    for n in range(20):
        at, end = rng.choice(sections)
        yield f"xref-flip-{n}", _flip(data, rng.randrange(at, end), 1 << rng.randrange(8))
    for n, at in enumerate(startxrefs):
        digits = re.match(rb"\d+", data[at:]).group()
        for k, other in enumerate((b"0", str(int(digits) + 1).encode(), str(int(digits) - 7).encode(), b"99999999")):
            yield f"startxref-{n}-{k}", data[:at] + other + data[at + len(digits) :]
    for n, m in enumerate(re.finditer(rb"/(Size|Prev|Root|Index|W)\b", data)):
        if n < 12:
            yield f"trailer-key-{n}", _flip(data, m.end() + rng.randrange(1, 6), 1 << rng.randrange(8))


def signature_flips(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    byte_range = re.search(rb"/ByteRange\s*\[[^\]]*\]", data)
    contents = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", data)
    assert byte_range and contents
    for n in range(8):
        at = rng.randrange(byte_range.start() + 11, byte_range.end() - 1)
        yield f"byterange-{n}", data[:at] + rng.choice(b"0123456789 -").to_bytes() + data[at + 1 :]
    signed_part = contents.start(1) + len(contents.group(1).rstrip(b"0"))
    for n in range(12):
        at = rng.randrange(contents.start(1), signed_part)
        digit = rng.choice([c for c in b"0123456789abcdef" if c != data[at]])
        yield f"cms-{n}", data[:at] + bytes([digit]) + data[at + 1 :]


def revision_changes(data: bytes, rng: random.Random) -> Iterator[Mutation]:
    first, evidence, seal = _revisions(data)
    yield "seal-revision-removed", first + evidence
    yield "evidence-revision-removed", first + seal
    yield "first-revision-removed", evidence + seal
    yield "seal-revision-twice", first + evidence + seal + seal
    yield "evidence-revision-twice", first + evidence + evidence + seal
    yield "whole-file-twice", data + data
    yield "revisions-swapped", first + seal + evidence
    yield "first-revision-twice", first + first + evidence + seal


FAMILIES: dict[str, Callable[[bytes, random.Random], Iterator[Mutation]]] = {
    "byte flips at random offsets": byte_flips,
    "truncations": truncations,
    "inserted garbage": inserted_garbage,
    "zeroed ranges": zeroed_ranges,
    "flips inside the compressed streams": compressed_stream_flips,
    "flips in the xref streams and the trailer": xref_and_trailer_flips,
    "flips in the seal's byte range and CMS": signature_flips,
    "duplicated and removed revisions": revision_changes,
}


def mutations(data: bytes, family: str) -> list[Mutation]:
    return list(FAMILIES[family](data, random.Random(f"{SEED}-{family}")))


def _shown_reason(html: str) -> str:
    found = SHOWN_REASON.search(html)
    return found.group(1).strip() if found else ""


def _page_problem(client, data: bytes) -> str | None:
    """What is wrong with the /verify/ page's answer to this file, if anything."""
    try:
        page = client.post("/verify/", {"file": SimpleUploadedFile("agreement.pdf", data, "application/pdf")})
    except Exception as error:  # the test client re-raises what the view let escape
        return f"/verify/ raised {type(error).__name__}: {error}"
    html = page.content.decode()
    if page.status_code == 400 and "This file is not a PDF." in html:
        return None
    if page.status_code != 200:
        return f"/verify/ answered {page.status_code}"
    reason = _shown_reason(html)
    if reason.replace("&#x27;", "'") not in PLAIN_REASONS and not OTHER_SEAL.fullmatch(reason):
        return f"/verify/ showed {reason!r}"
    return None


def _command_problem(path: Path, data: bytes) -> str | None:
    path.write_bytes(data)
    try:
        call_command("verify_agreement", str(path))
    except CommandError as error:
        return None if error.returncode == 1 else f"verify_agreement exit {error.returncode}"
    except SystemExit as exit_:
        return None if exit_.code == 1 else f"verify_agreement exit {exit_.code}"
    except Exception as error:
        return f"verify_agreement raised {type(error).__name__}: {error}"
    return None


def test_there_are_at_least_200_mutations(sealed):
    counts = {family: len(mutations(sealed, family)) for family in FAMILIES}
    assert sum(counts.values()) >= 200, counts


@pytest.mark.django_db
@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_damaged_agreement_is_not_valid_never_a_server_error_nor_a_traceback(client, sealed, family, tmp_path):
    """zlib.error, AssertionError and the parser's other exceptions escaped verify_pdf: 500 and tracebacks."""
    problems = []
    for name, data in mutations(sealed, family):
        for problem in (_page_problem(client, data), _command_problem(tmp_path / "agreement.pdf", data)):
            if problem:
                problems.append(f"{name}: {problem}")
    assert not problems, "\n".join(problems)


def _last_xref_stream_flipped(data: bytes) -> bytes:
    """A bit flipped inside the seal revision's compressed cross-reference stream: zlib.error in the parser."""
    start = [m.end() for m in re.finditer(rb"/Type\s*/XRef[^>]*>>\s*stream\r?\n", data)][-1]
    return _flip(data, start + 5, 0x10)


def _last_xref_stream_mistyped(data: bytes) -> bytes:
    """The seal revision's cross-reference stream no longer says /Type /XRef: AssertionError in the parser."""
    at = [m.end() for m in re.finditer(rb"/Type\s*/XRef", data)][-1]
    return data[: at - 1] + b"n" + data[at:]


@pytest.mark.django_db
@pytest.mark.parametrize("damage", [_last_xref_stream_flipped, _last_xref_stream_mistyped], ids=["zlib", "assert"])
def test_a_broken_cross_reference_stream_says_not_valid_in_plain_words(client, tmp_path, damage):
    """These two escaped verify_pdf as zlib.error and AssertionError: a 500 on /verify/, a traceback from the command.

    Agreements sealed before the portal typeset them with Typst carry cross-reference streams (today's carry
    tables): one of those, damaged.
    """
    damaged = damage((DATA / "sealed-agreement-2026-01.pdf").read_bytes())
    assert verify_pdf(damaged).reason == UNREADABLE
    page = client.post("/verify/", {"file": SimpleUploadedFile("a.pdf", damaged, "application/pdf")})
    html = page.content.decode()
    assert page.status_code == 200 and "✗ Not valid" in html and _shown_reason(html) == UNREADABLE
    assert "decompress" not in html and "Error -3" not in html and "Assertion" not in html
    path = tmp_path / "damaged.pdf"
    path.write_bytes(damaged)
    with pytest.raises(CommandError, match="NOT VALID. This file is not a valid signed agreement") as refused:
        call_command("verify_agreement", str(path))
    assert refused.value.returncode == 1


@pytest.mark.django_db
def test_a_damaged_seal_shows_a_plain_reason_not_the_parsers_text(client, sealed):
    """The page showed pyHanko's own error text ("The seal cannot be checked: Insufficient data …")."""
    contents = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", sealed)
    rng = random.Random(SEED)
    shown = set()
    for _ in range(30):
        at = rng.randrange(contents.start(1), contents.start(1) + 600)
        digit = rng.choice([c for c in b"0123456789abcdef" if c != sealed[at]])
        damaged = sealed[:at] + bytes([digit]) + sealed[at + 1 :]
        page = client.post("/verify/", {"file": SimpleUploadedFile("a.pdf", damaged, "application/pdf")})
        assert page.status_code == 200
        shown.add(_shown_reason(page.content.decode()).replace("&#x27;", "'"))
    assert UNCHECKABLE in shown
    assert shown <= PLAIN_REASONS | {r for r in shown if r.startswith("The seal is not this portal's")}
    assert not any(word in reason for reason in shown for word in ("cannot be checked:", "Error", "ASN", "asn1"))


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=6))
def test_any_few_byte_changes_in_the_seal_revision_are_answered(client, sealed, tmp_path, flips):
    """The last revision (evidence xref, seal dictionary, CMS) is the densest: a few changed bytes there."""
    start = sealed.rindex(b"%%EOF", 0, len(sealed) - 8)
    damaged = sealed
    for where, mask in flips:
        damaged = _flip(damaged, start + int(where * (len(sealed) - start)), mask)
    assert _page_problem(client, damaged) is None
    assert _command_problem(tmp_path / "agreement.pdf", damaged) is None


@pytest.mark.django_db
def test_an_agreement_sealed_before_still_verifies(client, settings, tmp_path, capsys):
    """A seal made by the portal before the verifier changed (its certificate kept in SEAL_TRUSTED_CERTS)."""
    settings.SEAL_TRUSTED_CERTS = [str(DATA / "seal-2026-01.pem")]
    data = (DATA / "sealed-agreement-2026-01.pdf").read_bytes()
    verdict = verify_pdf(data)
    assert verdict.ok and verdict.request_id == 1 and verdict.signer_name == "Carl Commerce"
    page = client.post("/verify/", {"file": SimpleUploadedFile("agreement.pdf", data, "application/pdf")})
    assert page.status_code == 200 and "✓ Intact" in page.content.decode()
    call_command("verify_agreement", str(DATA / "sealed-agreement-2026-01.pdf"))
    assert "INTACT" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_fresh_seal_still_verifies(client, sealed):
    page = client.post("/verify/", {"file": SimpleUploadedFile("agreement.pdf", sealed, "application/pdf")})
    assert page.status_code == 200 and "✓ Intact" in page.content.decode() and "#41" in page.content.decode()


# The seal certificate at start-up and in `check --deploy`.


def _p12(path: Path, password: bytes, *, not_after: datetime.datetime) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portal seal (test)")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - datetime.timedelta(days=400))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"seal", key, certificate, None, encryption))
    return path


def _manage(args: list[str], **env: str) -> subprocess.Popen:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SEAL_", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_URL"))
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "production-like-secret-key-for-the-seal-check-0123456789abcdef",
    "ALLOWED_HOSTS": "portal.example.com",
    "EMAIL_URL": "smtp://127.0.0.1:2525",
}


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> dict[str, tuple[int, str]]:
    """`manage.py check --deploy` with production settings, both runs side by side: (exit status, output)."""
    garbage = tmp_path_factory.mktemp("seal") / "seal.p12"
    garbage.write_bytes(b"this is not a PKCS#12 file\n" * 20)
    runs = {
        "missing file": _manage(["check", "--deploy"], **PRODUCTION, SEAL_PKCS12_PATH="/nonexistent/seal.p12"),
        "unreadable file": _manage(["check", "--deploy"], **PRODUCTION, SEAL_PKCS12_PATH=str(garbage)),
    }
    outputs = {name: run.communicate(timeout=300)[0] for name, run in runs.items()}
    return {name: (run.returncode, outputs[name]) for name, run in runs.items()}


def test_check_deploy_reports_a_missing_seal_certificate(started):
    status, output = started["missing file"]
    assert status == 1, output
    assert "agreements.E002" in output and "The seal certificate /nonexistent/seal.p12 does not exist" in output
    assert "SEAL_PKCS12_PATH" in output and "Traceback" not in output


def test_check_deploy_reports_an_unreadable_seal_certificate(started):
    status, output = started["unreadable file"]
    assert status == 1, output
    assert "agreements.E002" in output and "is not a PKCS#12 file, or SEAL_PKCS12_PASSWORD does not open it" in output
    assert "Traceback" not in output


def test_production_refuses_to_start_without_a_seal_certificate(settings):
    """An Error stops runserver, migrate and the workers: `check` (no --deploy) runs what they run."""
    settings.DEBUG = False
    settings.SEAL_PKCS12_PATH = ""
    settings.SEAL_ALLOW_DEV_CERT = False
    with pytest.raises(SystemCheckError, match=r"agreements\.E001.*No seal certificate"):
        call_command("check", tags=["seal"])


def test_development_starts_with_no_seal_set_up(settings, tmp_path):
    settings.DEBUG = True
    settings.BASE_DIR = tmp_path  # a fresh checkout: no development certificate made yet
    settings.SEAL_PKCS12_PATH = ""
    settings.SEAL_ALLOW_DEV_CERT = False
    assert seal_checks.seal_certificate() == []
    call_command("check", tags=["seal"])
    assert not (tmp_path / "var").exists()  # made at the first signature, not by the check


def test_a_wrong_password_or_a_file_without_a_key_is_reported(settings, tmp_path):
    settings.DEBUG = False
    settings.SEAL_PKCS12_PATH = str(
        _p12(tmp_path / "seal.p12", b"right", not_after=timezone.now() + datetime.timedelta(days=900))
    )
    settings.SEAL_PKCS12_PASSWORD = "wrong"
    [error] = seal_checks.seal_certificate()
    assert error.id == "agreements.E002" and "SEAL_PKCS12_PASSWORD does not open it" in error.msg
    settings.SEAL_PKCS12_PASSWORD = "right"
    assert seal_checks.seal_certificate() == [] and seal_checks.seal_certificate_for_deployment() == []

    certificate = x509.load_pem_x509_certificate((DATA / "seal-2026-01.pem").read_bytes())
    no_key = tmp_path / "certificate-only.p12"
    no_key.write_bytes(
        pkcs12.serialize_key_and_certificates(None, None, None, [certificate], serialization.NoEncryption())
    )
    settings.SEAL_PKCS12_PATH, settings.SEAL_PKCS12_PASSWORD = str(no_key), ""
    [error] = seal_checks.seal_certificate()
    assert error.id == "agreements.E002" and "holds no private key" in error.msg


def test_an_expired_or_expiring_seal_certificate_is_reported_for_deployment(settings, tmp_path):
    settings.SEAL_PKCS12_PASSWORD = "pw"
    settings.SEAL_PKCS12_PATH = str(
        _p12(tmp_path / "old.p12", b"pw", not_after=timezone.now() - datetime.timedelta(days=1))
    )
    [error] = seal_checks.seal_certificate_for_deployment()
    assert error.id == "agreements.E003" and "expired on" in error.msg
    settings.SEAL_PKCS12_PATH = str(
        _p12(tmp_path / "soon.p12", b"pw", not_after=timezone.now() + datetime.timedelta(days=10))
    )
    [warning] = seal_checks.seal_certificate_for_deployment()
    assert warning.id == "agreements.W001" and "expires on" in warning.msg


def test_an_unreadable_trusted_certificate_is_reported(settings, tmp_path):
    garbage = tmp_path / "old-seal.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    settings.SEAL_TRUSTED_CERTS = [str(tmp_path / "missing.pem"), str(garbage)]
    found = [message for message in seal_checks.seal_certificate() if message.id == "agreements.E004"]
    assert len(found) == 2 and "cannot be read" in found[0].msg and "not a PEM or DER certificate" in found[1].msg


def test_the_development_certificate_in_production_is_a_deployment_warning(settings):
    settings.DEBUG = False
    settings.SEAL_PKCS12_PATH = ""
    settings.SEAL_ALLOW_DEV_CERT = True
    assert [m.id for m in seal_checks.seal_certificate_for_deployment()] == ["agreements.W002"]
