"""E-mail lost or doubled when a worker dies mid-send: the outbox recovers while workers run.

A worker killed while it sends leaves its e-mail `sending` under a lease. Any running worker sweeps
every WORKER_SWEEP_EVERY: once the lease (EMAIL_SEND_LEASE) has run out the e-mail is queued again
and sent. The only double is a message the SMTP server accepted just before the worker died.
"""

import asyncio
import contextlib
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from portal.notifications.models import OutboundEmail
from portal.notifications.services import email_queue
from tests.conftest import Inbox, free_port

ROOT = Path(__file__).resolve().parent.parent
BURST = 200


def queue_emails(count: int) -> list[OutboundEmail]:
    context = {"recipient": {"first_name": "Tess"}, "req": {"domain": "brightwave.onmicrosoft.com"}}
    with transaction.atomic():
        return [
            email_queue(template="provisioning-started", to=[f"contact{i}@brightwave.example"], context=context)
            for i in range(count)
        ]


def message_id(message) -> str:
    return str(message["Message-ID"]).strip()


def wait_for(condition: Callable[[], object], *, seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.05)


def dead_pid() -> int:
    """The pid of a process that has exited: what a SIGKILLed worker leaves in its job."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_email_lost_or_doubled_when_a_worker_dies_mid_send__a_running_worker_sends_it_when_the_lease_runs_out(
    smtp_server, settings, transactional_db, time_machine
):
    """The worker that was sending died; a worker already running sends the e-mail once the lease is over."""
    settings.EMAIL_SEND_LEASE = timedelta(minutes=1)
    settings.WORKER_SWEEP_EVERY = timedelta(seconds=30)
    time_machine.move_to(timezone.now(), tick=True)
    (stuck,) = queue_emails(1)
    job = DBTaskResult.objects.get()
    job.claim(f"{socket.gethostname()[:32]}:{dead_pid()}:killed")
    OutboundEmail.objects.filter(pk=stuck.pk).update(
        status="sending", lease_until=timezone.now() + settings.EMAIL_SEND_LEASE, attempts=1
    )

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)}
    # A SIGTERM that arrives just after the worker stopped must not end the test run.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    ignoring = signal.getsignal(signal.SIGTERM)
    seen: dict[str, object] = {}
    worker_running = threading.Event()

    def watch_then_stop_the_worker() -> None:
        worker_started = False
        try:
            wait_for(
                lambda: signal.getsignal(signal.SIGTERM) is not ignoring,
                seconds=20,
                failure="run_worker did not start",
            )
            worker_started = True
            wait_for(
                lambda: DBTaskResult.objects.get(pk=job.pk).status == "SUCCESSFUL",
                seconds=20,
                failure="the dead worker's job was not put back and run",
            )
            time.sleep(0.5)
            seen["before the lease ran out"] = len(smtp_server.messages)
            time_machine.shift(settings.EMAIL_SEND_LEASE + settings.WORKER_SWEEP_EVERY)
            wait_for(
                lambda: smtp_server.messages,
                seconds=15,
                failure="the running worker never sent the e-mail whose lease ran out",
            )
            time.sleep(0.5)
        except BaseException as exc:  # reported by the test thread
            seen["error"] = exc
        finally:
            connection.close()
            if worker_started and worker_running.is_set():
                os.kill(os.getpid(), signal.SIGTERM)  # the worker's own handler: finish the job in hand, stop

    watcher = threading.Thread(target=watch_then_stop_the_worker, daemon=True)
    watcher.start()
    worker_running.set()
    try:
        call_command("run_worker", interval=0.05, verbosity=0)
    except SystemExit:
        pass  # SIGTERM while idle: the worker exits at once
    finally:
        worker_running.clear()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        watcher.join(60)

    assert "error" not in seen, seen.get("error")
    assert seen["before the lease ran out"] == 0, "sent again while the dead worker's lease still held"
    stuck.refresh_from_db()
    assert [message_id(m) for m in smtp_server.messages] == [stuck.message_id]
    assert (stuck.status, stuck.lease_until) == ("sent", None)


def test_email_lost_or_doubled_when_a_worker_dies_mid_send__a_silent_smtp_server_cannot_outlast_the_lease(
    settings, worker
):
    """The SMTP timeout is capped at a tenth of the lease, so a sending never outlives the lease that guards it."""
    settings.EMAIL_SEND_LEASE = timedelta(seconds=10)
    with socket.socket() as silent:  # accepts connections, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 60},
            }
        }
        (queued,) = queue_emails(1)
        started = time.monotonic()
        worker()
        elapsed = time.monotonic() - started
    queued.refresh_from_db()
    assert elapsed < 5, f"one sending took {elapsed:.1f} s with a 10 s lease"
    assert (queued.status, queued.attempts) == ("queued", 1)
    assert "timed out" in queued.last_error


# The crash test: real workers, a real SMTP server, SIGKILLs at the worst moments.


def _socket_inodes(local_port: int, remote_port: int) -> set[str]:
    """Inodes of the TCP sockets from 127.0.0.1:local_port to remote_port (/proc/net/tcp, addresses in hex)."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def pid_of_peer(peer_port: int, server_port: int, pids: list[int]) -> int | None:
    """Which of our worker processes holds the client end of this SMTP connection."""
    inodes = _socket_inodes(peer_port, server_port)
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


