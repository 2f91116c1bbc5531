"""Start-up checks of the seal: a portal that cannot seal must not wait for a signer to find out."""

import datetime
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from portal.agreements.seal import dev_seal_path, load_seal_signer, load_trusted_certificate

SET_THE_CERTIFICATE = (
    "Set SEAL_PKCS12_PATH to the portal's document-signing certificate (PKCS#12) and SEAL_PKCS12_PASSWORD to its "
    "password. SEAL_ALLOW_DEV_CERT=1 seals with a self-signed certificate instead, for test systems only."
)
EXPIRY_WARNING = datetime.timedelta(days=30)


def seal_certificate(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The certificate that seals signed agreements can be loaded (an Error stops runserver, migrate, workers)."""
    found: list[checks.CheckMessage] = []
    source = _seal_source()
    if source is None and not settings.DEBUG and not settings.SEAL_ALLOW_DEV_CERT:
        found.append(
            checks.Error(
                "No seal certificate: signed agreements cannot be sealed, so no one can sign.",
                hint=SET_THE_CERTIFICATE,
                id="agreements.E001",
            )
        )
    elif source is not None:
        path, passphrase, hint = source
        try:
            load_seal_signer(path, passphrase)
        except ImproperlyConfigured as problem:
            found.append(
                checks.Error(f"{problem} Signed agreements cannot be sealed.", hint=hint, id="agreements.E002")
            )
    return found + _trusted_certificates()


def seal_certificate_for_deployment(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Deployment: the seal is one others can trust, and it is not about to expire."""
    if not settings.SEAL_PKCS12_PATH:
        if not settings.SEAL_ALLOW_DEV_CERT:
            return []  # no certificate at all: the check above reports it
        return [
            checks.Warning(
                "Signed agreements are sealed with a self-signed development certificate (SEAL_ALLOW_DEV_CERT).",
                hint=SET_THE_CERTIFICATE,
                id="agreements.W002",
            )
        ]
    path = settings.SEAL_PKCS12_PATH
    try:
        certificate = load_seal_signer(path, settings.SEAL_PKCS12_PASSWORD.encode()).signing_cert
    except ImproperlyConfigured:
        return []  # reported by the check above
    if certificate is None:
        return []
    expires = certificate.not_valid_after
    now = datetime.datetime.now(datetime.UTC)
    if expires <= now:
        return [
            checks.Error(
                f"The seal certificate {path} expired on {expires:%Y-%m-%d}: new seals would not verify.",
                hint=SET_THE_CERTIFICATE,
                id="agreements.E003",
            )
        ]
    if expires - now < EXPIRY_WARNING:
        return [
            checks.Warning(
                f"The seal certificate {path} expires on {expires:%Y-%m-%d}.",
                hint="Renew it, and keep the old one in SEAL_TRUSTED_CERTS so that earlier seals still verify.",
                id="agreements.W001",
            )
        ]
    return []


def _seal_source() -> tuple[str, bytes, str] | None:
    """Where the seal is loaded from (path, password, what to do if it fails), without making one."""
    if settings.SEAL_PKCS12_PATH:
        return settings.SEAL_PKCS12_PATH, settings.SEAL_PKCS12_PASSWORD.encode(), SET_THE_CERTIFICATE
    dev = dev_seal_path()
    if (settings.DEBUG or settings.SEAL_ALLOW_DEV_CERT) and dev.exists():
        return str(dev), b"development", f"Delete {dev}: a new development certificate is made at the first signature."
    return None  # development: the self-signed certificate is made at the first signature


def _trusted_certificates() -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for path in settings.SEAL_TRUSTED_CERTS:
        try:
            load_trusted_certificate(path)
        except ImproperlyConfigured as problem:
            found.append(
                checks.Error(
                    f"{problem} Signed agreements cannot be verified.",
                    hint="Fix or remove the file in SEAL_TRUSTED_CERTS (comma-separated certificate files).",
                    id="agreements.E004",
                )
            )
    return found
