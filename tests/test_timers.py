"""Timers: reminders, expiries and retries wait outside the task queue and cost a worker nothing while they wait."""

import importlib
import re
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from portal.accounts.models import User
from portal.agreements.models import SigningInvitation
from portal.agreements.tasks import signature_expire, signature_remind
from portal.core.models import Timer
from portal.core.timers import timer_set, timers_fire
from portal.notifications.services import email_queue
from portal.onboarding.services import request_submit, request_validate
from portal.worker.workers import SweepingWorker
from tests.conftest import request_data

CARL = "carl@brightwave.example"
WAITING = 100_000
SAVEPOINT = re.compile(r'"s\d+_x\d+"')  # savepoint names count up; the statements are what we compare


def postgres_only(test):
    needs = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks and plans")
    return pytest.mark.postgres_only(needs(test))


class Boom(Exception):
    pass


def scheduled_in_the_queue() -> int:
    """Jobs of the task queue that wait for a later time (what made every claim slow)."""
    return DBTaskResult.objects.filter(status="READY").exclude(run_after=get_date_max()).count()


def timers_waiting(count: int) -> None:
    """`count` reminders due tomorrow, written by the database itself (100,000 model instances take a while)."""
    tomorrow = connection.ops.adapt_datetimefield_value(timezone.now() + timedelta(days=1))
    columns = "INSERT INTO core_timer (due_at, task_path, kwargs, key, created_at)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"{columns} SELECT %s, %s, jsonb_build_object('invitation_id', n), NULL, %s"
                " FROM generate_series(1, %s) AS n",
                [tomorrow, signature_remind.module_path, tomorrow, count],
            )
        else:
            cursor.execute(
                "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < %s)"
                f" {columns} SELECT %s, %s, json_object('invitation_id', n), NULL, %s FROM series",
                [count, tomorrow, signature_remind.module_path, tomorrow],
            )
    assert Timer.objects.count() == count


# The journey: a reminder, then the expiry


def test_a_reminder_and_the_expiry_fire_when_their_time_comes(settings, awaiting, smtp_server, worker, time_machine):
    invitation = SigningInvitation.objects.get()
    assert set(Timer.objects.values_list("task_path", flat=True)) == {
        signature_remind.module_path,
        signature_expire.module_path,
    }
    assert scheduled_in_the_queue() == 0

    time_machine.move_to(invitation.created_at + settings.SIGNATURE_REMINDER_EVERY + timedelta(minutes=1), tick=False)
    worker()
    reminders = [m for m in smtp_server.to(CARL) if "eminder" in str(m["Subject"])]
    assert len(reminders) == 1
    assert Timer.objects.get(task_path=signature_remind.module_path).due_at > timezone.now()  # the next one

    time_machine.move_to(invitation.expires_at + timedelta(minutes=1), tick=False)
    worker()
    awaiting.refresh_from_db()
    assert awaiting.stage == "to_validate"
    assert "expired" in str(smtp_server.to(CARL)[-1]["Subject"])
    assert len([m for m in smtp_server.to(CARL) if "eminder" in str(m["Subject"])]) == 1  # none after the deadline
    assert not Timer.objects.exists() and scheduled_in_the_queue() == 0


def test_nothing_fires_before_its_time(settings, awaiting, smtp_server, worker, time_machine):
    invitation = SigningInvitation.objects.get()
    time_machine.move_to(invitation.created_at + settings.SIGNATURE_REMINDER_EVERY - timedelta(minutes=1), tick=False)
    before = len(smtp_server.messages)
    worker()
    assert len(smtp_server.messages) == before and Timer.objects.count() == 2


# Written with their cause


def test_a_timer_is_rolled_back_with_its_cause(db, vera):
    request = request_submit(data=request_data())
    with pytest.raises(Boom), transaction.atomic():
        request_validate(request_id=request.pk, by=vera)
        assert Timer.objects.count() == 2
        raise Boom
    assert not Timer.objects.exists() and not SigningInvitation.objects.exists()


def test_a_timer_set_again_under_its_key_moves(db):
    now = timezone.now()
    timer_set(signature_remind, at=now + timedelta(days=3), key="signature-remind:7", invitation_id=7)
    timer_set(signature_remind, at=now + timedelta(days=6), key="signature-remind:7", invitation_id=7)
    timer_set(signature_remind, at=now + timedelta(days=3), invitation_id=8)
    timer_set(signature_remind, at=now + timedelta(days=3), invitation_id=8)
    assert Timer.objects.filter(key="signature-remind:7").get().due_at == now + timedelta(days=6)
    assert Timer.objects.filter(kwargs__invitation_id=8).count() == 2


def test_a_timer_whose_task_is_gone_is_kept_for_later(db, caplog):
    now = timezone.now()
    Timer.objects.create(due_at=now, task_path="portal.agreements.tasks.gone", kwargs={})
    timer_set(signature_remind, at=now, invitation_id=1)
    assert timers_fire() == 2
    assert DBTaskResult.objects.get().task_path == signature_remind.module_path
    assert Timer.objects.get().due_at > now and "not a task" in caplog.text


# Waiting costs nothing


def an_email_queued() -> None:
    tess = User(email="tess@brightwave.example", first_name="Tess")
    context = {"user": tess, "activation_url": "http://testserver/activate/x/", "expires_at": timezone.now()}
    email_queue(template="activation-link", to=[tess.email], context=context)


def a_worker() -> SweepingWorker:
    return SweepingWorker(
        sweep=lambda: None,
        sweep_every=timedelta(minutes=1),
        interval=0,
        batch=True,
        worker_id="test:1:claims",
    )


