"""The portal in English, Dutch and French: which language answers, the catalogues, and Belgian formats."""

import datetime
import io

import pytest
import time_machine
from babel.messages.pofile import read_po, write_po
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format

from portal.accounts.models import User
from portal.core import catalogues
from portal.core.catalogues import catalogues_check, catalogues_update, po_path
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit
from tests.conftest import request_data

PAGE = "/request-tenant/"


def html_lang(response) -> str:
    text = response.content.decode()
    start = text.index("<html lang=") + len('<html lang="')
    return text[start : text.index('"', start)]


# --- which language ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        ("", None, "en"),
        ("nl-BE,nl;q=0.9,en;q=0.5", None, "nl"),
        ("fr-BE,fr;q=0.8", None, "fr"),
        ("de-DE,de;q=0.9", None, "en"),  # unsupported: English, no error
        ("nl-BE", "fr", "fr"),  # the switcher's cookie wins over the browser
        ("nl-BE", "xx", "nl"),  # an unsupported cookie is ignored
        ("*", "tlh", "en"),
    ],
)
def test_a_visitor_reads_the_cookie_language_else_the_browser_else_english(client, db, header, cookie, expected):
    if cookie:
        client.cookies["portal_language"] = cookie
    response = client.get(PAGE, HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 200
    assert html_lang(response) == expected
    assert response["Content-Language"] == expected


def test_a_signed_in_person_reads_the_profile_language_whatever_the_browser_says(client, db):
    user = User.objects.create_user(email="ines@brightwave.example", password="x" * 12, language="nl")
    client.force_login(user)
    client.cookies["portal_language"] = "fr"
    assert html_lang(client.get("/accounts/profile/", HTTP_ACCEPT_LANGUAGE="fr-BE")) == "nl"


def test_the_switcher_keeps_the_page_and_remembers_the_choice(client, db):
    response = client.post("/language/", {"language": "fr", "return_to": f"{PAGE}?from=header"})
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}?from=header"
    assert html_lang(client.get(PAGE, HTTP_ACCEPT_LANGUAGE="nl")) == "fr"


def test_the_switcher_saves_the_profile_of_a_signed_in_person(client, db):
    user = User.objects.create_user(email="ines@brightwave.example", password="x" * 12)
    client.force_login(user)
    client.post("/language/", {"language": "nl", "return_to": "/accounts/profile/"})
    user.refresh_from_db()
    assert user.language == "nl"


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/", "javascript:alert(1)"])
def test_the_switcher_never_sends_anyone_elsewhere(client, db, target):
    response = client.post("/language/", {"language": "nl", "return_to": target})
    assert response["Location"] == "/"


def test_the_switcher_refuses_an_unknown_language_quietly(client, db):
    response = client.post("/language/", {"language": "klingon", "return_to": PAGE})
    assert response.status_code == 302
    assert html_lang(client.get(PAGE)) == "en"


def test_every_page_offers_the_switcher(client, db):
    text = client.get(PAGE).content.decode()
    assert 'action="/language/"' in text
    for code in ("en", "nl", "fr"):
        assert f'value="{code}" lang="{code}"' in text


# --- the catalogues ------------------------------------------------------------------------------


def test_the_catalogues_are_complete_reviewed_and_compiled():
    """Every marked string has a Dutch and a French translation, none fuzzy, and the .mo files are up to date."""
    problems = catalogues_check()
    assert not problems, "\n".join(str(problem) for problem in problems[:40]) + f"\n({len(problems)} in all)"


