from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy


class Tenant(models.Model):
    """The Microsoft tenant created for a request."""

    request = models.OneToOneField("onboarding.TenantRequest", on_delete=models.PROTECT, related_name="tenant")
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="tenants")
    customer_id = models.CharField(
        max_length=64, unique=True, help_text=gettext_lazy("Microsoft's customer (tenant) id.")
    )
    domain = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    agreement_accepted_at = models.DateTimeField(
        null=True, blank=True, help_text=gettext_lazy("Microsoft Customer Agreement recorded.")
    )
    admin_user = models.CharField(max_length=200, blank=True)
    admin_secret = models.BinaryField(
        null=True, blank=True, help_text=gettext_lazy("Initial admin password, encrypted; wiped once shown.")
    )
    admin_secret_shown_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.domain


class SimulatedCustomer(models.Model):
    """The `simulated` provisioner's stand-in for Partner Center's customers, kept in the database."""

    customer_id = models.CharField(max_length=64, unique=True)
    domain = models.CharField(max_length=100, unique=True)
    company_name = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    agreement_accepted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.domain


class SimulatedBillingProfile(models.Model):
    """The `simulated` provisioner's billing profile of a customer: the resource as Partner Center keeps it, and
    an ETag that changes on every write."""

    customer_id = models.CharField(max_length=64, unique=True)
    resource = models.JSONField(default=dict)
    etag = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"billing profile of {self.customer_id}"


class SimulatedCart(models.Model):
    """The `simulated` provisioner's carts: the lines as sent, and once checked out the orders and subscriptions it
    made (Partner Center's resources). A repeated request id finds the same cart."""

    cart_id = models.CharField(max_length=64, unique=True)
    customer_id = models.CharField(max_length=64)
    request_id = models.CharField(max_length=100, unique=True)
    lines = models.JSONField(default=list)
    orders = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"cart {self.cart_id}"


class BillingProfileSync(models.Model):
    """Where Microsoft's billing profile of a tenant's customer stands against the company in the portal.

    `synced` holds the values both sides last agreed on, field by field (Partner Center's names, as in
    BILLING_PROFILE_FIELDS): a field that differs from it changed on that side since.
    """

    class Status(models.TextChoices):
        OK = "ok", pgettext_lazy("billing profile status", "Synced")
        CONFLICT = "conflict", pgettext_lazy("billing profile status", "Conflict")
        FAILED = "failed", pgettext_lazy("billing profile status", "Failed")

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="billing_profile_sync")
    synced = models.JSONField(default=dict, blank=True)
    etag = models.CharField(
        max_length=200, blank=True, help_text=gettext_lazy("Microsoft's ETag of the profile as last read.")
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK, db_index=True)
    conflicts = models.JSONField(
        default=dict,
        blank=True,
        help_text=gettext_lazy('Changed on both sides: {field: {"portal", "microsoft", "synced"}}.'),
    )
    differences = models.JSONField(
        default=dict,
        blank=True,
        help_text=gettext_lazy('Changed only at Microsoft, kept there: {field: {"portal", "microsoft"}}.'),
    )
    last_error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text=gettext_lazy("Failed attempts in a row."))
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"billing profile of {self.tenant} ({self.get_status_display()})"


class SimulatedSubscription(models.Model):
    """The `simulated` provisioner's subscription: Microsoft's resource, and when each addition of seats may still
    be removed (`additions`: [{"quantity", "until"}], as the Partner Center fake models it)."""

    customer_id = models.CharField(max_length=64, db_index=True)
    subscription_id = models.CharField(max_length=64, unique=True)
    resource = models.JSONField(default=dict)
    additions = models.JSONField(default=list)
    request_ids = models.JSONField(default=list, help_text="MS-RequestIds already applied")

    def __str__(self) -> str:
        return self.subscription_id
