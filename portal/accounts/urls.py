from django.urls import path

from portal.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("mfa/", views.mfa, name="mfa"),
    path("mfa/enrol/<str:token>/", views.mfa_enrol, name="mfa_enrol"),
    path("confirm/", views.confirm, name="confirm"),
    path("security/", views.security, name="security"),
    path("security/codes/", views.security_codes, name="security_codes"),
    path("security/codes/new/", views.recovery_codes_view, name="recovery_codes_new"),
    path("security/authenticator/", views.authenticator_add, name="authenticator_add"),
    path("security/devices/<str:kind>/<int:pk>/remove/", views.device_remove_view, name="device_remove"),
    path("activation/", views.activation_ask, name="activation_ask"),
    path("profile/", views.profile, name="profile"),
    path("password/change/", views.password_change_view, name="password_change"),
    path("sessions/end-others/", views.sessions_end_view, name="sessions_end"),
    path("password/reset/", views.password_reset_request, name="password_reset_ask"),
    path("password/reset/<str:token>/", views.password_reset, name="password_reset"),
]
