"""Live one-time tokens never reach a log: not Django's warnings, not runserver's nor gunicorn's access log.

Signing, activation, correction and progress links carry their token in the path; a log line with it
would be a working link in the hands of whoever reads the logs.
"""

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.core.logging import RedactTokens, redact
from portal.core.tokens import token_hash, token_new
from portal.onboarding.models import RequestLink
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def a_token() -> str:
    return token_new()[0]


def fingerprint(token: str) -> str:
    return token_hash(token)[:8]


@pytest.mark.parametrize(
    "template",
    [
        "GET /sign/{t}/ HTTP/1.1",
        "POST /sign/{t}/code/ HTTP/1.1",
        "GET /sign/{t}/agreement.pdf",
        "Not Found: /activate/{t}/",
        "Gone: /correct/{t}/",
        "GET /track/{t}/?x=1",
        "POST /api/v1/signing/{t}/code",
        "GET /api/v1/signing/{t}",
        "POST /api/v1/activation/{t}",
        '"https://portal.example/sign/{t}/" "Mozilla/5.0"',
    ],
)
def test_every_kind_of_link_is_redacted(template):
    token = a_token()
    line = redact(template.format(t=token))
    assert token not in line
    assert "[token:" in line


def test_redacting_twice_changes_nothing():
    once = redact(f"GET /sign/{a_token()}/ HTTP/1.1")
    assert redact(once) == once


def test_other_paths_are_left_alone():
    for line in ("GET /request-tenant/ HTTP/1.1", "POST /accounts/activation/", "GET /api/v1/tenant-requests/12"):
        assert redact(line) == line


def test_the_filter_redacts_arguments_and_tracebacks():
    token = a_token()
    try:
        raise ValueError(f"no link /sign/{token}/")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "%s: %s", ("Gone", f"/sign/{token}/"), sys.exc_info()
        )
    RedactTokens().filter(record)
    formatted = logging.Formatter().format(record)
    assert token not in formatted
    assert formatted.startswith("Gone: /sign/[token:")


@pytest.fixture
def console_output():
    """What the portal's own console handler (config/settings.py LOGGING) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.django_db
def test_a_missing_or_dead_link_is_logged_without_its_token(client, caplog, console_output):
    unknown = a_token()
    caplog.set_level(logging.INFO)
    assert client.get(f"/sign/{unknown}/").status_code == 404
    assert (
        client.post(f"/api/v1/activation/{unknown}", {"password": "x"}, content_type="application/json").status_code
        == 404
    )
    logged = caplog.text + console_output.getvalue()
    assert "Not Found: /sign/[token:" in logged
    assert unknown not in logged


@pytest.mark.django_db
def test_a_live_progress_link_is_logged_without_its_token(client, submitted, caplog, console_output):
    raw, hashed = token_new()
    RequestLink.objects.create(
        request=submitted,
        purpose=RequestLink.Purpose.PROGRESS,
        token_hash=hashed,
        expires_at=timezone.now() + timedelta(days=1),
    )
    caplog.set_level(logging.DEBUG)
    assert client.get(f"/track/{raw}/").status_code == 200
    logging.getLogger("django.request").warning("Gone: %s", f"/track/{raw}/")
    assert raw not in caplog.text + console_output.getvalue()
    assert f"/track/[token:{hashed[:8]}]" in console_output.getvalue()


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _server_env() -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _visit_links(base: str, token: str) -> None:
    """The signing page, its code and the API form, with the signing page as the Referer of the last one."""
    requests = [
        urllib.request.Request(f"{base}/sign/{token}/"),
        urllib.request.Request(f"{base}/activate/{token}/"),
        urllib.request.Request(f"{base}/api/v1/signing/{token}/code", method="POST", data=b""),
        urllib.request.Request(f"{base}/static/portal/portal.css", headers={"Referer": f"{base}/sign/{token}/"}),
    ]
    for request in requests:
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=20).read()  # noqa: S310


def _serve(command: list[str], port: int, log_path: Path) -> tuple[str, str]:
    """Start a server process writing to `log_path`, visit the links, stop it: the token used and everything logged."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_server_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/request-tenant/", timeout=5).read()  # noqa: S310
                    break
                except OSError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.3)
            token = a_token()
            _visit_links(f"http://127.0.0.1:{port}", token)
            time.sleep(0.5)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
    return token, log_path.read_text()


@pytest.mark.django_db(transaction=True)
def test_runserver_access_log_has_no_token(tmp_path):
    """`make run` serves with runserver: its access log (the django.server logger) is redacted."""
    port = free_port()
    token, logged = _serve(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        port,
        tmp_path / "runserver.log",
    )
    assert "/sign/[token:" in logged, logged
    assert "/api/v1/signing/[token:" in logged, logged
    assert token not in logged


@pytest.mark.django_db(transaction=True)
def test_gunicorn_access_log_has_no_token(tmp_path):
    """The documented `gunicorn -c config/gunicorn.py config.wsgi`: paths and Referers are redacted."""
    port = free_port()
    token, logged = _serve(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "config.wsgi",
        ],
        port,
        tmp_path / "gunicorn.log",
    )
    assert '"GET /sign/[token:' in logged, logged
    assert f"Not Found: /sign/[token:{fingerprint(token)}]/" in logged, logged
    assert f'"GET /sign/[token:{fingerprint(token)}]/ HTTP/1.1" 404' in logged, logged
    assert f'"http://127.0.0.1:{port}/sign/[token:' in logged, logged
    assert token not in logged
