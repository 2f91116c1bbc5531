"""Reading settings from the environment: durations, booleans and the e-mail URL."""

import os
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, on/off).")


def parse_duration(value: str, *, name: str = "duration") -> timedelta:
    """'90s', '15m', '2h', '3d' -> timedelta; anything else is refused at start-up."""
    match = _DURATION.match(value or "")
    if not match or int(match.group(1)) == 0:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a duration: write a positive number and a unit, e.g. 90s, 15m, 2h, 3d."
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def env_duration(name: str, default: str) -> timedelta:
    return parse_duration(os.environ.get(name, default), name=name)


def parse_email_url(url: str) -> dict:
    """An EMAIL_URL as a MAILERS entry.

    smtp://host:port, smtp+tls://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465
    (implicit TLS), console:// and locmem:// are understood; ?timeout=N sets the SMTP timeout.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "locmem":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme not in {"smtp", "smtp+tls", "smtps", "submission"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme {scheme!r} is not supported: use smtp://, smtp+tls://, smtps:// or console://."
        )
    query = parse_qs(parts.query)
    options: dict = {
        "host": parts.hostname or "localhost",
        "port": parts.port or {"smtp": 25, "smtps": 465}.get(scheme, 587),
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "use_tls": scheme in {"smtp+tls", "submission"},
        "use_ssl": scheme == "smtps",
        "timeout": int(query.get("timeout", ["20"])[0]),
    }
    return {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
