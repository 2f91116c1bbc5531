"""Phones read in international format and countries by name, in pages and e-mails."""

import pytest

from portal.companies.templatetags.companies import country, phone


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+3225551234", "+32 2 555 12 34"),
        ("+32478123456", "+32 478 12 34 56"),
        ("", ""),
        ("not a number", "not a number"),
    ],
)
def test_a_phone_reads_in_international_format(stored, shown):
    assert phone(stored) == shown


def test_a_country_reads_by_name():
    assert (country("BE"), country("nl"), country("XX")) == ("Belgium", "Netherlands", "XX")


@pytest.mark.django_db
def test_the_staff_request_page_shows_phones_and_countries_as_people_read_them(client, vera, submitted):
    client.force_login(vera)
    page = client.get(f"/backoffice/requests/{submitted.pk}/").content.decode()
    assert "+32 9 234 56 78" in page and "+32 478 12 34 56" in page
    assert "9000 Gent<br>Belgium" in page and "“Brightwave” · Belgium" in page
