"""Microsoft's price sheets as imported, and the reseller's rules that turn a cost into a selling price.

Rows are keyed by Microsoft's product and SKU ids (strings), not by the catalogue's tables: a sheet is stored as
Microsoft sent it, whatever the catalogue holds at the time.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy


class PriceSheet(models.Model):
    """One file of Microsoft's licence-based price list, as downloaded (identical files are stored once)."""

    class Timeline(models.TextChoices):
        CURRENT = "current", pgettext_lazy("price sheet", "This month")
        FUTURE = "future", pgettext_lazy("price sheet", "Next month")

    market = models.CharField(max_length=2)
    view = models.CharField(max_length=40, default="updatedlicensebased")
    timeline = models.CharField(max_length=10, choices=Timeline.choices)
    month = models.DateField(help_text=gettext_lazy("The first day of the month the sheet is for."))
    fetched_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(
        default=timezone.now, help_text=gettext_lazy("The last time Microsoft sent this same file.")
    )
    sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["market", "view", "timeline", "sha256"], name="price_sheet_once")
        ]
        indexes = [models.Index(fields=["market", "timeline", "-checked_at"], name="price_sheet_latest")]

    def __str__(self) -> str:
        return f"{self.market} {self.timeline} {self.month:%Y-%m} ({self.sha256[:12]})"


class PriceRow(models.Model):
    """One line of a sheet: the partner's cost (UnitPrice, for the whole term) and Microsoft's ERP price."""

    sheet = models.ForeignKey(PriceSheet, on_delete=models.CASCADE, related_name="rows")
    product_id = models.CharField(max_length=40)
    sku_id = models.CharField(max_length=40)
    product_title = models.CharField(max_length=300, blank=True)
    sku_title = models.CharField(max_length=300, blank=True)
    term_duration = models.CharField(max_length=10)  # P1M, P1Y, P3Y
    billing_plan = models.CharField(max_length=20)  # Monthly, Annual, None (trials)
    market = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    erp_price = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    tier_min = models.PositiveIntegerField(null=True, blank=True)
    tier_max = models.PositiveIntegerField(null=True, blank=True)
    effective_start = models.DateField()
    effective_end = models.DateField()
    end_of_sale = models.DateField(null=True, blank=True)
    tags = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["product_id", "sku_id", "term_duration", "billing_plan"], name="price_row_offer")
        ]

    def __str__(self) -> str:
        return f"{self.product_id}:{self.sku_id} {self.term_duration}/{self.billing_plan} {self.unit_price}"


class PriceRule(models.Model):
    """How the reseller sells: Microsoft's ERP price, or the cost plus a percentage; the most specific rule wins."""

    class Scope(models.TextChoices):
        GLOBAL = "global", gettext_lazy("Every product, every company")
        PRODUCT = "product", gettext_lazy("One product, every company")
        COMPANY = "company", gettext_lazy("Every product, one company")
        COMPANY_PRODUCT = "company_product", gettext_lazy("One product, one company")

    class Kind(models.TextChoices):
        ERP = "erp", gettext_lazy("Microsoft's ERP price")
        COST_PLUS_PCT = "cost_plus_pct", gettext_lazy("Cost plus a percentage")

    scope = models.CharField(max_length=20, choices=Scope.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.DecimalField(
        max_digits=7, decimal_places=2, default=0, help_text=gettext_lazy("The percentage added to the cost.")
    )
    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, null=True, blank=True, related_name="price_rules"
    )
    product_id = models.CharField(max_length=40, blank=True, help_text=gettext_lazy("Empty: every product."))
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="global", company__isnull=True, product_id="")
                    | Q(scope="product", company__isnull=True) & ~Q(product_id="")
                    | Q(scope="company", company__isnull=False, product_id="")
                    | Q(scope="company_product", company__isnull=False) & ~Q(product_id="")
                ),
                name="price_rule_scope_matches",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=-100) & Q(value__lte=1000), name="price_rule_percentage_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.kind} {self.value}"


class PriceSheetImport(models.Model):
    """One attempt to download and import a sheet: what staff read on the prices page."""

    class Outcome(models.TextChoices):
        IMPORTED = "imported", gettext_lazy("Imported")
        UNCHANGED = "unchanged", gettext_lazy("Unchanged")
        FAILED = "failed", gettext_lazy("Failed")

    timeline = models.CharField(max_length=10, choices=PriceSheet.Timeline.choices)
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    message = models.TextField(blank=True)
    sheet = models.ForeignKey(PriceSheet, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["timeline", "-at"], name="price_import_latest")]

    def __str__(self) -> str:
        return f"{self.timeline} {self.outcome} at {self.at:%Y-%m-%d %H:%M}"
