from django.urls import path

from portal.agreements import views

app_name = "agreements"

urlpatterns = [
    path("sign/<str:token>/", views.sign, name="sign"),
    path("sign/<str:token>/code/", views.send_code, name="send_code"),
    path("sign/<str:token>/agreement.pdf", views.document, name="document"),
    path("sign/<str:token>/decline/", views.decline, name="decline"),
    path("sign/<str:token>/signed/", views.signed, name="signed"),
    path("verify/", views.verify, name="verify"),
]
