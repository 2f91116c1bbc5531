from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

from portal.companies.countries import country_name
from portal.core.models import OneTimeLink

# What a company states about itself when it asks for a tenant; a request keeps its own copy of these.
COMPANY_DETAILS = (
    "legal_name",
    "vat_number",
    "registry_number",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "phone",
    "website",
)


class Company(models.Model):
    """A customer of the reseller, as it registered."""

    legal_name = models.CharField(max_length=200)
    vat_number = models.CharField(
        max_length=20, db_index=True, help_text=gettext_lazy("Compact form with country prefix.")
    )
    registry_number = models.CharField(
        max_length=30, blank=True, help_text=gettext_lazy("E.g. the Belgian KBO/BCE number.")
    )
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=20)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2)
    phone = models.CharField(max_length=20, help_text="E.164")
    website = models.URLField(blank=True)
    require_mfa = models.BooleanField(
        gettext_lazy("requires two-step sign-in"),
        default=False,
        help_text=gettext_lazy(
            "Every member must have an authenticator app or a passkey to open the company's pages and API."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = gettext_lazy("companies")
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.legal_name

    def details(self) -> dict[str, str]:
        return {field: getattr(self, field) for field in COMPANY_DETAILS}

    @property
    def address_lines(self) -> list[str]:
        return [
            line
            for line in (
                self.address_line1,
                self.address_line2,
                f"{self.postal_code} {self.city}",
                country_name(self.country),
            )
            if line.strip()
        ]


class Contact(models.Model):
    class Kind(models.TextChoices):
        TECHNICAL = "technical", gettext_lazy("Technical")
        COMMERCIAL = "commercial", gettext_lazy("Commercial")
        BILLING = "billing", gettext_lazy("Billing")
        OTHER = "other", pgettext_lazy("kind of contact", "Other")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OTHER)
    removed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("Removed from the company's contacts; kept for the requests that name it."),
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    phone = models.CharField(max_length=20, help_text="E.164")
    job_title = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [models.UniqueConstraint(fields=["company", "email"], name="contact_unique_email_per_company")]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Membership(models.Model):
    """A user's access to a company in the portal."""

    class Role(models.TextChoices):
        ADMIN = "admin", gettext_lazy("Administrator")
        BILLING = "billing", gettext_lazy("Billing")
        TECHNICAL = "technical", gettext_lazy("Technical")
        READONLY = "readonly", gettext_lazy("Read-only")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.READONLY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "company"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company}"


class Invitation(OneTimeLink):
    """An administrator's invitation to join the company with a role: accepted once, by the account with this
    e-mail address (or by the person who creates it)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.company}"


class ProfileChange(models.Model):
    """A member's request to change the company's legal identity (legal name, VAT number): the agreement and the
    tenant were made for the old one, so staff accept or refuse it. One pending request per company at a time."""

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Waiting for the reseller")
        APPLIED = "applied", gettext_lazy("Accepted and applied")
        REFUSED = "refused", gettext_lazy("Refused")
        WITHDRAWN = "withdrawn", gettext_lazy("Withdrawn")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="profile_changes")
    changes = models.JSONField(help_text=gettext_lazy('{field: {"old": …, "new": …}} for the fields that change.'))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="profile_changes_requested"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text=gettext_lazy("Why staff refused it; the requester reads it."))

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(status="pending"), name="profile_change_one_pending"
            )
        ]

    def __str__(self) -> str:
        return f"change of {', '.join(self.changes)} for {self.company} ({self.status})"

    def rows(self) -> list[tuple[str, str, str]]:
        """(label, old, new) per field, for pages and e-mails."""
        return [
            (IDENTITY_LABELS.get(field, field), value["old"], value["new"]) for field, value in self.changes.items()
        ]


IDENTITY_LABELS = {
    "legal_name": gettext_lazy("Legal name"),
    "vat_number": gettext_lazy("VAT number"),
    "registry_number": gettext_lazy("Company number"),
}
