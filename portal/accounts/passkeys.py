"""Passkeys and security keys (django-otp-webauthn) as a second factor, under /accounts/webauthn/.

The package's views, with the portal's rules around two of them: a registered passkey gets a name and, as the
user's first device, recovery codes; a passkey used at the second step verifies the session the way a code
does (the waiting sign-in goes on, and it counts as a recent check). Passwordless sign-in stays off.
"""

import json

from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from portal.accounts.models import User
from portal.accounts.second_factor import FRESH_CODES, second_factor_given
from portal.accounts.services import passkey_registered


class PasskeyRegistration(CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        user = self.request.user
        assert isinstance(user, User)  # the package refuses anonymous registration
        codes = passkey_registered(user=user, credential_pk=json.loads(response.content)["id"])
        if codes:
            self.request.session[FRESH_CODES] = codes
        return response


class PasskeyCheck(CompleteCredentialAuthenticationView):
    def complete_auth(self, device):
        super().complete_auth(device)
        second_factor_given(self.request, device)


app_name = "otp_webauthn"  # the package's templates and scripts reverse these names

urlpatterns = [
    path("registration/begin/", BeginCredentialRegistrationView.as_view(), name="credential-registration-begin"),
    path("registration/complete/", PasskeyRegistration.as_view(), name="credential-registration-complete"),
    path(
        "authentication/begin/",
        BeginCredentialAuthenticationView.as_view(),
        name="credential-authentication-begin",
    ),
    path("authentication/complete/", PasskeyCheck.as_view(), name="credential-authentication-complete"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]), name="js-i18n-catalog"),
]
