"""The portal's benchmarks: gunicorn on PostgreSQL under 50 clients, beside a bare Django view; query counts.

Run with `make bench` or `.venv/bin/python bench/run.py`. Figures go to stdout and to /tmp/bench-results.json.
Knobs (environment): BENCH_CLIENTS (50), BENCH_REQUESTS (2000 per scenario), BENCH_SECONDS (20 per scenario),
BENCH_WORKERS (2), BENCH_THREADS (4; 1 runs sync workers); then the background workers (bench/workers.py:
BENCH_WORKER_TASKS, BENCH_WORKER_EMAILS).
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load, scenarios  # noqa: E402
from bench.agreements import agreement_figures, print_agreement_figures  # noqa: E402
from bench.database import bench_env, database_choose, migrate  # noqa: E402
from bench.report import table  # noqa: E402
from bench.server import TICKS, Gunicorn, free_port, machine_cpu  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
MAX_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
MAX_SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
SEEDED = 1000
RESULTS = Path("/tmp/bench-results.json")


def say(message: str) -> None:
    print(f"· {message}", flush=True)


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def portal_loads() -> None:
    """Fail early, with the reason, when the portal's URLs do not import."""
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018
    except Exception as error:
        raise SystemExit(
            f"The portal does not load ({type(error).__name__}: {error}); nothing to benchmark."
        ) from error


def machine_before() -> dict:
    """How busy the machine is before the load: other work on it makes every figure noisy."""
    busy_before = machine_cpu()
    time.sleep(1)
    busy_after = machine_cpu()
    busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    warning = ""
    if busy > 0.2:
        warning = f"the machine was already {busy:.0%} busy before the load (other processes): the figures are noisy"
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    return {"busy_pct": round(busy * 100, 1), "loadavg": loadavg, "warning": warning}


def scenario(server: Gunicorn, name: str, *, expected: int, send, prepare=None) -> load.Outcome:
    say(f"{name}: {CLIENTS} clients, up to {MAX_REQUESTS} requests or {MAX_SECONDS:.0f} s")
    outcome = load.run(
        name=name,
        base_url=server.base_url,
        expected=expected,
        send=send,
        prepare=prepare,
        clients=CLIENTS,
        max_requests=MAX_REQUESTS,
        max_seconds=MAX_SECONDS,
        warmup=CLIENTS,
        server_cpu=server.cpu_ticks,
        machine_cpu=machine_cpu,
        ticks=TICKS,
    )
    say(f"{name}: {outcome.requests} requests in {outcome.seconds:.1f} s, {outcome.errors} errors")
    return outcome


