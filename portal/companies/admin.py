from django.contrib import admin

from portal.companies.models import Company, Contact, Membership, ProfileChange


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "vat_number", "city", "country", "created_at"]
    search_fields = ["legal_name", "vat_number"]
    inlines = [ContactInline, MembershipInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["full_name", "email", "company", "job_title"]
    search_fields = ["email", "last_name", "company__legal_name"]
    raw_id_fields = ["company", "user"]


@admin.register(ProfileChange)
class ProfileChangeAdmin(admin.ModelAdmin):
    """Decided in the back-office (which tells the customer and updates Microsoft); read here."""

    list_display = ["company", "status", "requested_by", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["company__legal_name", "company__vat_number"]
    raw_id_fields = ["company", "requested_by", "decided_by"]
    readonly_fields = [
        "company",
        "changes",
        "status",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "reason",
    ]
