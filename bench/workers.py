"""Background workers: what claiming a job and polling an idle queue cost while reminders wait.

In-process, on the benchmark database. Each scenario empties the database, queues e-mail jobs, and writes what
waits: nothing, 100,000 timers (how the portal schedules reminders, expiries and retries), or 100,000 jobs of
the task queue with `run_after` in the future (how they were scheduled before timers; the backend's `db_worker`
claims among them). Then it times each claim of an e-mail job, and the idle polls once the e-mails are claimed.

A run_worker poll is its timer check (`timers_fire`) plus the backend's claim query; a db_worker poll is the
claim query alone. "SQL ms" is the time spent in the database driver (round trips included), measured around
every statement; "wall ms" is the whole poll.

Part of bench/run.py; alone: `.venv/bin/python bench/workers.py` (prints, writes no JSON).
Knobs (environment): BENCH_WORKER_WAITING (100000), BENCH_WORKER_CLAIMS (300), BENCH_WORKER_POLLS (200).
"""

import os
import signal
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import table  # noqa: E402

WAITING = int(os.environ.get("BENCH_WORKER_WAITING", "100000"))
CLAIMS = int(os.environ.get("BENCH_WORKER_CLAIMS", "300"))
POLLS = int(os.environ.get("BENCH_WORKER_POLLS", "200"))
WARMUP = 20
EXPLAIN_EVERY = 10  # one poll in ten is also measured server-side
CLAIM_GOAL = 1.2  # claim with timers waiting over claim with none
IDLE_GOAL_MS = 5.0  # SQL time of an idle poll

# (key, worker, what waits, label)
SCENARIOS = [
    ("run_worker_none", "run_worker", "none", "run_worker, nothing waiting"),
    ("run_worker_timers", "run_worker", "timers", f"run_worker, {WAITING:,} timers waiting"),
    ("db_worker_none", "db_worker", "none", "db_worker, nothing waiting"),
    ("db_worker_run_after", "db_worker", "run_after", f"db_worker, {WAITING:,} run_after jobs waiting"),
]


def say(message: str) -> None:
    print(f"· {message}", flush=True)