def _project(tmp_path, settings) -> None:
    """A small project of its own: one module and one template with marked strings."""
    settings.BASE_DIR = tmp_path
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "things.py").write_text(
        'from django.utils.translation import gettext as _\n_("Hello")\n_("Bye %(name)s")\n'
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text('{% load i18n %}<p>{% translate "Welcome" %}</p>')


def _edit(language: str, translations: dict[str, str], fuzzy: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    with po_path(language).open("rb") as fileobj:
        catalog = read_po(fileobj, locale=language)
    for message in catalog:
        if message.id in translations:
            message.string = translations[message.id]
        if message.id in fuzzy:
            message.flags.add("fuzzy")
    output = io.BytesIO()
    write_po(output, catalog)
    po_path(language).write_bytes(output.getvalue())


def test_the_check_finds_missing_empty_fuzzy_wrong_and_stale(tmp_path, settings):
    _project(tmp_path, settings)
    catalogues_update()
    found = {str(problem) for problem in catalogues_check()}
    assert "nl: not translated: 'Welcome'" in found and "fr: not translated: 'Hello'" in found

    _edit("nl", {"Hello": "Hallo", "Bye %(name)s": "Dag %(naam)s", "Welcome": "Welkom"}, fuzzy={"Welcome"})
    _edit("fr", {"Hello": "Bonjour", "Bye %(name)s": "Au revoir %(name)s", "Welcome": "Bienvenue"})
    (tmp_path / "templates" / "page.html").write_text('{% load i18n %}{% translate "Welcome" %}{% translate "New" %}')
    found = {str(problem) for problem in catalogues_check()}
    assert "nl: fuzzy (to review): 'Welcome'" in found
    assert any(problem.startswith("nl: placeholders:") and "Bye" in problem for problem in found)
    assert "nl: missing from the catalogue: 'New'" in found and "fr: missing from the catalogue: 'New'" in found
    assert "fr: compiled catalogue differs from the .po: 'django.mo'" in found


def test_make_messages_brings_a_catalogue_up_to_date_and_then_the_check_passes(tmp_path, settings):
    _project(tmp_path, settings)
    catalogues_update()
    for language, words in {
        "nl": ("Hallo", "Dag %(name)s", "Welkom"),
        "fr": ("Bonjour", "Salut %(name)s", "Bienvenue"),
    }.items():
        _edit(language, dict(zip(("Hello", "Bye %(name)s", "Welcome"), words, strict=True)))
    catalogues_update()  # compiles what the translator wrote
    assert catalogues_check() == []
    assert catalogues.mo_path("nl").exists()


# --- Belgian formats -----------------------------------------------------------------------------

MOMENT = timezone.make_aware(datetime.datetime(2026, 3, 7, 14, 5))


@pytest.mark.parametrize(
    ("language", "long_date", "short_date", "number"),
    [
        ("en", "7 March 2026", "07/03/2026", "1,234.50"),
        ("nl", "7 maart 2026", "07/03/2026", "1.234,50"),
        ("fr", "7 mars 2026", "07/03/2026", "1\u202f234,50"),
    ],
)
def test_dates_and_numbers_follow_the_belgian_usage_of_each_language(language, long_date, short_date, number):
    with translation.override(language):
        assert date_format(MOMENT, "DATE_FORMAT") == long_date
        assert date_format(MOMENT, "SHORT_DATE_FORMAT") == short_date
        assert date_format(MOMENT, "TIME_FORMAT") == "14:05"
        assert number_format("1234.50", decimal_pos=2, force_grouping=True) == number


@pytest.mark.parametrize(
    ("language", "count", "day"),
    [("en", "1,201", "07/03/2026"), ("nl", "1.201", "07/03/2026"), ("fr", "1\u202f201", "07/03/2026")],
)
def test_a_page_writes_numbers_and_dates_as_its_language_does_in_belgium(client, vera, language, count, day):
    with time_machine.travel(MOMENT, tick=False):
        first = request_submit(data=request_data())
    TenantRequest.objects.bulk_create(
        TenantRequest(
            company_id=first.company_id,
            company_snapshot=first.company_snapshot,
            technical_contact_id=first.technical_contact_id,
            commercial_contact_id=first.commercial_contact_id,
            domain_prefix=f"brightwave{n}",
            display_name="Brightwave",
            tenant_country="BE",
            terms_version=first.terms_version,
            terms_accepted_at=first.terms_accepted_at,
        )
        for n in range(1200)
    )
    vera.language = language
    vera.save(update_fields=["language"])
    client.force_login(vera)
    pipeline = client.get("/backoffice/").content.decode()
    assert f'<span class="count">{count}</span>' in pipeline
    detail = client.get(f"/backoffice/requests/{first.pk}/").content.decode()
    assert f"{day} 14:05" in detail
