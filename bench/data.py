"""Data of the benchmark, in-process: cleaning, the staff user, bulk-created requests, query and statement counts."""

import time
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection
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


def settle(*, busy_below: float = 0.3, within: float = 20.0) -> float:
    """Before a latency measure that follows bulk writes: PostgreSQL vacuums and analyses now rather than during the
    measure, then we wait (up to `within` seconds) for the machine to be mostly idle. Returns its busy share."""
    from bench.server import machine_cpu

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # in autocommit: VACUUM cannot run inside a transaction
    connection.close()
    deadline = time.monotonic() + within
    while True:
        busy, total = machine_cpu()
        time.sleep(1)
        busy_after, total_after = machine_cpu()
        share = (busy_after - busy) / max(total_after - total, 1)
        if share < busy_below or time.monotonic() > deadline:
            return share


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
                company_snapshot=company.details(),
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


# The request POST's own statements may number at most this (tests/test_queries.py holds the same budget).
REQUEST_POST_BUDGET = 8
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
_RATE_LIMITS = '"core_ratecounter"'


def request_post_statements(samples: int = 5) -> dict:
    """The statements of the request-form POST in-process (test client, anonymous visitor), the most of `samples`.

    Split into the POST's own (its form's checks, the simulated provisioner's query standing for Microsoft, the
    storing of the request), the rate-limit counters an anonymous caller adds, and transaction control.
    """
    client = Client(SERVER_NAME=HOST)
    tag = f"{time.time_ns() % 10**8:08d}"
    worst: dict = {}
    for i in range(samples):
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/request-tenant/", request_form(f"benchsql{tag}n{i:03d}"))
        if response.status_code != 302:
            raise RuntimeError(f"in-process request POST answered {response.status_code}, not 302")
        split: dict[str, list[str]] = {"own": [], "rate_limits": [], "transaction": []}
        for query in captured.captured_queries:
            sql = query["sql"]
            kind = (
                "transaction"
                if sql.upper().startswith(_TRANSACTION_CONTROL)
                else "rate_limits"
                if _RATE_LIMITS in sql
                else "own"
            )
            split[kind].append(sql)
        if not worst or len(captured) > worst["total"]:
            worst = {
                "total": len(captured),
                **{kind: len(sqls) for kind, sqls in split.items()},
                "own_sql": split["own"],
            }
    connection.close()
    return {"samples": samples, "budget": REQUEST_POST_BUDGET, **worst}
