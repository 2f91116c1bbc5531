import hashlib
import hmac
import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

from portal.companies.models import Company
from portal.core.models import OneTimeLink
from portal.onboarding.stages import CLOSED_STAGES, Stage


class TenantRequest(models.Model):
    """A company's request for a new Microsoft tenant, and where it stands."""

    class VatCheck(models.TextChoices):
        UNCONFIRMED = "unconfirmed", gettext_lazy("Not confirmed by VIES")
        CONFIRMED = "confirmed", gettext_lazy("Confirmed by VIES")
        NOT_FOUND = "not_found", gettext_lazy("Unknown to VIES")
        NOT_APPLICABLE = "not_applicable", gettext_lazy("Outside the EU (no VIES)")

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="tenant_requests")
    company_snapshot = models.JSONField(
        default=dict,
        help_text=gettext_lazy(
            "The company as this request states it (submitted, corrected, then validated). The agreement and "
            "provisioning use it; the shared company record takes it only when staff validate."
        ),
    )
    technical_contact = models.ForeignKey("companies.Contact", on_delete=models.PROTECT, related_name="+")
    commercial_contact = models.ForeignKey("companies.Contact", on_delete=models.PROTECT, related_name="+")
    domain_prefix = models.CharField(max_length=27)
    display_name = models.CharField(max_length=100)
    tenant_country = models.CharField(max_length=2)
    stage = models.CharField(max_length=24, choices=Stage.choices, default=Stage.TO_VALIDATE, db_index=True)
    stage_changed_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    terms_version = models.CharField(max_length=20)
    language = models.CharField(
        max_length=2,
        choices=settings.LANGUAGES,
        default="en",
        help_text=gettext_lazy("The contacts' language: their e-mails and the agreement are written in it."),
    )
    terms_accepted_at = models.DateTimeField()
    vat_check = models.CharField(max_length=16, choices=VatCheck.choices, default=VatCheck.UNCONFIRMED)
    vat_checked_at = models.DateTimeField(null=True, blank=True)
    vat_registered_name = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    provisioning_attempts = models.PositiveSmallIntegerField(default=0)
    provisioning_error = models.TextField(
        blank=True, help_text=gettext_lazy("Why the last provisioning attempt failed, for staff.")
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open request per prefix, enforced by the database even under races.
            models.UniqueConstraint(
                fields=["domain_prefix"],
                condition=~Q(stage__in=sorted(s.value for s in CLOSED_STAGES)),
                name="tenantrequest_open_prefix_unique",
            ),
        ]
        indexes = [models.Index(fields=["stage", "stage_changed_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.domain_prefix}.onmicrosoft.com ({self.get_stage_display()})"

    @property
    def domain(self) -> str:
        return f"{self.domain_prefix}.onmicrosoft.com"

    @property
    def applicant(self) -> "Company":
        """The company as this request states it: an unsaved Company built from the snapshot."""
        return Company(pk=self.company_id, **self.company_snapshot)


def audit_mac(purpose: str, payload: dict) -> str:
    """HMAC-SHA256 of a canonical JSON payload under AUDIT_KEY, a key kept out of the database."""
    message = purpose.encode() + b"\n" + _canonical(payload)
    return hmac.new(settings.AUDIT_KEY.encode(), message, hashlib.sha256).hexdigest()


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


class TimelineEntry(models.Model):
    """One event in a request's life. Append-only; each entry's keyed hash covers the one before it."""

    class Kind(models.TextChoices):
        STAGE = "stage", pgettext_lazy("timeline entry kind", "Stage change")
        EMAIL = "email", pgettext_lazy("timeline entry kind", "E-mail")
        NOTE = "note", pgettext_lazy("timeline entry kind", "Note")

    request = models.ForeignKey(TenantRequest, on_delete=models.PROTECT, related_name="timeline")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, help_text=gettext_lazy("Who acted, as shown (kept if the user goes).")
    )
    from_stage = models.CharField(max_length=24, blank=True)
    to_stage = models.CharField(max_length=24, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["request", "seq"]
        verbose_name_plural = gettext_lazy("timeline entries")
        constraints = [models.UniqueConstraint(fields=["request", "seq"], name="timeline_seq_unique")]

    def __str__(self) -> str:
        return f"{self.request_id}#{self.seq} {self.kind} {self.message[:40]}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Timeline entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise ValueError("Timeline entries are append-only.")

    def compute_hash(self) -> str:
        """The entry's keyed hash: without AUDIT_KEY nobody can rewrite an entry and recompute the chain."""
        return audit_mac("timeline-entry", self._payload())

    def compute_unkeyed_hash(self) -> str:
        """The plain SHA-256 hash entries carried before the chain was keyed; tells such entries apart."""
        return hashlib.sha256(_canonical(self._payload())).hexdigest()

    def _payload(self) -> dict:
        return {
            "request": self.request_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor_id,
            "actor_label": self.actor_label,
            "from": self.from_stage,
            "to": self.to_stage,
            "message": self.message,
            "data": self.data,
            "prev": self.prev_hash,
        }


class TimelineHead(models.Model):
    """Where a request's timeline ends: its last entry's number and hash, under a keyed MAC.

    Written in the same transaction as each entry, so a deleted last entry or a deleted timeline leaves the
    head pointing past the chain's end, and a head moved back to match needs the key.
    """

    request = models.OneToOneField(
        TenantRequest, on_delete=models.PROTECT, primary_key=True, related_name="timeline_head"
    )
    seq = models.PositiveIntegerField()
    hash = models.CharField(max_length=64)
    rebuilt_at = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=gettext_lazy("The entry appended when this head was missing or did not verify; kept for good."),
    )
    mac = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.request_id}#{self.seq}"

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise ValueError("A timeline head is never deleted.")

    def compute_mac(self) -> str:
        return audit_mac(
            "timeline-head",
            {"request": self.request_id, "seq": self.seq, "hash": self.hash, "rebuilt_at": self.rebuilt_at},
        )

    def is_authentic(self) -> bool:
        return hmac.compare_digest(self.compute_mac(), self.mac)


class RequestLink(OneTimeLink):
    """A link e-mailed about a request: the correction link (single use) or the progress link (read only)."""

    class Purpose(models.TextChoices):
        CORRECTION = "correction", gettext_lazy("Correct the request")
        PROGRESS = "progress", gettext_lazy("Follow progress")

    request = models.ForeignKey(TenantRequest, on_delete=models.CASCADE, related_name="links")
    purpose = models.CharField(max_length=12, choices=Purpose.choices)

    def __str__(self) -> str:
        return f"{self.purpose} link for request {self.request_id}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying an Idempotency-Key, replayed for a retry of the same body."""

    key = models.CharField(max_length=255, unique=True)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.key
