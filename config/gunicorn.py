"""Gunicorn's configuration for the portal: `gunicorn -c config/gunicorn.py config.wsgi`.

Its access and error logs go through the same filter as Django's (`portal.core.logging.RedactTokens`),
so no line holds the token of an e-mailed link, neither in the request path nor in the Referer.
Command-line options still override anything set here (bind address, workers, log level).
"""

import sys
from pathlib import Path

from gunicorn.glogging import Logger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.core.logging import RedactTokens, redact  # noqa: E402

wsgi_app = "config.wsgi"
accesslog = "-"
errorlog = "-"


class RedactingLogger(Logger):
    """Gunicorn's logger, with link tokens redacted from every access-log field and every error line."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, RedactTokens) for f in handler.filters):
                    handler.addFilter(RedactTokens())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value for name, value in atoms.items()}


logger_class = RedactingLogger
