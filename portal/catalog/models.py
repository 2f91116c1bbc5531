"""Microsoft's catalogue as the portal last read it, and the reseller's choice of what customers see.

Products, SKUs and availabilities are Partner Center's (the daily sync writes them); a `Listing` is the
reseller's own. Nothing read from Microsoft is deleted: an availability Microsoft no longer returns stays, not
current, because orders and subscriptions may name its catalogItemId.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

LANGUAGE_CHOICES = settings.LANGUAGES


def _in_language(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


class Product(models.Model):
    """A product of Microsoft's licence-based (New Commerce) catalogue."""

    product_id = models.CharField(max_length=40, unique=True, help_text=gettext_lazy("Microsoft's product id."))
    product_type = models.CharField(max_length=60, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    is_offered = models.BooleanField(
        default=True, help_text=gettext_lazy("Microsoft returned the product at the last sync.")
    )
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product_id"]

    def __str__(self) -> str:
        return self.product_id

    def title(self, language: str) -> str:
        """The title in `language`, else in English (the texts are prefetched by the pages that list products)."""
        return _in_language({t.language: t.title for t in self.texts.all()}, language) or self.product_id

    def description(self, language: str) -> str:
        return _in_language({t.language: t.description for t in self.texts.all()}, language)


class ProductText(models.Model):
    """A product's title and description in one language, as Partner Center gives them for its X-Locale."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "language"], name="catalog_product_text_once")]

    def __str__(self) -> str:
        return f"{self.product_id} ({self.language})"


class Sku(models.Model):
    """A SKU of a product; its titles and descriptions by language ({"en": …, "nl": …, "fr": …})."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    sku_id = models.CharField(max_length=20)
    titles = models.JSONField(default=dict)
    descriptions = models.JSONField(default=dict)
    min_quantity = models.PositiveIntegerField(default=1)
    max_quantity = models.PositiveIntegerField(default=1)
    is_trial = models.BooleanField(default=False)
    billing_cycles = models.JSONField(default=list, help_text=gettext_lazy('As Microsoft names them: "monthly".'))
    provisioning_variables = models.JSONField(default=list, blank=True)
    prerequisites = models.JSONField(default=list, blank=True)
    raw = models.JSONField(default=dict, help_text=gettext_lazy("Partner Center's resource, in English."))
    is_offered = models.BooleanField(default=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product__product_id", "sku_id"]
        constraints = [models.UniqueConstraint(fields=["product", "sku_id"], name="catalog_sku_once")]

    def __str__(self) -> str:
        return f"{self.product.product_id}:{self.sku_id}"

    def title(self, language: str) -> str:
        return _in_language(self.titles, language) or self.sku_id

    def description(self, language: str) -> str:
        return _in_language(self.descriptions, language)


class Availability(models.Model):
    """What can be bought of a SKU in a country, on which terms; a cart line names its `catalog_item_id`.

    Microsoft replaces availabilities (a new id, so a new catalogItemId) from time to time: the sync then marks
    the old one not current and keeps it.
    """

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="availabilities")
    availability_id = models.CharField(max_length=40)
    catalog_item_id = models.CharField(
        max_length=120, unique=True, help_text=gettext_lazy('"PRODUCT:SKU:AVAILABILITY", as a cart line names it.')
    )
    country = models.CharField(max_length=2)
    segment = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    is_purchasable = models.BooleanField(default=True)
    is_renewable = models.BooleanField(default=True)
    terms = models.JSONField(
        default=list,
        help_text=gettext_lazy(
            "Microsoft's terms: duration, billingCycle, cancellationPolicies with their refundOptions."
        ),
    )
    raw = models.JSONField(default=dict)
    is_current = models.BooleanField(
        default=True, help_text=gettext_lazy("Returned by Microsoft at the last sync: the one to buy.")
    )
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "availabilities"
        indexes = [models.Index(fields=["sku", "country", "is_current"], name="catalog_availability_current")]

    def __str__(self) -> str:
        return self.catalog_item_id


class Listing(models.Model):
    """The reseller's choice: whether customers see a product, and where in the list.

    Kept on the product, not on an availability, so that the choice survives Microsoft replacing an
    availability id.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="listing")
    visible = models.BooleanField(default=False)
    sort = models.PositiveIntegerField(default=0, help_text=gettext_lazy("Lower first; then by title."))
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["sort", "product__product_id"]

    def __str__(self) -> str:
        return f"{self.product_id}: {'visible' if self.visible else 'hidden'}"


class CatalogSync(models.Model):
    """One run of the catalogue sync: when, how it ended, and what it read."""

    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("catalogue sync status", "Running")
        SUCCEEDED = "succeeded", pgettext_lazy("catalogue sync status", "Succeeded")
        FAILED = "failed", pgettext_lazy("catalogue sync status", "Failed")

    country = models.CharField(max_length=2)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    message = models.TextField(blank=True, help_text=gettext_lazy("Why it failed, in plain words."))
    retryable = models.BooleanField(default=False, help_text=gettext_lazy("The failure may pass: tried again soon."))
    products = models.PositiveIntegerField(default=0)
    skus = models.PositiveIntegerField(default=0)
    availabilities = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"catalogue sync {self.country} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
