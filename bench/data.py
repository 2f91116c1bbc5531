"""Data of the benchmark, in-process: cleaning, the staff user, bulk-created requests, query counts."""

import cProfile
import pstats
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.people import STAFF_EMAIL, STAFF_PASSWORD, request_form
from portal.accounts.models import User
from portal.companies.models import Company, Contact
from portal.onboarding.models import TenantRequest
from portal.onboarding.stages import Stage

HOST = "127.0.0.1"


def clean() -> None:
    """Empty every table (Django's flush), then close the connection so nothing stays open."""
    call_command("flush", interactive=False, verbosity=0)
    connection.close()


def staff_create() -> User:
    user = User.objects.create_user(STAFF_EMAIL, STAFF_PASSWORD, is_staff=True, first_name="Bench", last_name="Staff")
    connection.close()
    return user


# Half of the requests wait in To Validate, the rest are spread over every stage.
_SPREAD = [s for s in Stage]


def _stage_of(i: int) -> str:
    return Stage.TO_VALIDATE if i % 2 == 0 else _SPREAD[(i // 2) % len(_SPREAD)]


def requests_seed(count: int, *, start: int = 0) -> None:
    """Create `count` requests (company, one contact, request) with bulk inserts; distinct prefixes."""
    now = timezone.now()
    numbers = range(start, start + count)
    companies = Company.objects.bulk_create(
        [
            Company(
                legal_name=f"Bench Company {i:05d} BV",
                vat_number="BE0403170701",
                registry_number="0403.170.701",
                address_line1=f"Benchstraat {i}",
                postal_code="9000",
                city="Gent",
                country="BE",
                phone="+3292345678",
                created_at=now - timedelta(minutes=i),
            )
            for i in numbers
        ],
        batch_size=500,
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                company=c, first_name="Tess", last_name=f"Tech{i}", email=f"tess{i}@bench.example", phone="+32478123456"
            )
            for i, c in zip(numbers, companies, strict=True)
        ],
        batch_size=500,
    )
    TenantRequest.objects.bulk_create(
        [
            TenantRequest(
                company=company,
                technical_contact=contact,
                commercial_contact=contact,
                domain_prefix=f"benchseed{i:05d}",
                display_name=f"Bench {i}",
                tenant_country="BE",
                stage=_stage_of(i),
                stage_changed_at=now - timedelta(minutes=7 * i),
                terms_version=settings.TERMS_VERSION,
                terms_accepted_at=now - timedelta(minutes=i),
                created_at=now - timedelta(minutes=i),
            )
            for i, company, contact in zip(numbers, companies, contacts, strict=True)
        ],
        batch_size=500,
    )
    connection.close()


STAFF_PAGES = {"To Validate (default)": "/backoffice/", "All stages": "/backoffice/?stage=all"}


def staff_page_queries() -> dict[str, dict]:
    """Queries of each staff list page, signed in as the staff user (test client, force_login)."""
    client = Client(SERVER_NAME=HOST)
    client.force_login(User.objects.get(email=STAFF_EMAIL))
    figures = {}
    for label, url in STAFF_PAGES.items():
        client.get(url)  # warm caches (content types, templates) so only the page's own queries count
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code} in-process, not 200")
        figures[label] = {"url": url, "queries": len(captured), "sql": [q["sql"] for q in captured.captured_queries]}
    connection.close()
    return figures


_LIBRARY_SPOTS = (
    ("django/template/loader.py", "render_to_string"),
    ("django/shortcuts.py", "render"),
    ("django/urls/base.py", "reverse"),
    ("django/db/transaction.py", "__exit__"),
    ("django/contrib/sessions/backends/db.py", "save"),
    ("django/contrib/sessions/backends/db.py", "load"),
    ("django/forms/forms.py", "full_clean"),
    ("django/core/paginator.py", "count"),
)


def _where(filename: str) -> str:
    return filename.split("/site-packages/")[-1].split(str(settings.BASE_DIR) + "/")[-1]


def hello_ms(samples: int = 50) -> float:
    client = Client(SERVER_NAME=HOST)
    client.get("/bench/hello/")
    started = time.perf_counter()
    for _ in range(samples):
        client.get("/bench/hello/")
    return (time.perf_counter() - started) * 1000 / samples


def _profile(send: Callable[[int], HttpResponse], expected: int, *, samples: int, top: int) -> dict:
    """Time `samples` calls plainly (with their queries), then again under cProfile for the hot spots."""
    send(-1)
    queries, sql_seconds, elapsed = 0, 0.0, 0.0
    for i in range(samples):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = send(i)
            elapsed += time.perf_counter() - started
        if response.status_code != expected:
            raise RuntimeError(f"in-process profile: answered {response.status_code}, not {expected}")
        queries += len(captured)
        sql_seconds += sum(float(q["time"]) for q in captured.captured_queries)
    profiler = cProfile.Profile()
    for i in range(samples, 2 * samples):
        profiler.enable()
        send(i)
        profiler.disable()
    hot = []
    for (filename, line, function), (_cc, _nc, _tt, cumulative, _callers) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        project = "/portal/" in filename and "/site-packages/" not in filename
        if project or any(filename.endswith(path) and function == name for path, name in _LIBRARY_SPOTS):
            hot.append((cumulative, f"{_where(filename)}:{line} {function}"))
    hot.sort(reverse=True)
    connection.close()
    return {
        "samples": samples,
        "ms_per_request": elapsed * 1000 / samples,
        "queries_per_request": queries / samples,
        "sql_ms_per_request": sql_seconds * 1000 / samples,
        "hot_spots_profiled": [{"ms_per_request": c * 1000 / samples, "where": w} for c, w in hot[:top]],
    }


def request_post_profile(samples: int = 20, top: int = 10) -> dict:
    """One request-form POST in-process (test client, no HTTP, no CSRF check): time, queries, hot spots."""
    client = Client(SERVER_NAME=HOST)
    tag = f"{time.time_ns() % 10**8:08d}"
    return _profile(
        lambda i: client.post("/request-tenant/", request_form(f"benchprof{tag}n{i + 1:03d}")),
        302,
        samples=samples,
        top=top,
    )


def staff_page_profile(samples: int = 20, top: int = 10) -> dict:
    """The staff pipeline page in-process, signed in as the staff user."""
    client = Client(SERVER_NAME=HOST)
    client.force_login(User.objects.get(email=STAFF_EMAIL))
    return _profile(lambda i: client.get("/backoffice/"), 200, samples=samples, top=top)