@dataclass
class KillingInbox(Inbox):
    """An SMTP server that, once `after` messages are in, kills the worker sending the next one.

    "kill": SIGKILL in the middle of the SMTP transaction (the message is not accepted).
    "accept-then-kill": SIGSTOP the worker, accept the message (250), then SIGKILL it: accepted
    by the server, never recorded in the database.
    A kill waits until another worker is running, so that one always survives.
    """

    server_port: int = 0
    worker_pids: Callable[[], list[int]] = list
    plan: list[tuple[int, str]] = field(default_factory=list)
    doomed: set[int] = field(default_factory=set)
    killed_mid_send: list[str] = field(default_factory=list)
    accepted_then_killed: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        live = self.worker_pids()
        pid = pid_of_peer(session.peer[1], self.server_port, live)
        survivors = set(live) - self.doomed - {pid}
        with self.lock:
            due = bool(self.plan) and len(self.messages) >= self.plan[0][0]
        if not due or pid is None or not survivors:
            return await super().handle_DATA(server, session, envelope)
        _, action = self.plan.pop(0)
        self.doomed.add(pid)
        if action == "kill":
            _signal(pid, signal.SIGKILL)
            self.killed_mid_send.append(message_id(message))
            return "451 4.3.0 Try again later"
        _signal(pid, signal.SIGSTOP)
        self.accepted_then_killed.append(message_id(message))
        asyncio.get_running_loop().call_later(0.5, _signal, pid, signal.SIGKILL)
        return await super().handle_DATA(server, session, envelope)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def test_email_lost_or_doubled_when_a_worker_dies_mid_send__200_emails_through_four_worker_kills(
    transactional_db, tmp_path
):
    """200 e-mails, two workers, three SIGKILLs mid-SMTP and one between the server's 250 and the database.

    Every e-mail arrives; the one the server accepted from the worker killed before it could record
    it arrives twice with the same Message-ID; all others once; every row ends `sent`.
    """
    emails = queue_emails(BURST)
    port = free_port()
    workers: list[subprocess.Popen] = []
    started: list[subprocess.Popen] = []
    inbox = KillingInbox(
        server_port=port,
        worker_pids=lambda: [w.pid for w in workers],
        plan=[(25, "kill"), (50, "kill"), (75, "kill"), (100, "accept-then-kill")],
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{port}?timeout=5",
        "EMAIL_SEND_LEASE": "10s",
        "WORKER_SWEEP_EVERY": "1s",
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def start_worker() -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.1", "-v1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(process)
        return process

    def logs() -> str:
        return "\n".join(f"--- worker {i}:\n{_tail(tmp_path / f'worker-{i}.log')}" for i in range(len(started)))

    began = time.monotonic()
    controller.start()
    try:
        workers.extend([start_worker(), start_worker()])
        deadline = time.monotonic() + 120
        while inbox.plan or OutboundEmail.objects.filter(status="sent").count() < BURST:
            if time.monotonic() > deadline:
                statuses = Counter(OutboundEmail.objects.values_list("status", flat=True))
                pytest.fail(
                    f"not every e-mail was sent within 120 s: {dict(statuses)}, kills not done: {inbox.plan}, "
                    f"{len(inbox.messages)} message(s) received\n{logs()}"
                )
            for slot, process in enumerate(workers):
                if process.poll() is not None:  # as a supervisor would: a dead worker is replaced
                    workers[slot] = start_worker()
            time.sleep(0.1)
        time.sleep(2)  # the workers run on: nothing more may arrive
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        controller.stop()
    elapsed = time.monotonic() - began

    assert len(inbox.killed_mid_send) == 3 and len(inbox.accepted_then_killed) == 1, logs()
    received = Counter(message_id(m) for m in inbox.messages)
    expected = Counter({e.message_id: 1 for e in emails})
    expected[inbox.accepted_then_killed[0]] = 2
    assert received == expected, f"lost: {set(expected) - set(received)}, extra: {received - expected}\n{logs()}"
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {"sent"}
    print(
        f"\n{BURST} e-mails, 4 worker kills, {len(started)} workers started, {sum(received.values())} messages "
        f"received ({len(received)} distinct), {elapsed:.1f} s"
    )
