"""Licences under New Commerce: the company's subscriptions at Microsoft, and the changes asked of them.

A change (a purchase, seats added or removed, a cancellation, auto-renew, a change scheduled for the renewal) is a
`ChangeRequest`: asked by a member, approved when the member's role needs it, then submitted to Microsoft by the
worker with one `MS-RequestId` for all its retries. Its status moves only through `portal.licences.changes`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy


class Subscription(models.Model):
    """A subscription of one of the company's tenants, as Microsoft last reported it (synced, never guessed)."""

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="subscriptions")
    tenant = models.ForeignKey("provisioning.Tenant", on_delete=models.PROTECT, related_name="subscriptions")
    pc_id = models.CharField(max_length=64, unique=True, help_text=gettext_lazy("Microsoft's subscription id."))
    order_id = models.CharField(max_length=64, blank=True)
    catalog_item_id = models.CharField(max_length=100)
    product_id = models.CharField(max_length=30)
    sku_id = models.CharField(max_length=30)
    friendly_name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=20)  # Microsoft's: active, pending, suspended, expired, disabled, deleted
    term_duration = models.CharField(max_length=10)  # P1M, P1Y, P3Y
    billing_cycle = models.CharField(max_length=20)  # monthly, annual, triennial
    auto_renew = models.BooleanField(default=True)
    effective_start = models.DateTimeField(null=True, blank=True)
    commitment_end = models.DateTimeField(null=True, blank=True)
    cancellation_allowed_until = models.DateTimeField(null=True, blank=True)
    refundable_quantity = models.PositiveIntegerField(default=0)
    refund_options = models.JSONField(default=list, blank=True)
    scheduled_next_term = models.JSONField(null=True, blank=True)
    scheduled_cleared_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When a mid-term change cleared the change scheduled for renewal."),
    )
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["friendly_name", "pk"]
        indexes = [models.Index(fields=["company", "status"])]

    def __str__(self) -> str:
        return f"{self.friendly_name} × {self.quantity}"


class ChangeRequest(models.Model):
    class Kind(models.TextChoices):
        PURCHASE = "purchase", pgettext_lazy("licence change", "Purchase")
        ADD_SEATS = "add_seats", pgettext_lazy("licence change", "Add seats")
        REMOVE_SEATS = "remove_seats", pgettext_lazy("licence change", "Remove seats")
        CANCEL = "cancel", pgettext_lazy("licence change", "Cancel")
        AUTO_RENEW = "auto_renew", pgettext_lazy("licence change", "Auto-renew")
        SCHEDULE = "schedule", pgettext_lazy("licence change", "Change at renewal")

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", pgettext_lazy("licence change status", "Waiting for approval")
        APPROVED = "approved", pgettext_lazy("licence change status", "Approved")
        SUBMITTING = "submitting", pgettext_lazy("licence change status", "Sending to Microsoft")
        SUCCEEDED = "succeeded", pgettext_lazy("licence change status", "Done")
        FAILED = "failed", pgettext_lazy("licence change status", "Failed")
        REJECTED = "rejected", pgettext_lazy("licence change status", "Refused")

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="licence_changes")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    payload = models.JSONField(default=dict, help_text=gettext_lazy("What is asked, as the API takes it."))
    status = models.CharField(max_length=20, choices=Status.choices)
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text=gettext_lazy("Estimated, excluding VAT.")
    )
    currency = models.CharField(max_length=3, blank=True)
    acknowledged_text = models.TextField(blank=True, help_text=gettext_lazy("The commitment, as the buyer ticked it."))
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, help_text="MS-RequestId of every attempt")
    pc_cart_id = models.CharField(max_length=64, blank=True)
    pc_order_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["company", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.get_status_display()})"


class Order(models.Model):
    """An order Microsoft created for a purchase: its id is unique, so one checkout never stores two."""

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="licence_orders")
    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="orders")
    pc_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.pc_id


class LicencePolicy(models.Model):
    """A company's rule for approvals: a change asked by a technical member below this amount needs no approval."""

    company = models.OneToOneField("companies.Company", on_delete=models.CASCADE, related_name="licence_policy")
    auto_approve_below = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.company}: {self.auto_approve_below}"


class LicenceEvent(models.Model):
    """The company's licence timeline: what was asked, decided, sent and what Microsoft answered (English)."""

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="licence_events")
    change = models.ForeignKey(ChangeRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return self.message


class RenewalNotice(models.Model):
    """A notice sent once: 30 or 7 days before renewal, or a removal window about to close."""

    class Kind(models.TextChoices):
        DAYS_30 = "30d", gettext_lazy("30 days before renewal")
        DAYS_7 = "7d", gettext_lazy("7 days before renewal")
        WINDOW_CLOSING = "window_closing", gettext_lazy("Removal window closing")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    term_end = models.DateTimeField(help_text=gettext_lazy("The renewal (or window end) the notice is about."))
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "kind", "term_end"], name="licences_notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.subscription} {self.kind}"
