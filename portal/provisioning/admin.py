from django.contrib import admin

from portal.provisioning.models import BillingProfileSync


@admin.register(BillingProfileSync)
class BillingProfileSyncAdmin(admin.ModelAdmin):
    """Raw data; the sync job writes it, and staff push again from the request's back-office page."""

    list_display = ["tenant", "status", "synced_at", "attempts", "updated_at"]
    list_filter = ["status"]
    search_fields = ["tenant__domain", "tenant__customer_id", "tenant__company__legal_name"]
    raw_id_fields = ["tenant"]
    readonly_fields = ["synced_at", "updated_at"]
