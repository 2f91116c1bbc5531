"""The back-office catalogue in a real browser: axe-clean at 1280 and 390 px in English, Dutch and French, nothing
scrolls sideways, and a staff member chooses what customers see and asks for a sync."""

import pytest

from portal.accounts.models import User
from portal.catalog.models import Listing
from portal.catalog.services import catalog_sync
from tests.test_accessibility import LANGUAGES, WIDTHS, Walk
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAVE = {
    "en": "Save what customers see",
    "nl": "Opslaan wat klanten zien",
    "fr": "Enregistrer ce que voient les clients",
}
SYNC = {"en": "Sync now", "nl": "Nu synchroniseren", "fr": "Synchroniser maintenant"}
DEFENDER = {
    "en": "Customers see Microsoft Defender for Business",
    "nl": "Klanten zien Microsoft Defender voor Bedrijven",
    "fr": "Les clients voient Microsoft Defender pour les entreprises",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_staff_choose_the_catalogue_in_every_language_and_width(live_server, browser, settings, width, language):  # noqa: F811
    settings.STAFF_REQUIRE_MFA = False
    settings.SECURE_SSL_REDIRECT = False
    settings.PROVISIONER = "simulated"
    vera = User.objects.create_user("vera@reseller.example", None, is_staff=True, language=language)
    walk = Walk(browser, live_server, width, language)
    walk.sign_in_as(vera)

    walk.visit("/backoffice/catalog/")  # empty: nothing read yet
    expect(walk.page.get_by_role("button", name=SYNC[language])).to_be_visible()

    catalog_sync(country="BE")
    walk.visit("/backoffice/catalog/")
    walk.page.get_by_label(DEFENDER[language]).uncheck()
    with walk.page.expect_navigation():
        walk.page.get_by_role("button", name=SAVE[language]).click()
    walk.settled()
    expect(walk.page.get_by_role("status")).to_be_visible()
    expect(walk.page.get_by_label(DEFENDER[language])).not_to_be_checked()
    assert Listing.objects.filter(visible=False).count() == 1

    with walk.page.expect_navigation():
        walk.page.get_by_role("button", name=SYNC[language]).click()
    walk.settled()
    expect(walk.page.get_by_role("status")).to_be_visible()

    walk.visit("/backoffice/")  # the pipeline links to the catalogue
    expect(walk.page.locator('a[href="/backoffice/catalog/"]')).to_be_visible()
    assert walk.too_wide == {}, f"scrolls sideways at {width}: {walk.too_wide}"
    walk.context.close()
