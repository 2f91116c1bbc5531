from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from portal.accounts import views as account_views
from portal.api.api import api
from portal.companies import views as company_views
from portal.core.languages import language_set
from portal.licences import views as licence_views
from portal.notifications import views as mailbox

if settings.STAFF_REQUIRE_MFA:
    # The admin asks for the same second factor as the back-office.
    admin.site.__class__ = OTPAdminSite
admin.site.site_header = f"{settings.PORTAL_BRAND} portal administration"

urlpatterns = [
    path("", company_views.home, name="home"),
    path("language/", language_set, name="language_set"),
    path("tenants/<int:pk>/admin-account/", company_views.tenant_admin_reveal, name="tenant_admin_reveal"),
    path("c/<int:company_id>/", company_views.company_page, name="company"),
    path("c/<int:company_id>/profile/", company_views.company_profile, name="company_profile"),
    path(
        "c/<int:company_id>/agreements/<int:agreement_id>/signed.pdf",
        company_views.signed_agreement,
        name="company_agreement",
    ),
    path("c/<int:company_id>/members/<int:member_id>/role/", company_views.member_role, name="member_role"),
    path("c/<int:company_id>/members/<int:member_id>/remove/", company_views.member_remove_view, name="member_remove"),
    path("c/<int:company_id>/invitations/", company_views.invite, name="invite"),
    path("c/<int:company_id>/identity/", company_views.identity, name="identity_change"),
    path(
        "c/<int:company_id>/identity/<int:change_id>/withdraw/",
        company_views.identity_change_withdraw_view,
        name="identity_change_withdraw",
    ),
    path("c/<int:company_id>/two-step/", company_views.two_step_rule, name="two_step_rule"),
    path(
        "c/<int:company_id>/invitations/<int:invitation_id>/revoke/",
        company_views.invitation_revoke_view,
        name="invitation_revoke",
    ),
    # Licences: the catalogue, the cart, orders and approvals
    path("c/<int:company_id>/catalog/", licence_views.catalog, name="licence_catalog"),
    path("c/<int:company_id>/prices/", licence_views.prices, name="licence_prices"),
    path("c/<int:company_id>/cart/", licence_views.cart, name="licence_cart"),
    path("c/<int:company_id>/cart/add/", licence_views.cart_add, name="licence_cart_add"),
    path("c/<int:company_id>/cart/review/", licence_views.review, name="licence_review"),
    path("c/<int:company_id>/orders/", licence_views.orders, name="licence_orders"),
    path("c/<int:company_id>/approvals/", licence_views.approvals, name="licence_approvals"),
    path(
        "c/<int:company_id>/approvals/<int:change_id>/",
        licence_views.approval_decide,
        name="licence_approval_decide",
    ),
    path("invitations/<str:token>/", company_views.invitation, name="invitation"),
    path("c/<int:company_id>/contacts/new/", company_views.contact_new, name="contact_new"),
    path("c/<int:company_id>/contacts/<int:contact_id>/", company_views.contact_edit, name="contact_edit"),
    path(
        "c/<int:company_id>/contacts/<int:contact_id>/remove/",
        company_views.contact_remove_view,
        name="contact_remove",
    ),
    path("", include("portal.onboarding.urls")),
    path("", include("portal.agreements.urls")),
    path("", include("portal.licences.subscription_urls")),
    path("accounts/webauthn/", include("portal.accounts.passkeys")),
    path("accounts/", include("portal.accounts.urls")),
    path("activate/<str:token>/", account_views.activate, name="activate"),
    path("backoffice/", include("portal.backoffice.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("dev/mailbox/", mailbox.mailbox, name="dev_mailbox"),
    path("dev/mailbox/<int:pk>/", mailbox.mailbox_message, name="dev_mailbox_message"),
    path("dev/mailbox/<int:pk>/html/", mailbox.mailbox_html, name="dev_mailbox_html"),
]
