"""Concurrent HTTP clients (asyncio + aiohttp) against 127.0.0.1, bounded in requests and in time."""

import asyncio
import re
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.server import KEEP_ALIVE

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REQUEST_TIMEOUT = 30.0
# A connection idle longer than this is not reused. Gunicorn closes one idle for KEEP_ALIVE; a request sent on it
# as it closes fails with "Server disconnected", and aiohttp sends again only idempotent ones (never a POST).
CLIENT_KEEP_ALIVE = KEEP_ALIVE / 5


def connector(clients: int = 1) -> aiohttp.TCPConnector:
    """The clients' connection pool: one connection per client, never one the server may be closing."""
    return aiohttp.TCPConnector(limit=clients, limit_per_host=clients, keepalive_timeout=CLIENT_KEEP_ALIVE)


@dataclass
class Browser:
    """One client: its cookies (kept by hand: the portal's cookies are Secure, the bench talks plain HTTP)."""

    index: int
    cookies: dict[str, str] = field(default_factory=dict)
    token: str = ""
    sent: int = 0

    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def keep(self, response: aiohttp.ClientResponse) -> None:
        for header in response.headers.getall("Set-Cookie", []):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


async def csrf_fetch(http: aiohttp.ClientSession, browser: Browser, path: str) -> None:
    """GET a page with a form: keep its csrftoken cookie and the form's token."""
    async with http.get(path, headers=browser.cookie_header(), allow_redirects=False) as response:
        body = await response.text()
        browser.keep(response)
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}, not 200")
    match = CSRF_INPUT.search(body)
    if not match or "csrftoken" not in browser.cookies:
        raise RuntimeError(f"GET {path}: no CSRF token in the page or no csrftoken cookie")
    browser.token = match.group(1)


@dataclass
class Outcome:
    name: str
    expected: int
    clients: int
    requests: int
    errors: int
    error_kinds: dict[str, int]
    error_sample: str
    seconds: float
    latencies_ms: list[float]
    client_cpu_s: float
    server_cpu_s: float
    machine_busy: float
    capped_by: str

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(p) - 1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected_status": self.expected,
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "error_sample": self.error_sample,
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else None,
            "client_cpu_s": round(self.client_cpu_s, 2),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "machine_busy_pct": round(self.machine_busy * 100, 1),
            "capped_by": self.capped_by,
        }


Prepare = Callable[[aiohttp.ClientSession, Browser], Awaitable[None]]
Send = Callable[[aiohttp.ClientSession, Browser], Awaitable[tuple[int, str]]]


async def _drive(
    *,
    name: str,
    base_url: str,
    expected: int,
    send: Send,
    prepare: Prepare | None,
    clients: int,
    max_requests: int,
    max_seconds: float,
    warmup: int,
    server_cpu: Callable[[], int],
    machine_cpu: Callable[[], tuple[int, int]],
    ticks: int,
) -> Outcome:
    assert urlsplit(base_url).hostname == "127.0.0.1", "the benchmark only ever talks to 127.0.0.1"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector(clients), timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        browsers = [Browser(i) for i in range(clients)]
        if prepare is not None:
            await asyncio.gather(*(prepare(http, b) for b in browsers))
        if warmup:
            warm = await asyncio.gather(
                *(send(http, browsers[i % clients]) for i in range(warmup)), return_exceptions=True
            )
            bad = [w for w in warm if isinstance(w, BaseException) or w[0] != expected]
            if bad:
                raise RuntimeError(f"{name}: warm-up requests failed: {bad[:3]}")

        latencies: list[float] = []
        kinds: Counter[str] = Counter()
        sample = ""
        issued = 0
        last_done = 0.0

        async def client(browser: Browser) -> None:
            nonlocal issued, last_done, sample
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                began = time.perf_counter()
                try:
                    status, body = await send(http, browser)
                    kind = "" if status == expected else f"HTTP {status}"
                except (TimeoutError, aiohttp.ClientError, OSError) as error:
                    kind, body = type(error).__name__, str(error)
                done = time.perf_counter()
                latencies.append((done - began) * 1000)
                last_done = max(last_done, done)
                if kind:
                    kinds[kind] += 1
                    if not sample:
                        sample = f"{kind}: {' '.join(body.split())[:300]}"

        cpu_before, busy_before, wall_before = server_cpu(), machine_cpu(), time.process_time()
        start = time.perf_counter()
        deadline = start + max_seconds
        await asyncio.gather(*(client(b) for b in browsers))
        busy_after, cpu_after, wall_after = machine_cpu(), server_cpu(), time.process_time()

    busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
    return Outcome(
        name=name,
        expected=expected,
        clients=clients,
        requests=len(latencies),
        errors=sum(kinds.values()),
        error_kinds=dict(kinds),
        error_sample=sample,
        seconds=max(last_done - start, 1e-9),
        latencies_ms=latencies,
        client_cpu_s=wall_after - wall_before,
        server_cpu_s=(cpu_after - cpu_before) / ticks,
        machine_busy=busy,
        capped_by="requests" if len(latencies) >= max_requests else "time",
    )


def run(**kwargs: Any) -> Outcome:
    """One scenario; a hard stop well past its time cap in case the server hangs."""
    limit = kwargs["max_seconds"] + REQUEST_TIMEOUT + 30
    return asyncio.run(asyncio.wait_for(_drive(**kwargs), timeout=limit))


async def read(response: aiohttp.ClientResponse, browser: Browser) -> tuple[int, str]:
    body = await response.text(errors="replace")
    browser.keep(response)
    return response.status, body
