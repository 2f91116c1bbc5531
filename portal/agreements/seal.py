"""The portal's seal: a PAdES signature over the signed agreement, and its verification."""

import datetime
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

SEAL_FIELD = "PortalSeal"
_REASON = re.compile(r"request #(\d+) signed by (.+)$")

logger = logging.getLogger(__name__)

# Marked here, translated where a verdict is made (the constants stay plain text, for comparisons).
UNREADABLE = gettext_noop("This file is not a valid signed agreement: it is damaged, or not a PDF we can read.")
UNCHECKABLE = gettext_noop("This file is not a valid signed agreement: its seal is damaged and cannot be checked.")


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


# Room for the signature container in the PDF, in bytes: set aside up front, it spares pyHanko a trial
# signature to measure it. The certificates are counted; the rest (signed attributes, the signature value, a
# time-stamp token with its own certificates) is given far more room than it takes.
_SIGNATURE_ROOM = 8 * 1024
_TIMESTAMP_ROOM = 16 * 1024


class _CertificateReference(CMSAttributeProvider):
    """The seal certificate's signing-certificate-v2 attribute, which PAdES signs into every seal.

    Encoded once and read back from its DER: built afresh, asn1crypto re-encodes the certificate's names on
    every signature, which was a third of the seal's time.
    """

    attribute_type = "signing_certificate_v2"

    def __init__(self, certificate: asn1_x509.Certificate):
        attribute = simple_cms_attribute(self.attribute_type, as_signing_certificate_v2(certificate))
        self.attribute = cms.CMSAttribute.load(attribute.dump())

    async def get_attribute(self, dry_run=False) -> cms.CMSAttribute:
        return self.attribute


class _PadesAttributes(SignedAttributeProviderSpec):
    """A PAdES seal's signed attributes (pyHanko adds the content type and the message digest)."""

    def __init__(self, certificate: asn1_x509.Certificate):
        self.certificate = _CertificateReference(certificate)

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> Iterator[CMSAttributeProvider]:
        yield self.certificate


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: its tag, its definite length, its content."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


_SET, _SEQUENCE, _OCTET_STRING, _CONTEXT_0 = 0x31, 0x30, 0x04, 0xA0


@dataclass(frozen=True)
class _Container:
    """The DER of a seal's CMS container that is the same for every seal, taken from one pyHanko packaged."""

    content_type: bytes  # signedData
    signed_data_head: bytes  # version, digest algorithms, encapsulated content info, certificates
    signer_info_head: bytes  # version, signer identifier, digest algorithm
    signature_algorithm: bytes

    @classmethod
    def of(cls, packaged: cms.ContentInfo) -> "_Container":
        signed_data = packaged["content"]
        signer_info = signed_data["signer_infos"][0]
        return cls(
            content_type=packaged["content_type"].dump(),
            signed_data_head=b"".join(
                signed_data[name].dump()
                for name in ("version", "digest_algorithms", "encap_content_info", "certificates")
            ),
            signer_info_head=b"".join(signer_info[name].dump() for name in ("version", "sid", "digest_algorithm")),
            signature_algorithm=signer_info["signature_algorithm"].dump(),
        )

    def with_signature(self, signed_attributes: bytes, signature: bytes) -> bytes:
        """The container around these signed attributes (a DER SET) and their signature value."""
        signer_info = _der(
            _SEQUENCE,
            self.signer_info_head
            + bytes((_CONTEXT_0,))
            + signed_attributes[1:]  # the SET, tagged [0] IMPLICIT in the SignerInfo: same length, other tag
            + self.signature_algorithm
            + _der(_OCTET_STRING, signature),
        )
        signed_data = _der(_SEQUENCE, self.signed_data_head + _der(_SET, signer_info))
        return _der(_SEQUENCE, self.content_type + _der(_CONTEXT_0, signed_data))


