"""The rules for what a company types: VAT numbers, phones, tenant names, settings."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from hypothesis import given
from hypothesis import strategies as st

from config.env import parse_duration, parse_email_url
from portal.companies.validation import phone_normalise, vat_normalise
from portal.onboarding.domains import prefix_normalise, prefix_problem


@pytest.mark.parametrize(
    "typed, country, number, registry",
    [
        ("BE0403170701", "BE", "BE0403170701", "0403.170.701"),
        ("0403.170.701", "BE", "BE0403170701", "0403.170.701"),
        ("be 0403 170 701", "BE", "BE0403170701", "0403.170.701"),
        ("FR40303265045", "FR", "FR40303265045", ""),
        ("EL094259216", "GR", "EL094259216", ""),
        ("NL004495445B01", "NL", "NL004495445B01", ""),
    ],
)
def test_vat_numbers_are_read_as_people_type_them(typed, country, number, registry):
    vat = vat_normalise(typed, country)
    assert (vat.number, vat.registry_number) == (number, registry)


@pytest.mark.parametrize(
    "typed, country, fragment",
    [
        ("BE0123456788", "BE", "check digits"),
        ("FR40303265045", "BE", "starts with FR"),
        ("BE04031707", "BE", "not a valid VAT number"),
        ("BE0403170701<script>", "BE", "only letters and digits"),
        ("", "BE", "Enter"),
    ],
)
def test_bad_vat_numbers_say_why(typed, country, fragment):
    with pytest.raises(ValidationError) as error:
        vat_normalise(typed, country)
    assert fragment in " ".join(error.value.messages)


@given(st.text(max_size=40), st.sampled_from(["BE", "FR", "DE", "NL", "GB", "US", "CH", "MA"]))
def test_any_text_as_a_vat_number_is_accepted_or_refused_with_a_message(text, country):
    try:
        vat = vat_normalise(text, country)
    except ValidationError as error:
        assert error.messages and all(error.messages)
    else:
        assert vat.number.isalnum() and vat.number.isascii()


def test_phones_are_stored_in_e164():
    assert phone_normalise("0478 12 34 56", "BE") == "+32478123456"
    assert phone_normalise("+32 (0)9 234 56 78", "NL") == "+3292345678"
    for junk in ["12", "call me", "+99 1234", "0478-12-34-56!!", "+32 478 12 34 56 x"]:
        with pytest.raises(ValidationError):
            phone_normalise(junk, "BE")


@pytest.mark.parametrize(
    "prefix, problem",
    [
        ("contoso2", ""),
        ("a" * 27, ""),
        ("a" * 28, "at most 27"),
        ("my-company", "Hyphens"),
        ("café", "letters a–z"),
        ("my company", "letters a–z"),
        ("microsoft", "reserved"),
        ("", "Choose a name"),
    ],
)
def test_tenant_names_follow_microsofts_rules(prefix, problem):
    found = prefix_problem(prefix_normalise(prefix))
    assert (problem in found) if problem else found == ""


def test_a_full_domain_is_read_as_its_prefix():
    assert prefix_normalise(" Contoso.onmicrosoft.com ") == "contoso"


def test_durations_and_email_urls():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("3d") == timedelta(days=3)
    for bad in ["", "3", "0d", "3w", "-1h"]:
        with pytest.raises(ImproperlyConfigured):
            parse_duration(bad)
    smtp = parse_email_url("smtp+tls://user%40x:p%3Ass@mail.example:587")["OPTIONS"]
    assert (smtp["host"], smtp["port"], smtp["username"], smtp["password"], smtp["use_tls"]) == (
        "mail.example",
        587,
        "user@x",
        "p:ss",
        True,
    )
    assert parse_email_url("console://")["BACKEND"].endswith("console.EmailBackend")
    with pytest.raises(ImproperlyConfigured):
        parse_email_url("http://nope")
