"""The tenant request form: the one set of checks, for the page, the live checks and the API."""

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.companies.countries import country_choices
from portal.companies.models import Company, Contact
from portal.companies.validation import phone_normalise, vat_normalise
from portal.core.forms import PortalForm
from portal.onboarding.domains import MAX_LENGTH, prefix_availability


@dataclass(frozen=True)
class ContactData:
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str


@dataclass(frozen=True)
class RequestData:
    legal_name: str
    vat_number: str
    registry_number: str
    address_line1: str
    address_line2: str
    postal_code: str
    city: str
    country: str
    phone: str
    website: str
    domain_prefix: str
    display_name: str
    tenant_country: str
    technical: ContactData
    commercial: ContactData
    language: str = "en"  # the contacts' e-mails and the agreement


CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "job_title")
LIVE_CHECK_TRIGGER = "change, blur"


def _prefix_help() -> str:
    return _("Your tenant's address: <name>.onmicrosoft.com. Letters a–z and digits, at most %(count)s.") % {
        "count": MAX_LENGTH
    }


PREFIX_HELP = lazy(_prefix_help, str)()


class TenantRequestForm(PortalForm):
    errors_in_live_region = True  # each field's errors, the page's and the live checks', in #check-<name>
    autocomplete = {
        "company_legal_name": "section-company organization",
        "company_vat_number": "off",  # no autofill token names a VAT number
        "company_address_line1": "section-company address-line1",
        "company_address_line2": "section-company address-line2",
        "company_postal_code": "section-company postal-code",
        "company_city": "section-company address-level2",
        "company_country": "section-company country",
        "company_phone": "section-company tel",
        "company_website": "section-company url",
        "tenant_display_name": "off",
        "tenant_country": "off",
        "language": "language",
        **{
            f"{role}_{name}": f"section-{role} {token}"
            for role in ("technical", "commercial")
            for name, token in (
                ("first_name", "given-name"),
                ("last_name", "family-name"),
                ("email", "email"),
                ("phone", "tel"),
                ("job_title", "organization-title"),
            )
        },
    }
    company_legal_name = forms.CharField(label=gettext_lazy("Legal name"), max_length=200)
    company_vat_number = forms.CharField(
        label=gettext_lazy("VAT number"),
        max_length=30,
        help_text=gettext_lazy("With or without country prefix, e.g. BE0403.170.701"),
    )
    company_address_line1 = forms.CharField(label=gettext_lazy("Street and number"), max_length=200)
    company_address_line2 = forms.CharField(label=gettext_lazy("Address line 2"), max_length=200, required=False)
    company_postal_code = forms.CharField(label=gettext_lazy("Postal code"), max_length=20)
    company_city = forms.CharField(label=gettext_lazy("City"), max_length=100)
    company_country = forms.ChoiceField(label=gettext_lazy("Country"), choices=country_choices)
    company_phone = forms.CharField(label=gettext_lazy("Phone"), max_length=30)
    company_website = forms.URLField(label=gettext_lazy("Website"), required=False, assume_scheme="https")

    tenant_domain_prefix = forms.CharField(
        label=gettext_lazy("Tenant name"),
        max_length=100,
        help_text=PREFIX_HELP,
    )
    tenant_display_name = forms.CharField(label=gettext_lazy("Display name"), max_length=100)
    tenant_country = forms.ChoiceField(label=gettext_lazy("Tenant country"), choices=country_choices)

    technical_first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100)
    technical_last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100)
    technical_email = forms.EmailField(label=gettext_lazy("E-mail"))
    technical_phone = forms.CharField(label=gettext_lazy("Phone"), max_length=30)
    technical_job_title = forms.CharField(label=gettext_lazy("Job title"), max_length=100, required=False)

    commercial_same_as_technical = forms.BooleanField(
        label=gettext_lazy("The commercial contact is the technical contact"), required=False
    )
    commercial_first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False)
    commercial_last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)
    commercial_email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    commercial_phone = forms.CharField(label=gettext_lazy("Phone"), max_length=30, required=False)
    commercial_job_title = forms.CharField(
        label=gettext_lazy("Job title"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("The commercial contact signs the agreement."),
    )

    language = forms.ChoiceField(
        label=gettext_lazy("Language of the e-mails and the agreement"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=gettext_lazy("Both contacts receive their e-mails in it, and the agreement is written in it."),
    )

    accept_terms = forms.BooleanField(
        label=gettext_lazy("I accept the terms and conditions and confirm the information is correct"),
        error_messages={"required": gettext_lazy("Please accept the terms to send your request.")},
    )

    def __init__(self, *args, request_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request_id = request_id
        self.fields["language"].initial = translation.get_language()  # the page's, changeable
        check_url = reverse("onboarding:check_field")
        for name, field in self.fields.items():
            field.widget.attrs.update(
                {
                    "hx-post": check_url,
                    "hx-trigger": "keyup changed delay:400ms, change"
                    if name == "tenant_domain_prefix"
                    else LIVE_CHECK_TRIGGER,
                    "hx-target": f"#check-{name}",
                    "hx-include": "closest form",
                    "hx-vals": f'{{"_field": "{name}"}}',
                    "hx-sync": "closest form:abort" if name == "tenant_domain_prefix" else "this:replace",
                    "aria-describedby": f"check-{name}",
                }
            )
        self.fields["tenant_domain_prefix"].widget.attrs.update(
            {
                "autocomplete": "off",
                "spellcheck": "false",
                "aria-describedby": "id_tenant_domain_prefix_suffix check-tenant_domain_prefix",
            }
        )

    def clean_tenant_domain_prefix(self) -> str:
        availability = prefix_availability(
            self.cleaned_data["tenant_domain_prefix"], exclude_request_id=self.request_id
        )
        if not availability.checked:
            # Unknown is not refused: the request is taken and staff see the name checked before validating.
            # Only the live check (it names its field in "_field") says so, in place of "is available".
            if self.data.get("_field") == "tenant_domain_prefix":
                raise ValidationError(availability.reason, code="prefix_unchecked")
            return availability.prefix
        if not availability.available:
            raise ValidationError(availability.reason, code="prefix")
        return availability.prefix

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        country = data.get("company_country", "")
        if country and "company_vat_number" in data:
            try:
                vat = vat_normalise(data["company_vat_number"], country)
                data["company_vat_number"], data["company_registry_number"] = vat.number, vat.registry_number
            except ValidationError as error:
                self.add_error("company_vat_number", error)
        if data.get("commercial_same_as_technical"):
            for field in CONTACT_FIELDS:
                data[f"commercial_{field}"] = data.get(f"technical_{field}", "")
        else:
            for field in ("first_name", "last_name", "email", "phone"):
                if not data.get(f"commercial_{field}") and f"commercial_{field}" not in self.errors:
                    self.add_error(
                        f"commercial_{field}", ValidationError(_("This field is required."), code="required")
                    )
        for field in ("company_phone", "technical_phone", "commercial_phone"):
            if data.get(field):
                try:
                    data[field] = phone_normalise(data[field], country)
                except ValidationError as error:
                    self.add_error(field, error)
        for role in ("technical", "commercial"):
            if data.get(f"{role}_email"):
                data[f"{role}_email"] = data[f"{role}_email"].strip().lower()
        return data

    def to_data(self) -> RequestData:
        d = self.cleaned_data

        def contact(role: str) -> ContactData:
            return ContactData(**{field: d.get(f"{role}_{field}", "") or "" for field in CONTACT_FIELDS})

        return RequestData(
            legal_name=d["company_legal_name"].strip(),
            vat_number=d["company_vat_number"],
            registry_number=d.get("company_registry_number", ""),
            address_line1=d["company_address_line1"].strip(),
            address_line2=d.get("company_address_line2", "").strip(),
            postal_code=d["company_postal_code"].strip(),
            city=d["company_city"].strip(),
            country=d["company_country"],
            phone=d["company_phone"],
            website=d.get("company_website", ""),
            domain_prefix=d["tenant_domain_prefix"],
            display_name=d["tenant_display_name"].strip(),
            tenant_country=d["tenant_country"],
            technical=contact("technical"),
            commercial=contact("commercial"),
            language=d.get("language") or translation.get_language(),
        )


def initial_from_company(
    company: Company, *, technical: Contact | None = None, commercial: Contact | None = None
) -> dict:
    """Form values pre-filled from a company (a signed-in customer, or a request to correct)."""
    initial: dict[str, str | bool] = {
        "company_legal_name": company.legal_name,
        "company_vat_number": company.vat_number,
        "company_address_line1": company.address_line1,
        "company_address_line2": company.address_line2,
        "company_postal_code": company.postal_code,
        "company_city": company.city,
        "company_country": company.country,
        "company_phone": company.phone,
        "company_website": company.website,
        "tenant_country": company.country,
    }
    for role, contact in (("technical", technical), ("commercial", commercial)):
        if contact is not None:
            initial.update({f"{role}_{field}": getattr(contact, field) for field in CONTACT_FIELDS})
    if technical is not None and commercial is not None and technical.pk == commercial.pk:
        initial["commercial_same_as_technical"] = True
    return initial
