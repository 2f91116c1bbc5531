from django.urls import path

from portal.onboarding import views

app_name = "onboarding"

urlpatterns = [
    path("request-tenant/", views.request_tenant, name="request_tenant"),
    path("request-tenant/check/", views.check_field, name="check_field"),
    path("request-tenant/sent/", views.submitted, name="submitted"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("track/<str:token>/", views.track, name="track"),
    path("correct/<str:token>/", views.correct, name="correct"),
]
