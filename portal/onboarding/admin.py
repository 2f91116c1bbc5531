from django.contrib import admin

from portal.onboarding.models import IdempotencyRecord, RequestLink, TenantRequest, TimelineEntry, TimelineHead


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    can_delete = False
    fields = readonly_fields = ("seq", "at", "kind", "actor_label", "from_stage", "to_stage", "message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TenantRequest)
class TenantRequestAdmin(admin.ModelAdmin):
    """Raw data. The stage is read-only here: it changes only through the pipeline (back-office or API)."""

    list_display = ["pk", "company", "domain_prefix", "stage", "stage_changed_at", "created_at"]
    list_filter = ["stage", "vat_check"]
    search_fields = ["company__legal_name", "domain_prefix", "company__vat_number"]
    readonly_fields = ["stage", "stage_changed_at", "created_at", "terms_version", "terms_accepted_at"]
    raw_id_fields = ["company", "technical_contact", "commercial_contact", "submitted_by"]
    inlines = [TimelineInline]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ["request", "seq", "at", "kind", "actor_label", "message"]
    list_filter = ["kind"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TimelineHead)
class TimelineHeadAdmin(admin.ModelAdmin):
    """Where each timeline ends, under a keyed MAC: read-only, `manage.py verify_audit` checks it."""

    list_display = ["request", "seq", "rebuilt_at"]
    list_filter = [("rebuilt_at", admin.EmptyFieldListFilter)]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RequestLink)
class RequestLinkAdmin(admin.ModelAdmin):
    list_display = ["request", "purpose", "created_at", "expires_at", "used_at", "revoked_at"]
    readonly_fields = ["token_hash"]


admin.site.register(IdempotencyRecord)
