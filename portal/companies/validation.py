"""Checks of what a company types: VAT numbers by country, phone numbers."""

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError

# EU member states (VIES answers for these), by ISO code; Greece's VAT prefix is EL.
EU_COUNTRIES = frozenset("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())
VAT_PREFIX = {"GR": "EL"}
_SEPARATORS = re.compile(r"[\s.\-/]")
_PHONE_CHARACTERS = re.compile(r"^\+?[\d\s().\-/]+$")


@dataclass(frozen=True)
class Vat:
    number: str  # compact, with the VAT country prefix: BE0403170701
    registry_number: str  # the company-register number where it is derived from the VAT number

    @property
    def in_eu(self) -> bool:
        return self.number[:2] in {VAT_PREFIX.get(c, c) for c in EU_COUNTRIES}


def vat_normalise(raw: str, country: str) -> Vat:
    """Validate a VAT number for the company's country; accept it with or without prefix and separators."""
    value = _SEPARATORS.sub("", (raw or "").upper())
    country = (country or "").upper()
    if not value:
        raise ValidationError(_("Enter the company's VAT number."), code="required")
    if not value.isascii() or not value.isalnum():
        raise ValidationError(_("A VAT number holds only letters and digits."), code="invalid")
    prefix = VAT_PREFIX.get(country, country)
    if value[:2].isalpha():
        if value[:2] != prefix:
            raise ValidationError(
                _(
                    "This VAT number starts with %(start)s, but the company's country is %(country)s: "
                    "a %(country)s number starts with %(prefix)s."
                )
                % {"start": value[:2], "country": country, "prefix": prefix},
                code="country",
            )
        value = value[2:]
    if country in EU_COUNTRIES:
        module: Any = eu_vat
        number = prefix + value
    else:
        module = get_cc_module(country.lower(), "vat") if country.isalpha() and len(country) == 2 else None
        number = value
    if module is None:
        if not 4 <= len(value) <= 20:
            raise ValidationError(_("This VAT number is too short or too long."), code="invalid")
        return Vat(number=prefix + value, registry_number="")
    try:
        compact = module.validate(number)
    except InvalidChecksum:
        raise ValidationError(
            _("The check digits of this VAT number do not match: please check it for a typo."), code="checksum"
        ) from None
    except (InvalidLength, InvalidFormat, InvalidComponent):
        raise ValidationError(
            _("This is not a valid VAT number for %(country)s.") % {"country": country}, code="invalid"
        ) from None
    except StdnumError:
        raise ValidationError(
            _("This is not a valid VAT number for %(country)s.") % {"country": country}, code="invalid"
        ) from None
    compact = compact if compact[:2].isalpha() and compact[:2] == prefix else prefix + compact
    registry = _registry_number(compact)
    return Vat(number=compact, registry_number=registry)


def _registry_number(vat: str) -> str:
    """Belgium's VAT number is the KBO/BCE enterprise number: 0403.170.701."""
    if vat.startswith("BE"):
        digits = vat[2:]
        return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"
    return ""


def phone_normalise(raw: str, country: str) -> str:
    """A phone number in E.164 (+3221234567); national numbers are read for the company's country."""
    value = (raw or "").strip()
    if not value:
        raise ValidationError(_("Enter a phone number."), code="required")
    if not _PHONE_CHARACTERS.match(value):
        raise ValidationError(
            _("A phone number holds digits, spaces and + ( ) . - / only: e.g. +32 2 123 45 67."), code="invalid"
        )
    try:
        parsed = phonenumbers.parse(value, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("This is not a phone number we can read: write it with its country code, e.g. +32 2 123 45 67."),
            code="invalid",
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("This phone number does not exist for its country: check the country code and the digits."),
            code="invalid",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
