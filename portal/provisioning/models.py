from django.db import models
from django.utils import timezone


class Tenant(models.Model):
    """The Microsoft tenant created for a request."""

    request = models.OneToOneField("onboarding.TenantRequest", on_delete=models.PROTECT, related_name="tenant")
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="tenants")
    customer_id = models.CharField(max_length=64, unique=True, help_text="Microsoft's customer (tenant) id.")
    domain = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    agreement_accepted_at = models.DateTimeField(
        null=True, blank=True, help_text="Microsoft Customer Agreement recorded."
    )
    admin_user = models.CharField(max_length=200, blank=True)
    admin_secret = models.BinaryField(
        null=True, blank=True, help_text="Initial admin password, encrypted; wiped once shown."
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
