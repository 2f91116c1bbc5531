"""The staff's form for a price rule: whose prices it sets (a company, a product, both or everyone) and how."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.companies.models import Company
from portal.core.forms import PortalForm
from portal.pricing.models import PriceRule

MIN_PERCENTAGE = Decimal(-100)
MAX_PERCENTAGE = Decimal(1000)


class PriceRuleForm(PortalForm):
    kind = forms.ChoiceField(label=gettext_lazy("Selling price"), choices=PriceRule.Kind.choices)
    value = forms.DecimalField(
        label=gettext_lazy("Percentage added to the cost"),
        help_text=gettext_lazy("For “cost plus a percentage”: from -100 to 1000, e.g. 15 or 12.5."),
        max_digits=7,
        decimal_places=2,
        required=False,
        localize=True,
    )
    company = forms.ModelChoiceField(
        label=gettext_lazy("Company"),
        queryset=Company.objects.order_by("legal_name"),
        required=False,
        empty_label=gettext_lazy("Every company"),
    )
    product_id = forms.ChoiceField(label=gettext_lazy("Product"), required=False)
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from"),
        help_text=gettext_lazy("Empty: from now on."),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    valid_to = forms.DateField(
        label=gettext_lazy("Valid until"),
        help_text=gettext_lazy("Empty: with no end. The day itself is included."),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, products: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        known = dict(products)
        current = self.initial.get("product_id") or ""
        if current and current not in known:  # a rule for a product the newest sheets no longer list
            products = [*products, (current, current)]
        product_field = self.fields["product_id"]
        assert isinstance(product_field, forms.ChoiceField)
        product_field.choices = [
            ("", _("Every product")),
            *((product_id, f"{title} ({product_id})") for product_id, title in products),
        ]

    def clean_value(self) -> Decimal | None:
        value = self.cleaned_data.get("value")
        if value is not None and not MIN_PERCENTAGE <= value <= MAX_PERCENTAGE:
            raise forms.ValidationError(_("Give a percentage from -100 to 1000."))
        return value

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if (
            data.get("kind") == PriceRule.Kind.COST_PLUS_PCT
            and data.get("value") is None
            and "value" not in self.errors
        ):
            self.add_error("value", _("Give the percentage to add to the cost."))
        if data.get("kind") == PriceRule.Kind.ERP:
            data["value"] = Decimal(0)
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("The end comes before the start."))
        return data

    @property
    def scope(self) -> str:
        """Whose prices the rule sets, from the company and the product chosen."""
        company, product = self.cleaned_data.get("company"), self.cleaned_data.get("product_id")
        if company and product:
            return PriceRule.Scope.COMPANY_PRODUCT
        if company:
            return PriceRule.Scope.COMPANY
        return PriceRule.Scope.PRODUCT if product else PriceRule.Scope.GLOBAL