def report(results: dict) -> str:
    out = []
    db = results["database"]
    out.append("")
    out.append("=" * 100)
    out.append(f"Portal benchmark  ·  database: {db['vendor']} {db['display']}  ·  server: {results['server']}")
    out.append(f"{CLIENTS} concurrent clients; each scenario capped at {MAX_REQUESTS} requests or {MAX_SECONDS:.0f} s")
    if db["warning"]:
        out.append(f"WARNING: {db['warning']}")
    idle = results["machine_before"]
    out.append(f"Machine before the load: {idle['busy_pct']:.0f}% busy over 1 s, load average {idle['loadavg']}")
    if idle["warning"]:
        out.append(f"WARNING: {idle['warning']}")
    out.append("=" * 100)
    hello = results["hello_baseline"]
    rows = [
        [
            "scenario",
            "expect",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p95 ms",
            "vs hello",
            "srv CPU s",
            "cli CPU s",
            "machine busy",
        ]
    ]
    for s in results["scenarios"].values():
        ratio = s["ratio_to_hello"]
        rows.append(
            [
                s["name"],
                str(s["expected_status"]),
                str(s["requests"]),
                str(s["errors"]),
                f"{s['throughput_rps']:.1f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p95_ms']:.1f}",
                f"{ratio:.2f}x",
                f"{s['server_cpu_s']:.1f}",
                f"{s['client_cpu_s']:.1f}",
                f"{s['machine_busy_pct']:.0f}%",
            ]
        )
    out.append(table(rows, "llrrrrrrrrr"))
    out.append("")
    out.append(
        f"hello baseline = mean of the hello runs before and after the others: {hello['throughput_rps']:.1f} req/s, "
        f"p95 {hello['p95_ms']:.1f} ms"
    )
    for key in ("request_post", "staff_pipeline", "subscriptions_page"):
        s = results["scenarios"][key]
        out.append(
            f"{s['name']}: {s['throughput_rps']:.1f} req/s = {s['ratio_to_hello']:.2f}x hello throughput, "
            f"p95 {s['p95_ms']:.1f} ms vs {hello['p95_ms']:.1f} ms ({s['p95_ms'] / hello['p95_ms']:.1f}x hello p95)"
        )
    errors = [(s["name"], s) for s in results["scenarios"].values() if s["errors"]]
    out.append("")
    if errors:
        for name, s in errors:
            kinds = ", ".join(f"{k} ×{v}" for k, v in s["error_kinds"].items())
            out.append(f"ERRORS in {name}: {kinds}; first: {s['error_sample']}")
    else:
        out.append("Errors: none (every answer had the expected status).")

    q = results["query_counts"]
    out.append("")
    out.append("Staff list (/backoffice/), queries per page view (in-process test client, force_login, bench database)")
    rows = [["page", "10 requests", f"{SEEDED:,} requests", "equal"]]
    for label, figures in q["pages"].items():
        rows.append(
            [
                f"{label}  {figures['url']}",
                str(figures["at_10"]),
                str(figures["at_1000"]),
                "yes" if figures["equal"] else "NO",
            ]
        )
    out.append(table(rows, "lrrl"))
    lic = q["licences"]
    out.append(
        f"Licences page {lic['at_10']['url']}, queries per page view: {lic['at_10']['queries']} at 10 subscriptions, "
        f"{lic['at_1000']['queries']} at 1,000 ({'equal' if lic['equal'] else 'NOT EQUAL'})"
    )

    st = results["request_post_statements"]
    out.append("")
    out.append(
        f"Request POST /request-tenant/, SQL statements (in-process, anonymous visitor, most of {st['samples']} posts): "
        f"{st['own']} of its own (budget {st['budget']}: {'within' if st['own'] <= st['budget'] else 'OVER'}), "
        f"+ {st['rate_limits']} rate-limit counters, + {st['transaction']} transaction control = {st['total']}"
    )
    for sql in st["own_sql"]:
        out.append(f"  {' '.join(sql.split())[:110]}")
    out.append("")
    out.append(f"Total run time {results['runtime_s']:.0f} s. Figures written to {RESULTS}.")
    return "\n".join(out)


def run_scenarios(server: Gunicorn, data, outcomes: dict) -> None:
    outcomes["hello"] = scenario(server, "hello GET /bench/hello/", expected=200, send=scenarios.hello_send)

    data.clean()
    outcomes["request_post"] = scenario(
        server,
        "request POST /request-tenant/",
        expected=302,
        send=scenarios.form_send,
        prepare=scenarios.form_prepare,
    )

    data.clean()
    data.staff_create()
    data.requests_seed(SEEDED)
    cookies = scenarios.staff_login(server.base_url)
    outcomes["staff_pipeline"] = scenario(
        server,
        f"staff GET /backoffice/ ({SEEDED:,} requests)",
        expected=200,
        send=scenarios.pipeline_send,
        prepare=scenarios.staff_prepare(cookies),
    )

    # Licences: the subscriptions page of a company with 1,000 subscriptions
    from bench import subscriptions as licences  # after django.setup(), as bench.data

    path = licences.subscriptions_seed(licences.SEEDED)
    outcomes["subscriptions_page"] = scenario(
        server,
        f"customer GET /c/…/licences/ ({licences.SEEDED:,} subscriptions)",
        expected=200,
        send=licences.page_send(path),
        prepare=licences.prepare_with(licences.customer_cookies()),
    )

    outcomes["hello_after"] = scenario(
        server, "hello GET /bench/hello/ (again)", expected=200, send=scenarios.hello_send
    )


