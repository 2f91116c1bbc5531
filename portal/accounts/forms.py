from django import forms
from django.contrib.auth import authenticate

from portal.accounts.models import User


class SignInForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, request, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def clean(self) -> dict:
        data = super().clean()
        if "email" in data and "password" in data:
            email = data["email"].lower()
            if len(email) <= 254:
                self.user = authenticate(self.request, email=email, password=data["password"])
            if self.user is None:
                raise forms.ValidationError("This e-mail and password do not match an account.", code="invalid_login")
        return data


class TotpForm(forms.Form):
    code = forms.RegexField(
        label="Code from your authenticator app",
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": "Enter the 6 digits your app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )
