from django.urls import path

from portal.backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("", views.pipeline, name="pipeline"),
    path("requests/<int:pk>/", views.request_page, name="request"),
    path("requests/<int:pk>/validate/", views.validate, name="validate"),
    path("requests/<int:pk>/reject/", views.reject, name="reject"),
    path("requests/<int:pk>/ask-changes/", views.ask_changes, name="ask_changes"),
]