def main() -> int:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _terminate)
    database, done = database_choose()
    if database.warning:
        print(f"\nWARNING: {database.warning}\n", file=sys.stderr, flush=True)
    say(
        f"database: {database.vendor} {database.display} ({database.source}; {done}); its data is wiped by the benchmark"
    )
    port = free_port()
    env = bench_env(database, base_url=f"http://127.0.0.1:{port}")
    say("migrating (manage.py migrate)")
    migrate(env)

    os.environ.update(env)
    import django

    django.setup()
    from bench import data

    portal_loads()
    say(f"query counts of the staff list at 10 and {SEEDED:,} requests")
    data.clean()
    data.staff_create()
    data.requests_seed(10)
    at_10 = data.staff_page_queries()
    data.requests_seed(SEEDED - 10, start=10)
    at_1000 = data.staff_page_queries()
    pages = {
        label: {
            "url": at_10[label]["url"],
            "at_10": at_10[label]["queries"],
            "at_1000": at_1000[label]["queries"],
            "equal": at_10[label]["queries"] == at_1000[label]["queries"],
            "sql_at_1000": at_1000[label]["sql"],
        }
        for label in at_10
    }

    say(f"query counts of the licences page at 10 and {SEEDED:,} subscriptions")
    from bench import subscriptions as licences

    data.clean()
    licence_pages = {"at_10": licences.page_queries(licences.subscriptions_seed(10))}
    licence_pages["at_1000"] = licences.page_queries(licences.subscriptions_seed(licences.SEEDED))
    licence_pages["equal"] = licence_pages["at_10"]["queries"] == licence_pages["at_1000"]["queries"]

    say("statements of the request POST, in-process")
    data.clean()
    statements = data.request_post_statements()
    before = machine_before()

    server = Gunicorn(env, workers=WORKERS, threads=THREADS, port=port)
    say(f"starting {server.description}")
    outcomes = {}
    try:
        with server:
            run_scenarios(server, data, outcomes)
            server_log = server.log_tail(10)
    except BaseException:
        print(f"gunicorn's log: {server.log.name}\n{server.log_tail(20)}", file=sys.stderr, flush=True)
        raise
    say("gunicorn stopped")

    results = {
        "database": {
            "vendor": database.vendor,
            "display": database.display,
            "source": database.source,
            "warning": database.warning,
        },
        "server": server.description,
        "clients": CLIENTS,
        "max_requests": MAX_REQUESTS,
        "max_seconds": MAX_SECONDS,
        "cpus": os.cpu_count(),
        "scenarios": {key: outcome.as_dict() for key, outcome in outcomes.items()},
        "query_counts": {"seeded": [10, SEEDED], "pages": pages, "licences": licence_pages},
        "request_post_statements": statements,
        "machine_before": before,
        "server_log_tail": server_log,
        "runtime_s": 0.0,
    }
    hellos = [results["scenarios"]["hello"], results["scenarios"]["hello_after"]]
    baseline = {
        "throughput_rps": round(sum(h["throughput_rps"] for h in hellos) / 2, 1),
        "p95_ms": round(sum(h["p95_ms"] for h in hellos) / 2, 1),
    }
    results["hello_baseline"] = baseline
    for figures in results["scenarios"].values():
        figures["ratio_to_hello"] = round(figures["throughput_rps"] / baseline["throughput_rps"], 3)
    results["runtime_s"] = round(time.monotonic() - started, 1)
    say("agreement render, seal and verify (in-process); the Validate and Sign clicks through gunicorn")
    results["agreement"] = agreement_figures(env)
    text = report(results)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(text, flush=True)
    print_agreement_figures(results["agreement"])
    failed = any(s["errors"] for s in results["scenarios"].values()) or statements["own"] > statements["budget"]
    if failed:
        print(f"gunicorn's log: {server.log.name}", flush=True)
    else:
        server.log_discard()
    from bench.workers import bench as workers_bench

    results["workers"] = workers_bench(env, database)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    return 1 if failed or results["workers"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
