"""The company's profile as its administrators and billing members edit it: the request form's rules."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from portal.accounts.forms import NewPasswordForm
from portal.companies.countries import country_choices
from portal.companies.models import Company, Contact, Membership
from portal.companies.validation import phone_normalise, vat_normalise
from portal.core.forms import PortalForm

# The profile fields a member may change; legal name and VAT number are what the agreement and tenant were made for.
EDITABLE = ("address_line1", "address_line2", "postal_code", "city", "country", "phone", "website")


class CompanyProfileForm(PortalForm):
    address_line1 = forms.CharField(label=gettext_lazy("Street and number"), max_length=200)
    address_line2 = forms.CharField(label=gettext_lazy("Address line 2"), max_length=200, required=False)
    postal_code = forms.CharField(label=gettext_lazy("Postal code"), max_length=20)
    city = forms.CharField(label=gettext_lazy("City"), max_length=100)
    country = forms.ChoiceField(label=gettext_lazy("Country"), choices=country_choices)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=30)
    website = forms.URLField(label=gettext_lazy("Website"), required=False, assume_scheme="https")

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if data.get("phone"):
            try:
                data["phone"] = phone_normalise(data["phone"], data.get("country", ""))
            except ValidationError as error:
                self.add_error("phone", error)
        return data


class InviteForm(PortalForm):
    email = forms.EmailField(label=gettext_lazy("E-mail address"), max_length=254)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Membership.Role.choices)


class NewAccountForm(NewPasswordForm):
    """A person invited who has no account yet: a name and a password."""

    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100)
    field_order = ["first_name", "last_name", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].widget.attrs.pop("autofocus", None)


class ContactForm(PortalForm):
    """A contact of the company; the phone is read for the company's country."""

    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100)
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=30)
    job_title = forms.CharField(label=gettext_lazy("Job title"), max_length=100, required=False)
    kind = forms.ChoiceField(label=pgettext_lazy("kind of contact", "Kind"), choices=Contact.Kind.choices)

    def __init__(self, *args, country: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.country = country

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_phone(self) -> str:
        return phone_normalise(self.cleaned_data["phone"], self.country)


CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "job_title", "kind")


class IdentityChangeForm(PortalForm):
    """A new legal name or VAT number, with the request form's rules; the VAT number is read for the company's
    country (and gives the company number, as on the request form)."""

    legal_name = forms.CharField(label=gettext_lazy("Legal name"), max_length=200)
    vat_number = forms.CharField(
        label=gettext_lazy("VAT number"),
        max_length=30,
        help_text=gettext_lazy("With or without country prefix, e.g. BE0403.170.701"),
    )

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company

    def clean_legal_name(self) -> str:
        return self.cleaned_data["legal_name"].strip()

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if "vat_number" in data:
            try:
                vat = vat_normalise(data["vat_number"], self.company.country)
                data["vat_number"], data["registry_number"] = vat.number, vat.registry_number
            except ValidationError as error:
                self.add_error("vat_number", error)
        if not self.errors and not self.changes():
            raise ValidationError(_("These are the company's legal name and VAT number already: change one of them."))
        return data

    def changes(self) -> dict[str, dict[str, str]]:
        """{field: {"old", "new"}} for the fields that change."""
        return {
            field: {"old": getattr(self.company, field), "new": self.cleaned_data[field]}
            for field in IDENTITY_FIELDS
            if field in self.cleaned_data and self.cleaned_data[field] != getattr(self.company, field)
        }


IDENTITY_FIELDS = ("legal_name", "vat_number", "registry_number")
