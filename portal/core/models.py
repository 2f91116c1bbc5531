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

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


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
