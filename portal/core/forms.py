"""The base of every form of the portal: one rule for text inputs, and fields tied to their help and errors."""

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from portal.core.text import NoControlCharacters


class PortalBoundField(forms.BoundField):
    """A field describes itself by its help, then what its widget names, then its errors (`aria-describedby`).

    The ids are those the portal's field templates give: `<id>_helptext` and `<id>_error`. A form whose fields
    show their errors in a live region the widget names (filled by live checks too) sets `errors_in_live_region`.
    """

    @property
    def aria_describedby(self) -> str:
        if not self.auto_id or self.is_hidden:
            return ""
        ids = [f"{self.auto_id}_helptext"] if self.help_text else []
        ids += self.field.widget.attrs.get("aria-describedby", "").split()
        if self.errors and not getattr(self.form, "errors_in_live_region", False):
            ids.append(f"{self.auto_id}_error")
        return " ".join(dict.fromkeys(ids))

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if described := self.aria_describedby:
            attrs["aria-describedby"] = described
        return attrs


class PortalForm(forms.Form):
    """Every text field refuses control characters (NUL included) with the portal's one message.

    `autocomplete` names each field's autofill token (WCAG 1.3.5), so browsers and assistive tools fill them.
    """

    bound_field_class = PortalBoundField
    autocomplete: dict[str, str] = {}
    errors_in_live_region = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, forms.CharField):
                multiline = isinstance(field.widget, forms.Textarea)
                kept = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]
                field.validators = [NoControlCharacters(multiline=multiline), *kept]
            if name in self.autocomplete:
                field.widget.attrs.setdefault("autocomplete", self.autocomplete[name])
