"""No live link token in any log: the token in a link's path is replaced by a short fingerprint of its hash.

Links e-mailed to people (signing, activation, correction, progress, MFA enrolment, password reset, invitations) carry their one-time token in
the path, so every access log line, "Not Found: /sign/…" warning and Referer header would otherwise
hold a working credential. `RedactTokens` is installed on every handler of `LOGGING`, and the
gunicorn configuration (`config/gunicorn.py`) applies it to gunicorn's access and error logs.
The fingerprint is the start of the token's SHA-256, the value stored in the database, so a log
line can still be matched to its link without revealing it.
"""

import hashlib
import logging
import re

# "/<prefix>/<token>": the token is the path segment that follows one of these prefixes.
TOKEN_PATHS = (
    "sign",
    "activate",
    "correct",
    "track",
    "accounts/mfa/enrol",
    "accounts/password/reset",
    "invitations",
    "api/v1/signing",
    "api/v1/activation",
)
# A segment already redacted ("[token:…]") is left as it is, so that redacting twice changes nothing.
_TOKEN_IN_PATH = re.compile(r"(/(?:" + "|".join(re.escape(p) for p in TOKEN_PATHS) + r")/)(?!\[token:)([^/?#\s\"'<>]+)")


def _fingerprint(match: re.Match[str]) -> str:
    digest = hashlib.sha256(match.group(2).encode()).hexdigest()[:8]
    return f"{match.group(1)}[token:{digest}]"


def redact(text: str) -> str:
    """The text with every link token replaced by `[token:<first 8 hex digits of its SHA-256>]`."""
    if "/" not in text:
        return text
    return _TOKEN_IN_PATH.sub(_fingerprint, text)


class RedactTokens(logging.Filter):
    """Rewrites each record in place (message, arguments, traceback), so every later handler sees it redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: keep both, redacted
            message = f"{record.msg} {record.args}"
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
