"""The customer's licence forms: a line added to the cart, its seats changed, the commitment ticked, a refusal."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.core.forms import PortalForm


class CartAddForm(PortalForm):
    catalog_item_id = forms.CharField(max_length=120, widget=forms.HiddenInput)
    term = forms.CharField(label=_("Term and billing"), max_length=30)
    quantity = forms.IntegerField(label=_("Seats"), min_value=1, max_value=1_000_000, initial=1)


class CartQuantityForm(PortalForm):
    quantity = forms.IntegerField(label=_("Seats"), min_value=1, max_value=1_000_000)


class ReviewForm(PortalForm):
    acknowledged = forms.BooleanField(
        label=_("I understand these commitments and want to buy these licences"),
        error_messages={"required": _("Tick the box to confirm you understand the commitment.")},
    )


class RefuseForm(PortalForm):
    reason = forms.CharField(label=_("Why it is refused"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
