"""The agreement typeset from its template: names print as written, the page and the PDF say the same, one seal key."""

import datetime
import html
import http.server
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import pytest
from asn1crypto import cms, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils import incremental_writer
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pypdf import PdfReader

from portal.agreements import seal
from portal.agreements.documents import agreement_render, signed_document
from tests.conftest import unsaved_request, unsaved_signature

# Typst's markup, code, math, comments, labels and references, and HTML's specials.
TRICKY_NAME = 'Brightwave #import "x": * ] [ $x$ _y_ *z* @ref <lab> // \\ `raw` = #set text(red) & <b>BV</b>'
TRICKY_SIGNER = "Carl ] #strong[Commerce] $1 * 2$ _Jr_"


def _words(text: str) -> list[str]:
    """The words, without the numbers of numbered items (a list on the page numbers its items itself)."""
    return [word for word in text.casefold().split() if not re.fullmatch(r"\d+\.", word)]


def _pdf_pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages]


def _html_text(document: str) -> str:
    body = document[document.index("<body>") :]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_a_company_named_in_typst_markup_prints_as_written():
    rendered = agreement_render(request=unsaved_request(TRICKY_NAME), version="2026-01")

    pdf_text = " ".join(_pdf_pages(rendered.pdf))
    assert TRICKY_NAME in pdf_text
    assert "Service Agreement" in pdf_text and "red" in pdf_text  # nothing was run: the text is all there
    assert TRICKY_NAME in " ".join(_html_text(rendered.html).split())
    assert "<b>" not in rendered.html and "&lt;b>BV&lt;/b>" in rendered.html  # HTML-escaped too


def test_the_evidence_page_prints_the_signer_as_typed_after_the_agreement_as_sent():
    request = unsaved_request(TRICKY_NAME)
    pdf = agreement_render(request=request, version="2026-01").pdf
    agreement, invitation = unsaved_signature(request, pdf, TRICKY_SIGNER)

    document = signed_document(agreement=agreement, invitation=invitation)

    assert document.startswith(pdf)  # the first revision is the agreement as sent, byte for byte
    evidence = _pdf_pages(document)[-1]
    assert evidence.startswith("Evidence of signature")
    assert f"Signed by {TRICKY_SIGNER}, CEO" in evidence
    assert f"Customer {TRICKY_NAME} (VAT BE0403170701)" in evidence
    assert agreement.sha256 in evidence


def test_the_page_the_signer_reads_and_the_pdf_say_the_same_words():
    rendered = agreement_render(request=unsaved_request(), version="2026-01")
    footer = re.compile(r"Arxus Service Agreement · version 2026-01 · request #41 · page \d+ of \d+")

    pdf_words = _words(footer.sub(" ", " ".join(_pdf_pages(rendered.pdf))))
    page_words = _words(_html_text(rendered.html))

    assert pdf_words == page_words
    assert "The signature, its evidence and the portal's seal follow on the last page." in _html_text(rendered.html)


def test_the_same_agreement_typesets_to_the_same_bytes(time_machine):
    time_machine.move_to("2026-03-03 10:00:00+01:00", tick=False)
    first = agreement_render(request=unsaved_request(), version="2026-01")
    second = agreement_render(request=unsaved_request(), version="2026-01")
    assert first == second


def _sealed_twice() -> list[bytes]:
    request = unsaved_request()
    agreement, invitation = unsaved_signature(
        request, agreement_render(request=request, version="2026-01").pdf, "Carl Commerce"
    )
    document = signed_document(agreement=agreement, invitation=invitation)
    return [seal.seal_pdf(document, request_id=41, signer_name="Carl Commerce") for _ in range(2)]


@pytest.mark.django_db
def test_the_seal_key_is_read_once_for_many_seals_and_again_for_another_certificate(settings, tmp_path):
    for name in ("first.p12", "second.p12"):
        seal._make_dev_seal(tmp_path / name, b"seal-passphrase")
    settings.SEAL_PKCS12_PASSWORD = "seal-passphrase"
    settings.SEAL_PKCS12_PATH = str(tmp_path / "first.p12")
    loads = seal.key_loads

    sealed = _sealed_twice()
    assert seal.key_loads == loads + 1
    assert all(seal.verify_pdf(data).ok for data in sealed)

    settings.SEAL_PKCS12_PATH = str(tmp_path / "second.p12")
    resealed = _sealed_twice()
    assert seal.key_loads == loads + 2
    assert all(seal.verify_pdf(data).ok for data in resealed)
    assert not seal.verify_pdf(sealed[0]).ok  # the first certificate is no longer this portal's


