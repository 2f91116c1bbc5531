"""The benchmark database: PostgreSQL when reachable (created if missing), else SQLite with a warning."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgres://portal:portal@127.0.0.1:5432/portal_bench"
SQLITE_PATH = Path("/tmp/portal-bench.sqlite3")
PG_SCHEMES = ("postgres://", "postgresql://", "pgsql://", "postgis://")


@dataclass(frozen=True)
class Database:
    url: str
    vendor: str  # "postgresql" or "sqlite"
    source: str  # where the URL came from
    warning: str = ""

    @property
    def display(self) -> str:
        if self.vendor == "sqlite":
            return self.url
        parts = dj_database_url.parse(self.url)
        return f"postgresql://{parts['USER']}@{parts['HOST']}:{parts['PORT'] or 5432}/{parts['NAME']}"


def _connect_kwargs(url: str, dbname: str | None = None) -> dict:
    parts = dj_database_url.parse(url)
    return {
        "host": parts.get("HOST") or "127.0.0.1",
        "port": int(parts.get("PORT") or 5432),
        "user": parts.get("USER") or None,
        "password": parts.get("PASSWORD") or None,
        "dbname": dbname or parts["NAME"],
        "connect_timeout": 3,
    }


def _pg_ensure(url: str) -> str:
    """Create the database if it is missing; returns what was done."""
    name = dj_database_url.parse(url)["NAME"]
    try:
        with psycopg.connect(**_connect_kwargs(url, "postgres"), autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                return f"created database {name}"
    except psycopg.OperationalError:
        pass  # no access to the maintenance database: try the target directly
    with psycopg.connect(**_connect_kwargs(url)) as conn:
        conn.execute("SELECT 1")
    return f"database {name} exists"


def database_choose() -> tuple[Database, str]:
    env_url = os.environ.get("DATABASE_URL", "")
    if env_url.startswith(PG_SCHEMES):
        url, source = env_url, "DATABASE_URL"
    else:
        url, source = DEFAULT_PG_URL, "default"
    try:
        done = _pg_ensure(url)
        return Database(url=url, vendor="postgresql", source=source), done
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
        SQLITE_PATH.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
        warning = (
            f"PostgreSQL is not reachable at {Database(url, 'postgresql', source).display} ({reason}). "
            f"FALLING BACK TO SQLITE ({SQLITE_PATH}): the figures are not PostgreSQL figures."
        )
        return Database(
            url=f"sqlite:///{SQLITE_PATH}", vendor="sqlite", source="fallback", warning=warning
        ), "fresh file"


def bench_env(database: Database, *, base_url: str = "http://127.0.0.1:8000") -> dict[str, str]:
    """The environment of every portal process of the benchmark (migrate, gunicorn, the in-process client)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
            "DATABASE_URL": database.url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-3c1f0e7a9d2b4c6e8f0a1b3c5d7e9f1a2b4c6d8e",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_URL": "console://",
            "SECURE_SSL_REDIRECT": "0",
            "STAFF_REQUIRE_MFA": "0",
            "SEAL_ALLOW_DEV_CERT": "1",
            "PORTAL_BASE_URL": base_url,
            "VIES_URL": "http://127.0.0.1:9/vies",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def migrate(env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py migrate failed:\n{result.stdout}\n{result.stderr}")
