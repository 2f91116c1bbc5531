"""The portal's seal: a PAdES signature over the signed agreement, and its verification."""

import datetime
import logging
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

logger = logging.getLogger(__name__)

UNREADABLE = "This file is not a valid signed agreement: it is damaged, or not a PDF we can read."
UNCHECKABLE = "This file is not a valid signed agreement: its seal is damaged and cannot be checked."


def dev_seal_path() -> Path:
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
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
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
    path = dev_seal_path()
    if not path.exists():
        _make_dev_seal(path, b"development")
    return path, b"development"


def load_seal_signer(path: str, passphrase: bytes) -> signers.SimpleSigner:
    """The seal's key and certificate from a PKCS#12 file; ImproperlyConfigured says plainly what is wrong."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImproperlyConfigured(f"The seal certificate {path} does not exist.")
    except OSError as error:
        raise ImproperlyConfigured(f"The seal certificate {path} cannot be read: {error.strerror or error}.")
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        raise ImproperlyConfigured(
            f"The seal certificate {path} is not a PKCS#12 file, or SEAL_PKCS12_PASSWORD does not open it."
        )
    if key is None or certificate is None:
        raise ImproperlyConfigured(f"The seal certificate {path} holds no private key and certificate to seal with.")
    try:
        return signers.SimpleSigner.load_pkcs12_data(data, other_certs=set(), passphrase=passphrase)
    except Exception as error:  # a key type or certificate pyHanko cannot seal with
        raise ImproperlyConfigured(f"The seal certificate {path} cannot be used to seal: {error}.")


def load_trusted_certificate(path: str) -> asn1_x509.Certificate:
    """An earlier seal's certificate (PEM or DER) that verification still accepts."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ImproperlyConfigured(f"The trusted seal certificate {path} cannot be read: {error.strerror or error}.")
    try:
        pem = b"-----BEGIN" in data
        certificate = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
    except ValueError:
        raise ImproperlyConfigured(f"The trusted seal certificate {path} is not a PEM or DER certificate.")
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@cache
def _signer(path: str, passphrase: bytes) -> signers.SimpleSigner:
    return load_seal_signer(path, passphrase)


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
    return [portal_signer().signing_cert, *(load_trusted_certificate(path) for path in settings.SEAL_TRUSTED_CERTS)]


def verify_pdf(data: bytes) -> Verdict:
    """Is this a signed agreement sealed by this portal, unchanged since?

    Any file may be uploaded: whatever a damaged one makes the PDF and CMS parsers raise (zlib, assertions,
    recursion, lookups…) means the same to the reader, that it is not a valid signed agreement. The
    portal's own certificates are read first, outside that net: a fault there is the operator's to see.
    """
    roots = _trust_roots()
    try:
        return _examine(data, roots)
    except Exception:
        logger.info("An unreadable file was checked for a seal", exc_info=True)
        return Verdict(False, UNREADABLE)


def _examine(data: bytes, roots: list[asn1_x509.Certificate]) -> Verdict:
    seals = PdfFileReader(BytesIO(data), strict=False).embedded_signatures
    if not seals:
        return Verdict(False, "This PDF carries no seal: it is not a signed agreement of this portal.")
    seal = seals[-1]
    match = _REASON.search(str(seal.sig_object.get("/Reason", "")))
    if seal.field_name != SEAL_FIELD or match is None:
        return Verdict(False, "This PDF is signed, but not as a signed agreement of this portal.")
    request_id, signer_name = int(match.group(1)), match.group(2)
    try:
        status = validate_pdf_signature(seal, ValidationContext(trust_roots=roots))
    except (SignatureValidationError, PdfError, ValueError):
        logger.info("A seal could not be checked", exc_info=True)
        return Verdict(False, UNCHECKABLE)
    sealed_by = status.signing_cert.subject.human_friendly
    common = {
        "request_id": request_id,
        "signer_name": signer_name,
        "sealed_at": status.signer_reported_dt,
        "sealed_by": sealed_by,
    }
    if not status.intact or not status.valid:
        return Verdict(
            False, "The file was changed after it was sealed: its content no longer matches the seal.", **common
        )
    if not status.trusted or status.signing_cert.sha256 not in {root.sha256 for root in roots}:
        return Verdict(False, f"The seal is not this portal's (sealed by {sealed_by}).", **common)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE or len(seals) != 1:
        return Verdict(False, "Bytes were added to the file after it was sealed.", **common)
    return Verdict(True, "The seal is intact: this is the agreement as signed, unchanged since.", **common)
