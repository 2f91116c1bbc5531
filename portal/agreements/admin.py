from django.contrib import admin

from portal.agreements.models import Agreement, SigningInvitation


class InvitationInline(admin.TabularInline):
    model = SigningInvitation
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "signer_email",
        "created_at",
        "expires_at",
        "first_opened_at",
        "used_at",
        "revoked_at",
        "revoked_reason",
        "reminders_sent",
    )


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["request", "version", "status", "created_at", "signed_at", "signer_name"]
    list_filter = ["status", "version"]
    exclude = ["pdf", "signed_pdf", "html"]
    readonly_fields = [f.name for f in Agreement._meta.fields if f.name not in ("pdf", "signed_pdf", "html")]
    inlines = [InvitationInline]
