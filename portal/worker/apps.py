from django.apps import AppConfig


class WorkerConfig(AppConfig):
    """The worker process: `manage.py run_worker`, its loop, and the sweep that recovers what dead workers left."""

    name = "portal.worker"
    label = "worker"
