"""How companies' data reads on a page: phones in international format, countries by name."""

import phonenumbers
from django import template

from portal.companies.countries import country_name

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """+3225551234 → +32 2 555 12 34; anything that is not a number stays as it is."""
    try:
        parsed = phonenumbers.parse(value or "", None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def country(code: str) -> str:
    """BE → Belgium (België, Belgique)."""
    return country_name(code) if code else code
