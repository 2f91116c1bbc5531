"""Encryption at rest for the few secrets we must keep a while (a tenant's initial admin password)."""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal sealed box v1").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal_text(value: str) -> bytes:
    return _fernet().encrypt(value.encode())


def open_text(token: bytes) -> str | None:
    """The secret, or None when it cannot be read (SECRET_KEY changed, or data damaged)."""
    try:
        return _fernet().decrypt(bytes(token)).decode()
    except InvalidToken:
        return None
