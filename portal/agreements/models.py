from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

from portal.core.models import OneTimeLink


class Agreement(models.Model):
    """The service agreement of one request, as sent (immutable) and, once signed, sealed with its evidence."""

    class Status(models.TextChoices):
        SENT = "sent", pgettext_lazy("agreement status", "Awaiting signature")
        SIGNED = "signed", pgettext_lazy("agreement status", "Signed")
        DECLINED = "declined", pgettext_lazy("agreement status", "Declined")
        EXPIRED = "expired", pgettext_lazy("agreement status", "Expired unsigned")
        WITHDRAWN = "withdrawn", pgettext_lazy("agreement status", "Withdrawn")

    request = models.ForeignKey("onboarding.TenantRequest", on_delete=models.PROTECT, related_name="agreements")
    version = models.CharField(
        max_length=20, help_text=gettext_lazy("Template version the agreement was rendered from.")
    )
    language = models.CharField(
        max_length=2,
        choices=settings.LANGUAGES,
        default="en",
        help_text=gettext_lazy("The language of the text that was sent and signed."),
    )
    html = models.TextField(
        help_text=gettext_lazy("The agreement as rendered when sent; the signed PDF is made from it.")
    )
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT)
    created_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)
    signer_name = models.CharField(max_length=200, blank=True)
    signer_title = models.CharField(max_length=200, blank=True)
    signer_email = models.EmailField(blank=True)
    signer_ip = models.GenericIPAddressField(null=True, blank=True)
    signer_user_agent = models.CharField(max_length=500, blank=True)
    consent_text = models.TextField(blank=True)
    consent_version = models.CharField(max_length=20, blank=True)
    signed_pdf = models.BinaryField(null=True, blank=True)
    signed_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Agreement {self.version} of request #{self.request_id} ({self.get_status_display()})"

    @property
    def filename(self) -> str:
        return f"service-agreement-{self.request_id}-{self.version}.pdf"

    @property
    def signed_filename(self) -> str:
        return f"service-agreement-{self.request_id}-{self.version}-signed.pdf"


class SigningInvitation(OneTimeLink):
    """A personal link for the commercial contact to sign; resending makes a new one and kills the old."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="invitations")
    signer_email = models.EmailField()
    first_opened_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_tries_left = models.PositiveSmallIntegerField(default=0)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(default=0)
    code_verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation to {self.signer_email} for agreement {self.agreement_id}"
