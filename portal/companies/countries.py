"""Countries the reseller serves (ISO 3166-1 alpha-2), as offered in forms and accepted by the API.

Their English names are here; Dutch and French ones come from the Unicode CLDR (Babel), in the active language.
"""

import unicodedata
from functools import cache

from babel import Locale
from django.utils import translation

COUNTRIES: dict[str, str] = {
    "AT": "Austria",
    "AU": "Australia",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "BR": "Brazil",
    "CA": "Canada",
    "CH": "Switzerland",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "EE": "Estonia",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "HR": "Croatia",
    "HU": "Hungary",
    "IE": "Ireland",
    "IL": "Israel",
    "IN": "India",
    "IS": "Iceland",
    "IT": "Italy",
    "JP": "Japan",
    "LI": "Liechtenstein",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "LV": "Latvia",
    "MA": "Morocco",
    "MT": "Malta",
    "MX": "Mexico",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "RS": "Serbia",
    "SE": "Sweden",
    "SG": "Singapore",
    "SI": "Slovenia",
    "SK": "Slovakia",
    "TR": "Türkiye",
    "UA": "Ukraine",
    "AE": "United Arab Emirates",
    "US": "United States",
    "ZA": "South Africa",
}


@cache
def _names(language: str) -> dict[str, str]:
    if language == "en":
        return COUNTRIES
    territories = Locale.parse(language).territories
    return {code: territories.get(code, name) for code, name in COUNTRIES.items()}


def country_name(code: str) -> str:
    """BE → Belgium, België or Belgique, in the active language; an unknown code as it is."""
    code = (code or "").upper()
    return _names(translation.get_language() or "en").get(code, code)


def _sort_key(item: tuple[str, str]) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", item[1]) if not unicodedata.combining(c)).casefold()


def country_choices() -> list[tuple[str, str]]:
    """For a form's select, by name in the active language (Österreich sorts with the O's)."""
    return [("", "—")] + sorted(_names(translation.get_language() or "en").items(), key=_sort_key)