def claim_statements() -> list[tuple[str, tuple]]:
    """What one claim of a ready job sends to the database; the claim is rolled back, the job stays ready."""
    sent: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        sent.append((SAVEPOINT.sub('"savepoint"', sql), tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record), transaction.atomic():
        job, _ = a_worker().claim_next()
        assert job is not None
        transaction.set_rollback(True)
    return sent


def claim_select(statements: list[tuple[str, tuple]]) -> tuple[str, tuple]:
    return next((sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT"))


def rows_read(sql: str, params: tuple, *, scan: bool = False) -> int | list:
    """PostgreSQL: the rows the claim's SELECT reads (kept plus filtered out); SQLite: its query plan.

    `scan` makes PostgreSQL read the table row by row, whatever the planner would prefer.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if scan:
                for method in ("indexscan", "indexonlyscan", "bitmapscan"):
                    cursor.execute(f"SET LOCAL enable_{method} = off")
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            plan = plan[0]["Plan"] if isinstance(plan, list) else plan

            def walk(node: dict) -> int:
                own = node.get("Actual Rows", 0) * node.get("Actual Loops", 1) + node.get("Rows Removed by Filter", 0)
                return own + sum(walk(child) for child in node.get("Plans", []))

            return walk(plan)
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return [row[-1] for row in cursor.fetchall()]


def test_a_claim_with_100000_timers_waiting_is_the_claim_with_none(db):
    an_email_queued()
    alone = claim_statements()
    read_alone = rows_read(*claim_select(alone))

    timers_waiting(WAITING)
    beside = claim_statements()

    assert [sql for sql, _ in beside] == [sql for sql, _ in alone]
    assert rows_read(*claim_select(beside)) == read_alone
    assert not any("core_timer" in sql for sql, _ in beside)


@postgres_only
def test_the_measure_sees_jobs_waiting_in_the_queue(db):
    """The measure above is not blind: 1,000 jobs scheduled the old way, in the queue, are counted when read.

    Whether the planner reads them depends on its statistics; read row by row, every one is counted.
    """
    an_email_queued()
    with transaction.atomic():
        read_alone = rows_read(*claim_select(claim_statements()), scan=True)
    later = timezone.now() + timedelta(days=1)
    for i in range(1000):
        signature_remind.using(run_after=later).enqueue(invitation_id=i)
    with transaction.atomic():
        assert rows_read(*claim_select(claim_statements()), scan=True) >= read_alone + 1000


def test_a_poll_with_nothing_due_is_one_query(db, django_assert_num_queries):
    timers_waiting(100)
    with django_assert_num_queries(1):
        assert timers_fire() == 0


# Workers side by side


def due_timers(count: int) -> set[int]:
    now = timezone.now()
    Timer.objects.bulk_create(
        Timer(due_at=now - timedelta(seconds=i), task_path=signature_remind.module_path, kwargs={"invitation_id": i})
        for i in range(count)
    )
    return set(range(count))


def queued_invitations() -> list[int]:
    return [kwargs["kwargs"]["invitation_id"] for kwargs in DBTaskResult.objects.values_list("args_kwargs", flat=True)]


@postgres_only
def test_a_sweeper_skips_the_timers_another_is_moving(transactional_db):
    expected = due_timers(30)
    held = threading.Event()
    release = threading.Event()

    def other_sweeper():
        with transaction.atomic():
            list(Timer.objects.order_by("due_at").select_for_update()[:10])
            held.set()
            release.wait(10)
        connection.close()

    other = threading.Thread(target=other_sweeper)
    other.start()
    try:
        assert held.wait(10)
        assert timers_fire(limit=100) == 20  # the ten held are skipped, not waited for
    finally:
        release.set()
        other.join()
    assert timers_fire(limit=100) == 10
    assert sorted(queued_invitations()) == sorted(expected) and not Timer.objects.exists()


@postgres_only
def test_two_sweepers_never_queue_one_timer_twice(transactional_db):
    expected = due_timers(400)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweeper():
        try:
            start.wait(10)
            while timers_fire(limit=7):
                pass
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    queued = queued_invitations()
    assert len(queued) == len(expected) and set(queued) == expected
    assert not Timer.objects.exists()


# The upgrade: reminders scheduled before timers existed still fire


def test_jobs_scheduled_in_the_queue_before_the_upgrade_become_timers(db):
    migration = importlib.import_module("portal.core.migrations.0002_timer")
    now = timezone.now()
    later = now + timedelta(days=3)
    signature_remind.using(run_after=later).enqueue(invitation_id=1)
    signature_expire.using(run_after=later + timedelta(days=11)).enqueue(invitation_id=1)
    signature_remind.enqueue(invitation_id=2)  # ready now: stays
    signature_remind.using(run_after=now - timedelta(minutes=1)).enqueue(invitation_id=3)  # due: stays, runs
    done = signature_remind.using(run_after=later).enqueue(invitation_id=4)
    DBTaskResult.objects.filter(id=done.id).update(status="SUCCESSFUL")
    signature_remind.using(run_after=later, priority=10).enqueue(invitation_id=5)  # a timer has no priority: stays

    migration.scheduled_tasks_to_timers(apps, SimpleNamespace(connection=connection))

    assert sorted(Timer.objects.values_list("task_path", "kwargs", "due_at")) == sorted(
        [
            (signature_remind.module_path, {"invitation_id": 1}, later),
            (signature_expire.module_path, {"invitation_id": 1}, later + timedelta(days=11)),
        ]
    )
    assert sorted(queued_invitations()) == [2, 3, 4, 5]
