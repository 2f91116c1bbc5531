from django.urls import path

from portal.backoffice import catalog, prices, views

app_name = "backoffice"

urlpatterns = [
    path("", views.pipeline, name="pipeline"),
    path("sign-in-lockouts/", views.lockouts, name="lockouts"),
    path("catalog/", catalog.catalog, name="catalog"),
    path("catalog/listings/", catalog.catalog_listings, name="catalog_listings"),
    path("catalog/sync/", catalog.catalog_sync_now, name="catalog_sync"),
    path("identity-changes/", views.identity_changes, name="identity_changes"),
    path("identity-changes/<int:change_id>/accept/", views.identity_change_accept_view, name="identity_change_accept"),
    path("identity-changes/<int:change_id>/refuse/", views.identity_change_refuse_view, name="identity_change_refuse"),
    path("prices/", prices.prices, name="prices"),
    path("prices/import/", prices.prices_import, name="prices_import"),
    path("prices/rules/new/", prices.price_rule_new, name="price_rule_new"),
    path("prices/rules/<int:rule_id>/", prices.price_rule_edit, name="price_rule"),
    path("prices/rules/<int:rule_id>/delete/", prices.price_rule_remove, name="price_rule_delete"),
    path("sign-in-lockouts/unlock/", views.lockout_unlock, name="lockout_unlock"),
    path("requests/<int:pk>/", views.request_page, name="request"),
    path("requests/<int:pk>/validate/", views.validate, name="validate"),
    path("requests/<int:pk>/reject/", views.reject, name="reject"),
    path("requests/<int:pk>/ask-changes/", views.ask_changes, name="ask_changes"),
    path("requests/<int:pk>/agreement-preview.pdf", views.agreement_preview, name="agreement_preview"),
    path(
        "requests/<int:pk>/agreements/<int:agreement_id>/<str:kind>.pdf",
        views.agreement_document,
        name="agreement_document",
    ),
    path("requests/<int:pk>/resend/", views.resend, name="resend"),
    path("requests/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("requests/<int:pk>/provisioning/retry/", views.provisioning_retry_view, name="provisioning_retry"),
    path("requests/<int:pk>/provisioning/cancel/", views.provisioning_cancel_view, name="provisioning_cancel"),
    path("requests/<int:pk>/billing-profile/push/", views.billing_profile_push_view, name="billing_profile_push"),
    path("requests/<int:pk>/activation/resend/", views.activation_resend_view, name="activation_resend"),
]
