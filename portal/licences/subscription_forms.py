"""The forms of a subscription's page: one per action, each with its own prefix (one page, unique ids)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.core.forms import PortalForm

CLEAR_SCHEDULED = _("I understand that this clears the change scheduled for renewal.")


class SeatsForm(PortalForm):
    quantity = forms.IntegerField(label=_("Seats"), min_value=1)
    clear_scheduled = forms.BooleanField(label=CLEAR_SCHEDULED, required=False)

    def __init__(self, *args, maximum: int, scheduled: bool, help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quantity"].widget.attrs.update({"min": 1, "max": maximum, "inputmode": "numeric"})
        self.fields["quantity"].help_text = help_text
        self.fields["clear_scheduled"].required = scheduled
        if not scheduled:
            del self.fields["clear_scheduled"]


class CancelForm(PortalForm):
    confirm = forms.BooleanField(label=_("Yes, cancel this subscription now."))
    clear_scheduled = forms.BooleanField(label=CLEAR_SCHEDULED, required=False)

    def __init__(self, *args, scheduled: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clear_scheduled"].required = scheduled
        if not scheduled:
            del self.fields["clear_scheduled"]


class ScheduleForm(PortalForm):
    quantity = forms.IntegerField(label=_("Seats at renewal"), min_value=1)
    term = forms.ChoiceField(label=_("Term and billing at renewal"))

    def __init__(self, *args, terms: list[tuple[str, str]], maximum: int, **kwargs):
        super().__init__(*args, **kwargs)
        term = self.fields["term"]
        assert isinstance(term, forms.ChoiceField)
        term.choices = terms
        self.fields["quantity"].widget.attrs.update({"min": 1, "max": maximum, "inputmode": "numeric"})