@pytest.mark.django_db
def test_signers_sealing_at_once_each_get_a_good_seal_from_one_key_load(settings, tmp_path):
    """Threads of one web process seal at the same moment: each with a signer of its own, the key read once."""
    seal._make_dev_seal(tmp_path / "seal.p12", b"seal-passphrase")
    settings.SEAL_PKCS12_PASSWORD = "seal-passphrase"
    settings.SEAL_PKCS12_PATH = str(tmp_path / "seal.p12")
    request = unsaved_request()
    agreement, invitation = unsaved_signature(
        request, agreement_render(request=request, version="2026-01").pdf, "Carl Commerce"
    )
    document = signed_document(agreement=agreement, invitation=invitation)
    loads = seal.key_loads
    start = threading.Barrier(4)

    def sign_at_once(_: int) -> tuple[int, bool]:
        start.wait()
        signer = seal.portal_signer()
        sealed = [seal.seal_pdf(document, request_id=41, signer_name="Carl Commerce") for _ in range(5)]
        return id(signer), all(seal.verify_pdf(data).ok for data in sealed)

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(sign_at_once, range(4)))

    assert all(ok for _, ok in outcomes)
    assert len({signer for signer, _ in outcomes}) == 4
    assert seal.key_loads == loads + 1


def _rsa_seal(path, passphrase: bytes) -> None:
    """A seal certificate with an RSA key: its signatures are deterministic, so two seals can be compared."""
    seal._make_dev_seal(path, passphrase)
    _, certificate, _ = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = x509_builder_from(certificate).public_key(key.public_key())
    data = pkcs12.serialize_key_and_certificates(
        b"seal", key, builder.sign(key, hashes.SHA256()), None, serialization.BestAvailableEncryption(passphrase)
    )
    path.write_bytes(data)


def x509_builder_from(certificate: x509.Certificate) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(certificate.subject)
        .issuer_name(certificate.issuer)
        .serial_number(certificate.serial_number)
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
    )
    for extension in certificate.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_the_seal_container_is_the_one_pyhanko_packages(key, settings, tmp_path, time_machine, monkeypatch):
    """The seal's CMS container is assembled from DER encoded once per thread: pyHanko's own packaging of the same
    seal gives the same bytes (RSA signatures are deterministic; ECDSA ones differ in the signature value only)."""
    time_machine.move_to("2026-03-03 10:00:00+01:00", tick=False)
    path = tmp_path / "seal.p12"
    (_rsa_seal if key == "rsa" else seal._make_dev_seal)(path, b"seal-passphrase")
    settings.SEAL_PKCS12_PASSWORD = "seal-passphrase"
    settings.SEAL_PKCS12_PATH = str(path)
    request = unsaved_request()
    agreement, invitation = unsaved_signature(
        request, agreement_render(request=request, version="2026-01").pdf, "Carl Commerce"
    )
    document = signed_document(agreement=agreement, invitation=invitation)
    monkeypatch.setattr(incremental_writer.os, "urandom", lambda size: bytes(size))  # the revision's file id

    packed, by_pyhanko = (
        seal.seal_pdf(document, request_id=41, signer_name="Carl Commerce", packed=choice) for choice in (True, False)
    )

    assert seal.verify_pdf(packed).ok and seal.verify_pdf(by_pyhanko).ok

    def container(pdf: bytes) -> cms.ContentInfo:
        return PdfFileReader(BytesIO(pdf)).embedded_signatures[0].signed_data

    ours, theirs = (container(pdf) for pdf in (packed, by_pyhanko))
    ours_info, theirs_info = ours["signer_infos"][0], theirs["signer_infos"][0]
    assert ours_info["signed_attrs"].dump() == theirs_info["signed_attrs"].dump()
    for name in ("version", "sid", "digest_algorithm", "signature_algorithm"):
        assert ours_info[name].dump() == theirs_info[name].dump()
    for name in ("version", "digest_algorithms", "encap_content_info", "certificates"):
        assert ours[name].dump() == theirs[name].dump()
    if key == "rsa":
        assert ours_info["signature"].native == theirs_info["signature"].native
        assert packed == by_pyhanko


class _TimeStampServer(http.server.BaseHTTPRequestHandler):
    """An RFC 3161 time-stamp server on 127.0.0.1, answering with pyHanko's own TSA."""

    tsa: DummyTimeStamper

    def do_POST(self) -> None:
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        answer = self.tsa.request_tsa_response(request).dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args) -> None:  # noqa: A002  (the base class's name)
        pass


def _time_stamping_authority() -> DummyTimeStamper:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's test TSA signs with RSA
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Test time-stamping authority")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )


@pytest.mark.django_db
def test_a_seal_with_a_time_stamp_carries_the_token_and_verifies(settings, monkeypatch):
    """With a time-stamp server (PAdES B-T) pyHanko packages the container around the token: the seal verifies."""
    _TimeStampServer.tsa = _time_stamping_authority()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TimeStampServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings.SEAL_TSA_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    request = unsaved_request()
    agreement, invitation = unsaved_signature(
        request, agreement_render(request=request, version="2026-01").pdf, "Carl Commerce"
    )
    try:
        sealed = seal.seal_pdf(
            signed_document(agreement=agreement, invitation=invitation), request_id=41, signer_name="Carl"
        )
    finally:
        server.shutdown()

    assert seal.verify_pdf(sealed).ok
    signer_info = PdfFileReader(BytesIO(sealed)).embedded_signatures[0].signed_data["signer_infos"][0]
    assert [attribute["type"].native for attribute in signer_info["unsigned_attrs"]] == ["signature_time_stamp_token"]
