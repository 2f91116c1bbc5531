from django.db import models
from django.utils import timezone


class OneTimeLink(models.Model):
    """A link e-mailed to someone: 256-bit token kept only as its SHA-256, expiring, dead once used or withdrawn."""

    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def dead_because(self, now=None) -> str:
        """Why the link opens nothing: "used", "revoked" or "expired"; "" while it is live."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if (now or timezone.now()) >= self.expires_at else ""

    def is_live(self, now=None) -> bool:
        return not self.dead_because(now)


class RateCounter(models.Model):
    """Attempts counted in one fixed window of one rate limit, for one client address or one (hashed) e-mail address.

    Shared by every web process through the database; `portal.core.ratelimit` counts with one atomic upsert
    and deletes the rows of windows that have closed.
    """

    bucket = models.CharField(max_length=200, unique=True)  # "<limit>:<ip|email>:<who>:<window number>"
    hits = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)  # the end of the window

    def __str__(self) -> str:
        return f"{self.bucket}: {self.hits}"


class Timer(models.Model):
    """A job to run later (a reminder, an expiry, a retry after a back-off), waiting here until it is due.

    Waiting timers live outside the task queue, so that however many wait, claiming a ready job costs the same;
    `portal.core.timers` sets them and moves the due ones into the queue as jobs.
    """

    due_at = models.DateTimeField(db_index=True)
    task_path = models.CharField(max_length=200)  # the task's import path, e.g. "portal.agreements.tasks.…"
    kwargs = models.JSONField(default=dict)
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)  # at most one waiting timer per key
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.task_path}({self.kwargs}) at {self.due_at:%Y-%m-%d %H:%M:%S}"
