from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import LANGUAGES, User
from portal.companies.validation import phone_normalise
from portal.core.forms import PortalForm


class SignInForm(PortalForm):
    email = forms.EmailField(
        label=gettext_lazy("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if "email" in data and "password" in data:
            email = data["email"].lower()
            if len(email) <= 254:
                self.user = authenticate(self.request, email=email, password=data["password"])
            if self.user is None:
                raise forms.ValidationError(
                    _("This e-mail and password do not match an account."), code="invalid_login"
                )
        return data


class TotpForm(PortalForm):
    code = forms.RegexField(
        label=gettext_lazy("Code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": gettext_lazy("Enter the 6 digits your app shows.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class SecondStepForm(PortalForm):
    """The second step at sign-in (or the confirm page): the authenticator app's code, or a recovery code."""

    code = forms.RegexField(
        label=gettext_lazy("Code from your authenticator app, or a recovery code"),
        regex=r"^\s*(\d{6}|[A-Za-z2-7]{4}[\s-]?[A-Za-z2-7]{4})\s*$",
        error_messages={
            "invalid": gettext_lazy("Enter the 6 digits your app shows, or one of your 8-character recovery codes.")
        },
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "autocapitalize": "none",
                "aria-describedby": "code-help",  # the page's help, which depends on the account's devices
            }
        ),
    )


class ConfirmPasswordForm(PortalForm):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


class NewPasswordForm(PortalForm):
    """A new password, typed twice: the first password at activation, or a new one after a reset."""

    password1 = forms.CharField(
        label=gettext_lazy("New password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
        help_text=gettext_lazy(
            "At least 10 characters, not a common password, not only digits, not like your name or e-mail."
        ),
    )
    password2 = forms.CharField(
        label=gettext_lazy("Repeat it"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data


class ResendForm(PortalForm):
    email = forms.EmailField(
        label=gettext_lazy("Your e-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class PasswordChangeForm(NewPasswordForm):
    """The current password, then the new one twice."""

    current_password = forms.CharField(
        label=gettext_lazy("Current password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    field_order = ["current_password", "password1", "password2"]

    def __init__(self, user: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["password1"].widget.attrs.pop("autofocus", None)

    def clean_current_password(self) -> str:
        value = self.cleaned_data["current_password"]
        if not self.user.check_password(value):
            raise forms.ValidationError(_("This is not your current password."), code="password_incorrect")
        return value


class ProfileForm(PortalForm):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100)
    phone = forms.CharField(
        label=gettext_lazy("Phone (optional)"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel"}),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language of e-mails and pages"), choices=LANGUAGES)

    def clean_phone(self) -> str:
        value = self.cleaned_data["phone"].strip()
        return phone_normalise(value, "BE") if value else ""
