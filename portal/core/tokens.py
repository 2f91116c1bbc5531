"""Tokens for e-mailed links (issued and opened by `portal.core.links`) and API tokens: 256 bits of randomness,
only a hash is stored."""

import hashlib
import secrets


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_new() -> tuple[str, str]:
    """A fresh token and its hash: the raw value goes in the link, the hash in the database."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)
