"""The base of every form of the portal: one rule for text inputs, whatever the field."""

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from portal.core.text import NoControlCharacters


class PortalForm(forms.Form):
    """Every text field refuses control characters (NUL included) with the portal's one message."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                multiline = isinstance(field.widget, forms.Textarea)
                kept = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]
                field.validators = [NoControlCharacters(multiline=multiline), *kept]
