from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy


class OutboundEmail(models.Model):
    """One e-mail to send: rendered when the change that causes it commits, sent by the worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("e-mail status", "Queued")
        SENDING = "sending", pgettext_lazy("e-mail status", "Sending")
        SENT = "sent", pgettext_lazy("e-mail status", "Sent")
        FAILED = "failed", pgettext_lazy("e-mail status", "Failed")

    request = models.ForeignKey(
        "onboarding.TenantRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    template = models.CharField(max_length=60)
    language = models.CharField(
        max_length=2, default="en", help_text=gettext_lazy("The language it is written in: its recipient's.")
    )
    from_email = models.CharField(max_length=254)
    to = models.JSONField(help_text=gettext_lazy("List of recipient addresses."))
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField()
    message_id = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(
        max_length=100,
        blank=True,
        help_text=gettext_lazy("The last claim to send it (host:pid:random); only that claim may record the outcome."),
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.template} to {', '.join(self.to)} ({self.status})"


class CapturedEmail(models.Model):
    """In development (DEBUG on, no EMAIL_URL) mail lands here and shows at /dev/mailbox/."""

    message_id = models.CharField(max_length=200)
    from_email = models.CharField(max_length=254)
    to = models.JSONField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    raw = models.TextField()
    captured_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-captured_at"]

    def __str__(self) -> str:
        return self.subject


class OutboundAttachment(models.Model):
    email = models.ForeignKey(OutboundEmail, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=200)
    mimetype = models.CharField(max_length=100, default="application/pdf")
    content = models.BinaryField()

    def __str__(self) -> str:
        return self.filename
