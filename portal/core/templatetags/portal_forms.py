"""The error summary a form shows after a failed submit: focused on arrival, an entry per field, each a link to it."""

from dataclasses import dataclass

from django import forms, template

register = template.Library()


@dataclass(frozen=True)
class SummaryEntry:
    field_id: str  # the id of the field the entry links to; empty for an error of the whole form
    label: str
    message: str


def form_entries(form: forms.BaseForm) -> list[SummaryEntry]:
    entries = [SummaryEntry("", "", str(error)) for error in form.non_field_errors()]
    for field in form:
        if field.is_hidden:
            entries += [SummaryEntry("", "", str(error)) for error in field.errors]
            continue
        entries += [SummaryEntry(field.id_for_label, str(field.label), str(error)) for error in field.errors]
    return entries


@register.inclusion_tag("includes/error_summary.html")
def error_summary(errors: forms.BaseForm | list[SummaryEntry] | None, heading: str = "") -> dict:
    """`errors`: a bound form, or entries a view made for a form it checks itself (the signing page's)."""
    if isinstance(errors, forms.BaseForm):
        entries = form_entries(errors) if errors.is_bound else []
    else:
        entries = list(errors or [])
    return {"entries": entries, "heading": heading}


@register.inclusion_tag("includes/error_summary.html")
def error_summary_one(field_id: str, label: str, message: str) -> dict:
    """The summary of a page with one field, which the view checks itself (a reason, a file)."""
    return {"entries": [SummaryEntry(field_id, label, message)] if message else [], "heading": ""}
