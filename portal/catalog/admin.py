from django.contrib import admin

from portal.catalog.models import Availability, CatalogSync, Listing, Product, ProductText, Sku


class ProductTextInline(admin.TabularInline):
    model = ProductText
    extra = 0


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0
    fields = readonly_fields = ("sku_id", "min_quantity", "max_quantity", "is_trial", "is_offered")
    show_change_link = True


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Raw data: the catalogue sync writes it; staff choose what customers see at /backoffice/catalog/."""

    list_display = ["product_id", "product_type", "publisher", "is_offered", "synced_at"]
    list_filter = ["is_offered", "product_type"]
    search_fields = ["product_id", "texts__title"]
    inlines = [ProductTextInline, SkuInline]


class AvailabilityInline(admin.TabularInline):
    model = Availability
    extra = 0
    fields = readonly_fields = ("catalog_item_id", "country", "currency", "is_current", "fetched_at")


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin):
    list_display = ["__str__", "min_quantity", "max_quantity", "is_trial", "is_offered", "synced_at"]
    search_fields = ["product__product_id", "sku_id"]
    raw_id_fields = ["product"]
    inlines = [AvailabilityInline]


@admin.register(Availability)
class AvailabilityAdmin(admin.ModelAdmin):
    list_display = ["catalog_item_id", "country", "segment", "currency", "is_current", "fetched_at"]
    list_filter = ["is_current", "country"]
    search_fields = ["catalog_item_id"]
    raw_id_fields = ["sku"]


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ["product", "visible", "sort", "updated_at", "updated_by"]
    list_filter = ["visible"]
    list_editable = ["visible", "sort"]
    raw_id_fields = ["product", "updated_by"]


@admin.register(CatalogSync)
class CatalogSyncAdmin(admin.ModelAdmin):
    list_display = ["started_at", "country", "status", "products", "skus", "availabilities", "finished_at"]
    list_filter = ["status", "country"]
    readonly_fields = ["started_at", "finished_at"]
