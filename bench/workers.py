"""Background worker throughput: `manage.py run_worker --once` processes draining empty tasks, then e-mails.

Each scenario empties the database, queues its jobs in-process, starts 1 (then 2) worker processes at the same
moment and times them from start until every one has exited (batch mode exits when no ready job is left).
E-mails go over SMTP to an aiosmtpd sink on 127.0.0.1 that counts them by Message-ID.

Part of bench/run.py; alone: `.venv/bin/python bench/workers.py` (prints, writes no JSON).
Knobs (environment): BENCH_WORKER_TASKS (500), BENCH_WORKER_EMAILS (300).
"""

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from email.parser import BytesHeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import table  # noqa: E402
from bench.server import free_port, machine_cpu  # noqa: E402

TASKS = int(os.environ.get("BENCH_WORKER_TASKS", "500"))
EMAILS = int(os.environ.get("BENCH_WORKER_EMAILS", "300"))
TIMEOUT = 120.0
STARTUP_ROUNDS = 2
WORKER_COUNTS = (1, 2)
COMMAND = [sys.executable, "manage.py", "run_worker", "--once"]


def say(message: str) -> None:
    print(f"· {message}", flush=True)


class WorkerError(RuntimeError):
    pass


class Sink:
    """An SMTP server on 127.0.0.1 that accepts everything and counts messages by Message-ID."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.message_ids: Counter[str] = Counter()
        self.controller = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        headers = BytesHeaderParser().parsebytes(envelope.content)
        message_id = " ".join(str(headers.get("Message-ID", "")).split())
        with self.lock:
            self.message_ids[message_id] += 1
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.message_ids.clear()

    def counted(self) -> Counter[str]:
        with self.lock:
            return Counter(self.message_ids)

    def __enter__(self) -> "Sink":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.controller is not None:
            self.controller.stop()


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _tail(log, lines: int = 15) -> str:
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def workers_run(env: dict[str, str], count: int) -> dict:
    """Start `count` `run_worker --once` processes together; seconds until the last one exits."""
    logs = [tempfile.TemporaryFile(prefix="bench-worker-") for _ in range(count)]  # noqa: SIM115
    processes: list[subprocess.Popen] = []
    try:
        started = time.monotonic()
        for log in logs:
            processes.append(
                subprocess.Popen(  # noqa: S603
                    COMMAND, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        ended: list[float | None] = [None] * count
        while None in ended:
            now = time.monotonic()
            for i, process in enumerate(processes):
                if ended[i] is None and process.poll() is not None:
                    ended[i] = now
            if None in ended and now - started > TIMEOUT:
                running = [p.pid for p, e in zip(processes, ended, strict=True) if e is None]
                for process in processes:
                    _kill(process)
                raise WorkerError(f"worker(s) {running} still running after {TIMEOUT:.0f} s: killed")
            time.sleep(0.005)
        seconds = max(ended) - started  # type: ignore[type-var]
        for process, log in zip(processes, logs, strict=True):
            if process.returncode != 0:
                raise WorkerError(f"worker {process.pid} exited with {process.returncode}:\n{_tail(log)}")
        return {
            "seconds": seconds,
            "pids": [p.pid for p in processes],
            "process_seconds": [round(e - started, 3) for e in ended],  # type: ignore[operator]
        }
    finally:
        for process in processes:
            _kill(process)
        for log in logs:
            log.close()


def _empty_tables() -> None:
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from bench import data
    from portal.notifications.models import OutboundEmail

    data.clean()
    left = DBTaskResult.objects.count() + OutboundEmail.objects.count()
    connection.close()
    if left:
        raise WorkerError(f"flush left {left} task/outbox row(s)")


def noop_enqueue(count: int) -> None:
    from django.db import transaction

    from bench.tasks import noop

    with transaction.atomic():
        for _ in range(count):
            noop.enqueue()


def emails_enqueue(count: int) -> None:
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


def _task_outcome(pids: list[int]) -> dict:
    from django_tasks_db.models import DBTaskResult

    statuses = Counter(DBTaskResult.objects.values_list("status", flat=True))
    returns: Counter[str] = Counter()
    per_worker = Counter()
    claims = 0
    for worker_ids, value in DBTaskResult.objects.values_list("worker_ids", "return_value"):
        returns[str(value)] += 1
        claims += len(worker_ids)
        for worker_id in worker_ids:
            pid = worker_id.split(":")[1] if worker_id.count(":") >= 2 else ""
            per_worker[int(pid) if pid.isdigit() else -1] += 1
    return {
        "statuses": dict(statuses),
        "return_values": dict(returns),
        "claims": claims,
        "per_worker": [per_worker.get(pid, 0) for pid in pids],
    }


def _email_check(sink: Sink, expected: int) -> dict:
    from portal.notifications.models import OutboundEmail

    rows = dict(OutboundEmail.objects.values_list("message_id", "status"))
    received = sink.counted()
    statuses = Counter(rows.values())
    return {
        "outbox_statuses": dict(statuses),
        "received": sum(received.values()),
        "distinct_received": len(received),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": len(set(rows) - set(received)),
        "unknown": len(set(received) - set(rows)),
        "ok": (
            len(rows) == expected
            and statuses.get("sent", 0) == expected
            and sum(received.values()) == expected
            and set(received) == set(rows)
            and all(n == 1 for n in received.values())
        ),
    }


def scenario(name: str, *, key: str, workers: int, jobs: int, enqueue, env: dict[str, str], sink=None) -> dict:
    from django.db import connection

    say(f"workers: {name}, {jobs} jobs, {workers} worker process(es)")
    figures = {"scenario": name, "key": key, "workers": workers, "jobs": jobs, "error": ""}
    try:
        _empty_tables()
        if sink is not None:
            sink.reset()
        t = time.monotonic()
        enqueue(jobs)
        figures["enqueue_s"] = round(time.monotonic() - t, 3)
        connection.close()
        busy_before = machine_cpu()
        run = workers_run(env, workers)
        busy_after = machine_cpu()
        figures["seconds"] = round(run["seconds"], 3)
        figures["jobs_per_s"] = round(jobs / run["seconds"], 1)
        figures["process_seconds"] = run["process_seconds"]
        figures["machine_busy_pct"] = round(
            100 * (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1), 1
        )
        outcome = _task_outcome(run["pids"])
        figures.update(outcome)
        problems = []
        if outcome["statuses"].get("SUCCESSFUL", 0) != jobs or sum(outcome["statuses"].values()) != jobs:
            problems.append(f"task statuses {outcome['statuses']}")
        if outcome["claims"] != jobs:
            problems.append(f"{outcome['claims']} claims for {jobs} tasks")
        if sink is not None:
            check = _email_check(sink, jobs)
            figures["emails"] = check
            if not check["ok"]:
                problems.append(
                    f"e-mails: outbox {check['outbox_statuses']}, received {check['received']} "
                    f"({check['distinct_received']} distinct, {check['duplicates']} duplicates, "
                    f"{check['missing']} missing, {check['unknown']} unknown)"
                )
        figures["error"] = "; ".join(problems)
        connection.close()
    except WorkerError as error:
        figures["error"] = str(error)
    if figures["error"]:
        print(f"ERROR in workers: {name} with {workers} worker(s): {figures['error']}", file=sys.stderr, flush=True)
    else:
        say(f"workers: {name}, {workers} worker(s): {figures['seconds']:.2f} s, {figures['jobs_per_s']:.0f} jobs/s")
    return figures


def startup(env: dict[str, str]) -> dict:
    """Seconds for run_worker --once on an empty queue (mean of a few rounds), alone and two at once."""
    _empty_tables()
    figures = {}
    for count in WORKER_COUNTS:
        rounds = [workers_run(env, count)["seconds"] for _ in range(STARTUP_ROUNDS)]
        figures[str(count)] = {"mean_s": round(statistics.mean(rounds), 3), "rounds_s": [round(r, 3) for r in rounds]}
    return figures


def machine_before() -> dict:
    busy_before = machine_cpu()
    time.sleep(1)
    busy_after = machine_cpu()
    busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {"busy_pct": round(busy * 100, 1), "loadavg": loadavg}


def _verdict(speedup: float) -> str:
    if speedup >= 1.1:
        return "yes"
    if speedup <= 0.9:
        return "no (slower)"
    return "no (within 10%)"


def report(figures: dict) -> str:
    out = ["", "=" * 100]
    out.append(
        f"Background workers  ·  manage.py run_worker --once (django-tasks-db)  ·  database: {figures['database']}  ·  "
        f"{figures['cpus']} CPUs"
    )
    out.append(
        "Time = from starting the worker process(es) together until the last exits (start-up included, nothing "
        "subtracted)"
    )
    if figures["database_warning"]:
        out.append(f"WARNING: {figures['database_warning']}")
    idle = figures["machine_before"]
    out.append(f"Machine before the workers: {idle['busy_pct']:.0f}% busy over 1 s, load average {idle['loadavg']}")
    if idle["busy_pct"] > 20:
        out.append("WARNING: other processes were already using the CPUs: the figures are noisy")
    out.append("=" * 100)
    rows = [["scenario", "workers", "jobs", "seconds", "jobs/s", "vs empty", "split", "2 vs 1", "machine busy"]]
    for s in figures["scenarios"]:
        if s["error"] and "seconds" not in s:
            rows.append([s["scenario"], str(s["workers"]), str(s["jobs"]), "-", "-", "-", "-", "-", "-"])
            continue
        ratio = s.get("ratio_to_empty")
        speedup = s.get("speedup_vs_1")
        rows.append(
            [
                s["scenario"],
                str(s["workers"]),
                str(s["jobs"]),
                f"{s['seconds']:.2f}",
                f"{s['jobs_per_s']:.1f}",
                f"{ratio:.2f}x" if ratio is not None else "-",
                "/".join(str(n) for n in s["per_worker"]),
                f"{speedup:.2f}x {_verdict(speedup)}" if speedup is not None else "",
                f"{s['machine_busy_pct']:.0f}%",
            ]
        )
    out.append(table(rows, "lrrrrrlll"))
    out.append("")
    up = figures["startup"]
    out.append(
        f"Process start-up (run_worker --once on an empty queue, mean of {STARTUP_ROUNDS}): "
        f"1 worker {up['1']['mean_s']:.2f} s, 2 at once {up['2']['mean_s']:.2f} s; included in every time above."
    )
    out.append(
        "vs empty = jobs/s over the empty-task jobs/s with the same number of workers; "
        "split = jobs run by each worker; 2 vs 1 = jobs/s of 2 workers over 1."
    )
    if (figures["cpus"] or 1) <= 2:
        out.append(
            f"Only {figures['cpus']} CPUs: the workers share them with PostgreSQL, the SMTP sink (in the bench "
            "process) and anything else running, so a second worker process cannot add much."
        )
    mails = [s for s in figures["scenarios"] if "emails" in s]
    if mails:
        parts = [
            f"{s['workers']} worker(s): {s['emails']['received']} received, {s['emails']['distinct_received']} distinct "
            f"Message-IDs, {s['emails']['duplicates']} duplicates, {s['emails']['missing']} missing, outbox "
            + ", ".join(f"{k} {v}" for k, v in sorted(s["emails"]["outbox_statuses"].items()))
            for s in mails
        ]
        out.append("E-mails at the SMTP sink: " + "; ".join(parts) + ".")
    out.append("")
    if figures["errors"]:
        for error in figures["errors"]:
            out.append(f"ERROR: {error}")
    else:
        out.append("Errors: none (every job ran once and succeeded; every e-mail arrived exactly once, all sent).")
    out.append(f"Worker benchmark run time {figures['runtime_s']:.0f} s.")
    return "\n".join(out)


def bench(env: dict[str, str], database) -> dict:
    """Run every worker scenario, print the table, return the figures. Empties the database."""
    started = time.monotonic()
    before = machine_before()
    worker_env = {**env, "DEBUG": "0"}
    results = []
    with Sink() as sink:
        mail_env = {**worker_env, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
        say(f"workers: start-up time of run_worker --once on an empty queue ({STARTUP_ROUNDS} rounds each)")
        up = startup(worker_env)
        for count in WORKER_COUNTS:
            results.append(
                scenario("empty task", key="noop", workers=count, jobs=TASKS, enqueue=noop_enqueue, env=worker_env)
            )
        for count in WORKER_COUNTS:
            results.append(
                scenario(
                    "e-mail (activation-link, SMTP)",
                    key="email",
                    workers=count,
                    jobs=EMAILS,
                    enqueue=emails_enqueue,
                    env=mail_env,
                    sink=sink,
                )
            )
    _empty_tables()
    empty = {s["workers"]: s for s in results if s["key"] == "noop" and "jobs_per_s" in s}
    single = {s["key"]: s for s in results if s["workers"] == 1 and "jobs_per_s" in s}
    for s in results:
        if "jobs_per_s" not in s:
            continue
        base = empty.get(s["workers"])
        s["ratio_to_empty"] = round(s["jobs_per_s"] / base["jobs_per_s"], 3) if base else None
        one = single.get(s["key"])
        s["speedup_vs_1"] = round(s["jobs_per_s"] / one["jobs_per_s"], 3) if one and s["workers"] > 1 else None
        if s["speedup_vs_1"] is not None:
            s["two_beat_one"] = s["speedup_vs_1"] >= 1.1
    figures = {
        "database": f"{database.vendor} {database.display}",
        "database_warning": database.warning,
        "cpus": os.cpu_count(),
        "command": " ".join(["python", *COMMAND[1:]]),
        "timeout_s": TIMEOUT,
        "machine_before": before,
        "startup": up,
        "scenarios": results,
        "errors": [f"{s['scenario']} with {s['workers']} worker(s): {s['error']}" for s in results if s["error"]],
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
