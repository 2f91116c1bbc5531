from django.urls import path

from portal.licences import subscription_views as views

app_name = "licences"
urlpatterns = [
    path("c/<int:company_id>/licences/", views.subscriptions_page, name="list"),
    path("c/<int:company_id>/licences/<int:subscription_id>/", views.subscription_page, name="detail"),
]
