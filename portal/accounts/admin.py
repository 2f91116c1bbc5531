from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy, ngettext

from portal.accounts.models import ApiToken, User
from portal.accounts.services import mfa_enrolment_link_send


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (gettext_lazy("Person"), {"fields": ("first_name", "last_name")}),
        (gettext_lazy("Access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (gettext_lazy("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["send_mfa_enrolment_link"]

    @admin.action(description=gettext_lazy("E-mail a link to set up two-step sign-in"))
    def send_mfa_enrolment_link(self, request, queryset):
        users = list(queryset.filter(is_active=True))
        for user in users:
            mfa_enrolment_link_send(user=user, by=request.user)
        self.message_user(
            request,
            ngettext(
                "A two-step set-up link is on its way to %(count)d user.",
                "A two-step set-up link is on its way to %(count)d user(s).",
                len(users),
            )
            % {"count": len(users)},
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "expires_at", "mfa_verified"]
    readonly_fields = ["user", "token_hash", "created_at", "mfa_verified"]