class SqlClock:
    """Seconds spent executing statements on the default connection while installed, and the statements."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.wall = 0.0  # the whole block, set when it ends
        self.statements: list[tuple[str, tuple]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, tuple(params or ())))
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def server_seconds(statements: list[tuple[str, tuple]]) -> float:
    """PostgreSQL's own planning and execution time of the poll's SELECTs, by EXPLAIN ANALYZE (rolled back).

    Unlike the time measured around each statement, it leaves out the round trips, so it holds still on a busy
    machine. The claim's UPDATE (one row, by primary key) is not counted.
    """
    from django.db import connection, transaction

    total = 0.0
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            result = cursor.fetchone()[0][0]
            total += (result["Planning Time"] + result["Execution Time"]) / 1000
        transaction.set_rollback(True)
    return total


@contextmanager
def timed():
    from django.db import connection

    clock = SqlClock()
    started = time.perf_counter()
    with connection.execute_wrapper(clock):
        yield clock
    clock.wall = time.perf_counter() - started


def a_worker():
    from portal.worker.workers import SweepingWorker

    return SweepingWorker(
        sweep=lambda: None,
        sweep_every=timedelta(days=1),
        interval=0,
        batch=True,
        worker_id="bench:0:claims",
    )


def poll(worker, kind: str):
    """One poll of a worker of this kind: the job it claimed, or None."""
    if kind == "run_worker":
        worker.fire_timers()
    job, _ = worker.claim_next()
    return job


# --- what waits ------------------------------------------------------------------------------------------------


def emails_queue(count: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from portal.accounts.models import User
    from portal.notifications.services import email_queue

    expires_at = timezone.now() + timedelta(days=7)
    with transaction.atomic():
        for i in range(count):
            user = User(email=f"worker{i:05d}@bench.example", first_name=f"Bench{i}")
            email_queue(
                template="activation-link",
                to=[user.email],
                context={"user": user, "activation_url": "http://127.0.0.1/x", "expires_at": expires_at},
            )


def timers_seed(count: int) -> None:
    """Reminders due over the coming days, as timers; written by the database itself."""
    from django.db import connection
    from django.utils import timezone

    from portal.agreements.tasks import signature_remind

    start = timezone.now() + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_timer (due_at, task_path, kwargs, key, created_at)"
            " SELECT %s + n * interval '1 second', %s, jsonb_build_object('invitation_id', n),"
            " 'signature-remind:' || n, now() FROM generate_series(1, %s) AS n",
            [start, signature_remind.module_path, count],
        )


def run_after_seed(count: int) -> None:
    """The same reminders scheduled the old way: jobs of the task queue, READY, with run_after in the future."""
    from django.db import connection
    from django.utils import timezone

    from portal.agreements.tasks import signature_remind

    start = timezone.now() + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_tasks_database_dbtaskresult (id, status, enqueued_at, args_kwargs, priority,"
            " task_path, worker_ids, queue_name, backend_name, run_after, exception_class_path, traceback)"
            " SELECT gen_random_uuid(), 'READY', now(),"
            " jsonb_build_object('args', '[]'::jsonb, 'kwargs', jsonb_build_object('invitation_id', n)), 0,"
            " %s, '[]'::jsonb, 'default', 'default', %s + n * interval '1 second', '', ''"
            " FROM generate_series(1, %s) AS n",
            [signature_remind.module_path, start, count],
        )


def prepare(waiting: str) -> None:
    from django.db import connection

    from bench import data

    data.clean()
    emails_queue(WARMUP + CLAIMS)
    if waiting == "timers":
        timers_seed(WAITING)
    elif waiting == "run_after":
        run_after_seed(WAITING)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner knows the tables as it would in production


# --- measuring -------------------------------------------------------------------------------------------------


def _ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
    }


def scenario(key: str, kind: str, waiting: str, label: str) -> dict:
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from portal.core.models import Timer
    from portal.notifications.tasks import send_email

    say(f"workers: {label}: {CLAIMS} claims, then {POLLS} idle polls")
    prepare(waiting)
    worker = a_worker()
    problems = []
    claim: dict[str, list[float]] = {"wall": [], "sql": [], "server": []}
    for i in range(WARMUP + CLAIMS):
        with timed() as clock:
            job = poll(worker, kind)
        if job is None or job.task_path != send_email.module_path:
            problems.append(f"claim {i} took {job and job.task_path!r}, not an e-mail job")
            break
        if i >= WARMUP:
            claim["wall"].append(clock.wall)
            claim["sql"].append(clock.seconds)
            if i % EXPLAIN_EVERY == 0:
                claim["server"].append(server_seconds(clock.statements))
    idle: dict[str, list[float]] = {"wall": [], "sql": [], "server": []}
    for i in range(POLLS):
        with timed() as clock:
            job = poll(worker, kind)
        if job is not None:
            problems.append(f"an idle poll claimed {job.task_path}")
            break
        idle["wall"].append(clock.wall)
        idle["sql"].append(clock.seconds)
        if i % EXPLAIN_EVERY == 0:
            idle["server"].append(server_seconds(clock.statements))
    left = {"timers": Timer.objects.count(), "scheduled": DBTaskResult.objects.filter(status="READY").count()}
    expected = {"none": (0, 0), "timers": (WAITING, 0), "run_after": (0, WAITING)}[waiting]
    if (left["timers"], left["scheduled"]) != expected:
        problems.append(f"left waiting {left}, expected timers/scheduled {expected}")
    connection.close()
    figures = {"key": key, "label": label, "worker": kind, "waiting": waiting, "left": left}
    if not problems:
        figures |= {f"claim_{k}": _ms(v) for k, v in claim.items()} | {f"idle_{k}": _ms(v) for k, v in idle.items()}
    figures["error"] = "; ".join(problems)
    if problems:
        print(f"ERROR in workers: {label}: {figures['error']}", file=sys.stderr, flush=True)
    return figures


# --- report ----------------------------------------------------------------------------------------------------


MEASURES = ("server", "sql", "wall")


def ratios(results: dict) -> dict:
    """Claim with something waiting over claim with nothing waiting, for each measure (medians)."""

    def over(key: str, base: str, measure: str) -> float | None:
        a, b = results.get(key, {}).get(f"claim_{measure}"), results.get(base, {}).get(f"claim_{measure}")
        return round(a["median_ms"] / b["median_ms"], 2) if a and b and b["median_ms"] else None

    return {
        "timers_over_none": {m: over("run_worker_timers", "run_worker_none", m) for m in MEASURES},
        "run_after_over_none": {m: over("db_worker_run_after", "db_worker_none", m) for m in MEASURES},
    }


def _ratios_text(figures: dict[str, float | None]) -> str:
    return ", ".join(f"{figures[m]:.2f}x {m}" for m in MEASURES if figures[m] is not None)


def report(figures: dict) -> str:
    out = ["", "=" * 110]
    out.append(
        f"Background workers  ·  claim of an e-mail job and idle polls, in-process  ·  database: {figures['database']}"
    )
    out.append(
        f"{CLAIMS} claims, then {POLLS} idle polls per scenario (after {WARMUP} warm-up claims); median (p95) ms. "
        f"server = PostgreSQL's planning + execution of the poll's SELECTs (EXPLAIN ANALYZE, one poll in "
        f"{EXPLAIN_EVERY}); SQL = time in the driver, round trips included; wall = the whole poll."
    )
    if figures["database_warning"]:
        out.append(f"WARNING: {figures['database_warning']}")
    out.append("=" * 110)
    columns = [f"{when}_{m}" for when in ("claim", "idle") for m in MEASURES]
    rows = [["scenario", *(c.replace("_", " ") for c in columns)]]
    for s in figures["scenarios"].values():
        rows.append(
            [s["label"], *(f"{s[c]['median_ms']:.3f} ({s[c]['p95_ms']:.2f})" if c in s else "-" for c in columns)]
        )
    out.append(table(rows, "l" + "r" * len(columns)))
    out.append("")
    r = figures["ratios"]
    mine = r["timers_over_none"]
    if mine["server"] is not None:
        verdict = "met" if mine["server"] <= CLAIM_GOAL else "MISSED"
        out.append(
            f"Claim with {WAITING:,} timers waiting / with none: {_ratios_text(mine)} "
            f"(goal within {CLAIM_GOAL}x of database time: {verdict})."
        )
    if r["run_after_over_none"]["server"] is not None:
        out.append(
            f"Baseline, db_worker with {WAITING:,} run_after jobs waiting / with none: "
            f"{_ratios_text(r['run_after_over_none'])}."
        )
    scenarios = figures["scenarios"]
    idle = scenarios.get("run_worker_timers", {}).get("idle_server")
    if idle:
        verdict = "met" if idle["median_ms"] < IDLE_GOAL_MS else "MISSED"
        line = (
            f"Idle run_worker poll with {WAITING:,} timers waiting: {idle['median_ms']:.3f} ms of database time "
            f"(goal under {IDLE_GOAL_MS:.0f} ms: {verdict})"
        )
        baseline = scenarios.get("db_worker_run_after", {}).get("idle_server")
        if baseline:
            line += f"; db_worker with {WAITING:,} run_after jobs waiting: {baseline['median_ms']:.1f} ms"
        out.append(line + ".")
    out.append("")
    if figures["errors"]:
        out.extend(f"ERROR: {error}" for error in figures["errors"])
    else:
        out.append("Errors: none (every claim took an e-mail job, no idle poll took a job, nothing waiting was lost).")
    out.append(f"Worker benchmark run time {figures['runtime_s']:.0f} s.")
    return "\n".join(out)


def bench(env: dict[str, str], database) -> dict:
    """Run every worker scenario, print the table, return the figures. Empties the database."""
    from bench import data

    started = time.monotonic()
    if database.vendor != "postgresql":
        print("WARNING: the worker benchmark needs PostgreSQL; skipped.", file=sys.stderr, flush=True)
        return {"errors": [], "skipped": "needs PostgreSQL"}
    results = {key: scenario(key, kind, waiting, label) for key, kind, waiting, label in SCENARIOS}
    data.clean()
    figures = {
        "database": f"{database.vendor} {database.display}",
        "database_warning": database.warning,
        "waiting": WAITING,
        "claims": CLAIMS,
        "polls": POLLS,
        "scenarios": results,
        "ratios": ratios(results),
        "errors": [f"{s['label']}: {s['error']}" for s in results.values() if s["error"]],
        "runtime_s": round(time.monotonic() - started, 1),
    }
    print(report(figures), flush=True)
    return figures


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    from bench.database import bench_env, database_choose, migrate

    database, done = database_choose()
    if database.warning:
        print(f"\nWARNING: {database.warning}\n", file=sys.stderr, flush=True)
    say(f"database: {database.vendor} {database.display} ({database.source}; {done}); its data is wiped")
    env = bench_env(database)
    say("migrating (manage.py migrate)")
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    figures = bench(env, database)
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
