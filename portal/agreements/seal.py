"""The portal's seal: a PAdES signature over the signed agreement, and its verification."""

import datetime
import os
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

SEAL_FIELD = "PortalSeal"
_REASON = re.compile(r"request #(\d+) signed by (.+)$")


def _dev_seal_path() -> Path:
    return Path(settings.BASE_DIR) / "var" / "dev-seal.p12"


def _make_dev_seal(path: Path, passphrase: bytes) -> None:
    """A self-signed seal certificate for development, made once and kept."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{settings.PORTAL_BRAND} Portal seal (development)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings.PORTAL_BRAND),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"portal-seal", key, certificate, None, serialization.BestAvailableEncryption(passphrase)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(data)
    try:
        os.link(handle.name, path)  # atomic: the first process to make one wins, the others use it
    except FileExistsError:
        pass
    finally:
        os.unlink(handle.name)


def _pkcs12_source() -> tuple[Path, bytes]:
    if settings.SEAL_PKCS12_PATH:
        return Path(settings.SEAL_PKCS12_PATH), settings.SEAL_PKCS12_PASSWORD.encode()
    if not settings.DEBUG and not settings.SEAL_ALLOW_DEV_CERT:
        raise ImproperlyConfigured("Set SEAL_PKCS12_PATH (and SEAL_PKCS12_PASSWORD) to seal signed agreements.")
    path = _dev_seal_path()
    if not path.exists():
        _make_dev_seal(path, b"development")
    return path, b"development"


@cache
def _signer(path: str, passphrase: bytes) -> signers.SimpleSigner:
    signer = signers.SimpleSigner.load_pkcs12(path, passphrase=passphrase)
    if signer is None:
        raise ImproperlyConfigured(f"Cannot read the seal's PKCS#12 file {path}: wrong password or not a PKCS#12 file.")
    return signer


def portal_signer() -> signers.SimpleSigner:
    path, passphrase = _pkcs12_source()
    return _signer(str(path), passphrase)


def seal_pdf(pdf: bytes, *, request_id: int, signer_name: str) -> bytes:
    """Certify the PDF with the portal's seal (PAdES B-B, or B-T with a time-stamp server)."""
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=f"Service agreement of request #{request_id} signed by {signer_name}",
        location=settings.PORTAL_BRAND,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    timestamper = timestamps.HTTPTimeStamper(settings.SEAL_TSA_URL) if settings.SEAL_TSA_URL else None
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    return signers.sign_pdf(writer, metadata, signer=portal_signer(), timestamper=timestamper).getvalue()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    request_id: int | None = None
    signer_name: str = ""
    sealed_at: datetime.datetime | None = None
    sealed_by: str = ""


def _trust_roots() -> list[asn1_x509.Certificate]:
    roots = [portal_signer().signing_cert]
    for extra in settings.SEAL_TRUSTED_CERTS:
        with open(extra, "rb") as handle:
            data = handle.read()
        der = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER) if b"-----BEGIN" in data else data
        roots.append(asn1_x509.Certificate.load(der))
    return roots


def verify_pdf(data: bytes) -> Verdict:
    """Is this a signed agreement sealed by this portal, unchanged since?"""
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        seals = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return Verdict(False, "This file is not a PDF we can read.")
    if not seals:
        return Verdict(False, "This PDF carries no seal: it is not a signed agreement of this portal.")
    seal = seals[-1]
    reason_text = str(seal.sig_object.get("/Reason", ""))
    match = _REASON.search(reason_text)
    if seal.field_name != SEAL_FIELD or match is None:
        return Verdict(False, "This PDF is signed, but not as a signed agreement of this portal.")
    request_id, signer_name = int(match.group(1)), match.group(2)
    try:
        status = validate_pdf_signature(seal, ValidationContext(trust_roots=_trust_roots()))
    except (SignatureValidationError, PdfError, ValueError) as error:
        return Verdict(False, f"The seal cannot be checked: {error}")
    sealed_by = status.signing_cert.subject.human_friendly
    common = {"request_id": request_id, "signer_name": signer_name, "sealed_at": status.signer_reported_dt, "sealed_by": sealed_by}
    if not status.intact or not status.valid:
        return Verdict(False, "The file was changed after it was sealed: its content no longer matches the seal.", **common)
    if not status.trusted or status.signing_cert.sha256 not in {root.sha256 for root in _trust_roots()}:
        return Verdict(False, f"The seal is not this portal's (sealed by {sealed_by}).", **common)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE or len(seals) != 1:
        return Verdict(False, "Bytes were added to the file after it was sealed.", **common)
    return Verdict(True, "The seal is intact: this is the agreement as signed, unchanged since.", **common)