class _Sealer(signers.SimpleSigner):
    """pyHanko's signer, with the CMS container assembled from DER encoded once per thread.

    A seal's container differs from the last one in two values only: the message digest and the signature.
    Built afresh, asn1crypto re-encodes the certificates and names on every seal, which was most of the
    seal's time. The same bytes come out (a test compares them with pyHanko's own packaging). A seal with a
    time-stamp, which adds an unsigned attribute, is packaged by pyHanko as usual.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert self.signing_cert is not None
        self.signed_attr_prov_spec = _PadesAttributes(self.signing_cert)
        self._content_type = simple_cms_attribute("content_type", "data").dump()
        self._certificate_reference = self.signed_attr_prov_spec.certificate.attribute.dump()
        self._containers: dict[tuple[str, str], _Container] = {}

    async def signed_attrs(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        attr_settings=None,
        content_type="data",
        use_pades=False,
        timestamper=None,
        dry_run=False,
        is_pdf_sig=True,
    ) -> cms.CMSAttributes:
        """Content type, message digest and signing certificate, in the order pyHanko gives them."""
        if content_type != "data" or not is_pdf_sig:
            return await super().signed_attrs(
                data_digest, digest_algorithm, attr_settings, content_type, use_pades, timestamper, dry_run, is_pdf_sig
            )
        digest = simple_cms_attribute("message_digest", data_digest).dump()
        return cms.CMSAttributes.load(_der(_SET, self._content_type + digest + self._certificate_reference))

    def _container(self, digest_algorithm: str, cms_version: str) -> _Container:
        key = (digest_algorithm, cms_version)
        if key not in self._containers:
            example = cms.CMSAttributes([simple_cms_attribute("content_type", "data")])
            packaged = self._package_signature(
                digest_algorithm=digest_algorithm,
                cms_version=cms_version,
                signed_attrs=example,
                signature=b"",
                unsigned_attrs=None,
                encap_content_info=None,
            )
            self._containers[key] = _Container.of(cms.ContentInfo.load(packaged.dump()))
        return self._containers[key]

    async def async_sign_prescribed_attributes(
        self,
        digest_algorithm: str,
        signed_attrs: cms.CMSAttributes,
        cms_version="v1",
        dry_run=False,
        timestamper=None,
        encap_content_info=None,
    ) -> cms.ContentInfo:
        if dry_run or timestamper is not None or encap_content_info is not None or self.unsigned_attr_prov_spec:
            return await super().async_sign_prescribed_attributes(
                digest_algorithm, signed_attrs, cms_version, dry_run, timestamper, encap_content_info
            )
        digest_algorithm = digest_algorithm.lower()
        self._check_digest_algorithm(digest_algorithm)
        attributes = signed_attrs.dump()
        signature = await self.async_sign_raw(attributes, digest_algorithm, dry_run)
        container = self._container(digest_algorithm, cms_version)
        return cms.ContentInfo.load(container.with_signature(attributes, signature))


@dataclass(frozen=True)
class _SealKey:
    """The seal's key and certificates as read from its file (DER), shared by the process's threads."""

    source: tuple[str, bytes, int, int]  # path, passphrase, and the file's size and change time
    certificate: bytes
    key: bytes
    other_certificates: tuple[bytes, ...]

    def signer(self, kind: type[signers.SimpleSigner] = signers.SimpleSigner) -> signers.SimpleSigner:
        """A signer of this thread's own: asn1crypto objects fill caches as they are read, so threads share none."""
        return kind(
            signing_cert=asn1_x509.Certificate.load(self.certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(self.key),
            cert_registry=SimpleCertificateStore.from_certs(
                [asn1_x509.Certificate.load(der) for der in self.other_certificates]
            ),
        )

    def bytes_reserved(self, *, timestamped: bool) -> int:
        certificates = len(self.certificate) + sum(len(der) for der in self.other_certificates)
        return 2 * (certificates + _SIGNATURE_ROOM + (_TIMESTAMP_ROOM if timestamped else 0))  # as hex digits


@dataclass(frozen=True)
class _ThreadSigners:
    key: _SealKey
    plain: signers.SimpleSigner  # the certificate to trust, and signatures with pyHanko's defaults
    sealer: signers.SimpleSigner  # the same key, with the PAdES signed attributes prepared

    @classmethod
    def of(cls, key: _SealKey) -> "_ThreadSigners":
        return cls(key, key.signer(), key.signer(_Sealer))


_key: _SealKey | None = None
_key_lock = threading.Lock()
_threads = threading.local()
key_loads = 0  # how often this process has read a seal key from its file: once per certificate in use


def _seal_key() -> _SealKey:
    """The seal's key, read once per process; again only when the settings name another file or passphrase,
    or the file was replaced."""
    global _key, key_loads
    path, passphrase = _pkcs12_source()
    try:
        stat = path.stat()
        source = (str(path), passphrase, stat.st_size, stat.st_mtime_ns)
    except OSError:
        source = (str(path), passphrase, -1, -1)  # load_seal_signer says what is wrong
    with _key_lock:
        if _key is None or _key.source != source:
            loaded = load_seal_signer(str(path), passphrase)
            assert loaded.signing_cert is not None  # load_seal_signer refuses a file without one
            _key = _SealKey(
                source=source,
                certificate=loaded.signing_cert.dump(),
                key=loaded.signing_key.dump(),
                other_certificates=tuple(certificate.dump() for certificate in loaded.cert_registry),
            )
            key_loads += 1
        return _key


def _signers() -> _ThreadSigners:
    key = _seal_key()
    mine = getattr(_threads, "signers", None)
    if mine is None or mine.key is not key:
        mine = _threads.signers = _ThreadSigners.of(key)
    return mine


def portal_signer() -> signers.SimpleSigner:
    return _signers().plain


def seal_pdf(pdf: bytes | IncrementalPdfFileWriter, *, request_id: int, signer_name: str, packed: bool = True) -> bytes:
    """Certify the PDF, or the update being written to one, with the portal's seal (PAdES B-B, or B-T with a
    time-stamp server): one signature.

    `packed=False` has pyHanko package the signature container itself, the slow way: the same bytes."""
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
    seal = _signers()
    writer = pdf if isinstance(pdf, IncrementalPdfFileWriter) else IncrementalPdfFileWriter(BytesIO(pdf))
    reserved = seal.key.bytes_reserved(timestamped=timestamper is not None)
    signer = seal.sealer if packed else seal.key.signer()
    if not packed:
        signer.signed_attr_prov_spec = _PadesAttributes(signer.signing_cert)
    return signers.sign_pdf(
        writer, metadata, signer=signer, timestamper=timestamper, bytes_reserved=reserved
    ).getvalue()


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
        return Verdict(False, _(UNREADABLE))


def _examine(data: bytes, roots: list[asn1_x509.Certificate]) -> Verdict:
    seals = PdfFileReader(BytesIO(data), strict=False).embedded_signatures
    if not seals:
        return Verdict(False, _("This PDF carries no seal: it is not a signed agreement of this portal."))
    seal = seals[-1]
    match = _REASON.search(str(seal.sig_object.get("/Reason", "")))
    if seal.field_name != SEAL_FIELD or match is None:
        return Verdict(False, _("This PDF is signed, but not as a signed agreement of this portal."))
    request_id, signer_name = int(match.group(1)), match.group(2)
    try:
        status = validate_pdf_signature(seal, ValidationContext(trust_roots=roots))
    except (SignatureValidationError, PdfError, ValueError):
        logger.info("A seal could not be checked", exc_info=True)
        return Verdict(False, _(UNCHECKABLE))
    sealed_by = status.signing_cert.subject.human_friendly
    common = {
        "request_id": request_id,
        "signer_name": signer_name,
        "sealed_at": status.signer_reported_dt,
        "sealed_by": sealed_by,
    }
    if not status.intact or not status.valid:
        return Verdict(
            False,
            _("The file was changed after it was sealed: its content no longer matches the seal."),
            **common,
        )
    if not status.trusted or status.signing_cert.sha256 not in {root.sha256 for root in roots}:
        return Verdict(False, _("The seal is not this portal's (sealed by %(name)s).") % {"name": sealed_by}, **common)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE or len(seals) != 1:
        return Verdict(False, _("Bytes were added to the file after it was sealed."), **common)
    return Verdict(True, _("The seal is intact: this is the agreement as signed, unchanged since."), **common)
