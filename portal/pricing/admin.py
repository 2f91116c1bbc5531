from django.contrib import admin

from portal.pricing.models import PriceRow, PriceRule, PriceSheet, PriceSheetImport


@admin.register(PriceSheet)
class PriceSheetAdmin(admin.ModelAdmin):
    """Raw data: sheets are written by the import job only."""

    list_display = ["market", "timeline", "month", "fetched_at", "checked_at", "row_count", "sha256"]
    list_filter = ["market", "timeline"]
    readonly_fields = ["fetched_at", "checked_at", "sha256", "row_count"]


@admin.register(PriceRow)
class PriceRowAdmin(admin.ModelAdmin):
    list_display = [
        "product_id",
        "sku_id",
        "product_title",
        "term_duration",
        "billing_plan",
        "currency",
        "unit_price",
        "erp_price",
        "effective_start",
        "effective_end",
    ]
    list_filter = ["term_duration", "billing_plan", "currency"]
    search_fields = ["product_id", "sku_id", "product_title"]
    raw_id_fields = ["sheet"]


@admin.register(PriceRule)
class PriceRuleAdmin(admin.ModelAdmin):
    """Staff edit rules on /backoffice/prices/, where they are validated; this is the raw table."""

    list_display = ["scope", "kind", "value", "company", "product_id", "valid_from", "valid_to"]
    list_filter = ["scope", "kind"]
    raw_id_fields = ["company"]


@admin.register(PriceSheetImport)
class PriceSheetImportAdmin(admin.ModelAdmin):
    list_display = ["timeline", "at", "outcome", "sheet"]
    list_filter = ["timeline", "outcome"]
    raw_id_fields = ["sheet"]
