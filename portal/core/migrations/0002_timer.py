"""Timers: jobs for later wait in their own table. The reminders, expiries and retries that the task queue
already holds for later (scheduled with `run_after` before this version) move there, so they still fire."""

import uuid

import django.utils.timezone
from django.db import migrations, models
from django.tasks.base import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_PRIORITY, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.models import get_date_max

BATCH = 2000


def scheduled_tasks_to_timers(apps, schema_editor):
    """Every waiting job of the queue (READY, due in the future) becomes a timer due at the same time.

    Jobs a timer could not reproduce as they are (positional arguments, another queue, priority or backend) stay
    in the queue and run as before. Rows a worker holds at this moment are skipped, so none is run twice.
    """
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    Timer = apps.get_model("core", "Timer")
    db = schema_editor.connection.alias
    scheduled = list(
        DBTaskResult.objects.using(db)
        .select_for_update(skip_locked=True)
        .filter(
            status="READY",
            run_after__gt=django.utils.timezone.now(),
            queue_name=DEFAULT_TASK_QUEUE_NAME,
            priority=DEFAULT_TASK_PRIORITY,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        )
        .exclude(run_after=get_date_max())
        .values_list("id", "run_after", "task_path", "args_kwargs")
    )
    movable = [row for row in scheduled if not row[3].get("args")]
    for start in range(0, len(movable), BATCH):
        batch = movable[start : start + BATCH]
        Timer.objects.using(db).bulk_create(
            Timer(due_at=run_after, task_path=task_path, kwargs=args_kwargs.get("kwargs") or {})
            for _, run_after, task_path, args_kwargs in batch
        )
        DBTaskResult.objects.using(db).filter(id__in=[row[0] for row in batch]).delete()


def timers_to_scheduled_tasks(apps, schema_editor):
    """Back to the queue: every timer becomes a job of the queue with `run_after` at its due time."""
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    Timer = apps.get_model("core", "Timer")
    db = schema_editor.connection.alias
    DBTaskResult.objects.using(db).bulk_create(
        (
            DBTaskResult(
                id=uuid.uuid4(),
                status="READY",
                args_kwargs={"args": [], "kwargs": timer.kwargs},
                priority=DEFAULT_TASK_PRIORITY,
                task_path=timer.task_path,
                queue_name=DEFAULT_TASK_QUEUE_NAME,
                backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                run_after=timer.due_at,
                worker_ids=[],
                exception_class_path="",
                traceback="",
            )
            for timer in Timer.objects.using(db).iterator(chunk_size=BATCH)
        ),
        batch_size=BATCH,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_rate_counter"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.CreateModel(
            name="Timer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("due_at", models.DateTimeField(db_index=True)),
                ("task_path", models.CharField(max_length=200)),
                ("kwargs", models.JSONField(default=dict)),
                ("key", models.CharField(blank=True, max_length=200, null=True, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.RunPython(scheduled_tasks_to_timers, timers_to_scheduled_tasks),
    ]
