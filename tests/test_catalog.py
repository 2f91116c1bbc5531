"""The catalogue: Microsoft's products, SKUs and availabilities synced daily in three languages, and the reseller's
choice of what customers see, which survives Microsoft replacing an availability id."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client
from django_tasks_db.models import DBTaskResult

from portal.accounts.models import User
from portal.catalog.models import Availability, CatalogSync, Listing, Product, ProductText, Sku
from portal.catalog.selectors import catalog_listed
from portal.catalog.services import catalog_sync, catalog_sync_and_schedule, catalog_sync_key, listing_save
from portal.catalog.tasks import sync_catalog
from portal.core.models import Timer
from portal.provisioning.base import ProvisionerError
from portal.provisioning.partner_center import PartnerCenterProvisioner
from portal.provisioning.simulated_catalog import LICENCES, Licence

BASIC = "CFQ7TTC0LH18"
DEFENDER = "CFQ7TTC0HCH2"
BRUSSELS = ZoneInfo("Europe/Brussels")

pytestmark = pytest.mark.django_db


def texts(product_id: str) -> dict[str, str]:
    return dict(ProductText.objects.filter(product__product_id=product_id).values_list("language", "title"))


def current(product_id: str) -> list[str]:
    return list(
        Availability.objects.filter(sku__product__product_id=product_id, is_current=True).values_list(
            "catalog_item_id", flat=True
        )
    )


# Against the fake Partner Center


def test_the_sync_stores_products_skus_and_availabilities_in_three_languages(fake_partner_center):
    run = catalog_sync(country="BE")

    assert run.status == CatalogSync.Status.SUCCEEDED
    assert (run.products, run.skus, run.availabilities) == (12, 12, 12)
    assert Product.objects.count() == 12 and Sku.objects.count() == 12 and Availability.objects.count() == 12
    assert texts(DEFENDER) == {
        "en": "Microsoft Defender for Business",
        "nl": "Microsoft Defender voor Bedrijven",
        "fr": "Microsoft Defender pour les entreprises",
    }
    assert ProductText.objects.get(product__product_id=BASIC, language="nl").description.startswith("Zakelijke e-mail")
    sku = Sku.objects.get(product__product_id=BASIC)
    assert (sku.sku_id, sku.min_quantity, sku.max_quantity, sku.billing_cycles) == (
        "0001",
        1,
        300,
        ["annual", "monthly"],
    )
    assert set(sku.titles) == {"en", "nl", "fr"} and sku.raw["productId"] == BASIC
    availability = Availability.objects.get(sku=sku)
    assert availability.catalog_item_id == "CFQ7TTC0LH18:0001:CFQ7TTC0K5DM"
    assert (availability.country, availability.segment, availability.currency) == ("BE", "commercial", "EUR")
    assert [(t["duration"], t["billingCycle"]) for t in availability.terms] == [
        ("P1M", "monthly"),
        ("P1Y", "monthly"),
        ("P1Y", "annual"),
    ]
    assert availability.terms[1]["cancellationPolicies"][0]["refundOptions"] == [
        {"sequenceId": 1, "type": "Full", "expiresAfter": "P1D"},
        {"sequenceId": 2, "type": "Partial", "expiresAfter": "P7D"},
    ]
    premium = Availability.objects.get(sku__product__product_id="CFQ7TTC0LCHC")
    assert ("P3Y", "annual") in [(t["duration"], t["billingCycle"]) for t in premium.terms]


def test_the_sync_asks_as_microsoft_documents(fake_partner_center):
    catalog_sync(country="BE")

    products = fake_partner_center.api_requests("GET", "/v1/products")
    listing = [r for r in products if r.path == "/v1/products"]
    assert sorted(r.headers["x-locale"] for r in listing) == ["en-US", "fr-BE", "nl-BE"]
    assert all(r.query["country"] == ["BE"] and r.query["targetView"] == ["OnlineServices"] for r in listing)
    skus = [r for r in products if r.path == f"/v1/products/{BASIC}/skus"]
    assert sorted(r.headers["x-locale"] for r in skus) == ["en-US", "fr-BE", "nl-BE"]
    availabilities = [r for r in products if r.path.endswith("/availabilities")]
    assert len(availabilities) == 12 and all(r.query["country"] == ["BE"] for r in availabilities)
    assert all(r.headers.get("ms-requestid") and r.headers.get("ms-correlationid") for r in products)


def test_a_selected_product_stays_selected_when_microsoft_replaces_its_availability(fake_partner_center, vera):
    catalog_sync(country="BE")
    old = current(BASIC)
    listing_save(visible={BASIC}, by=vera)

    new = fake_partner_center.rotate_availability(BASIC)
    run = catalog_sync(country="BE")

    assert run.status == CatalogSync.Status.SUCCEEDED
    assert current(BASIC) == [new] and new != old[0]
    kept = Availability.objects.get(catalog_item_id=old[0])
    assert kept.is_current is False  # kept: orders may name it
    assert Listing.objects.get(product__product_id=BASIC).visible is True
    assert [row.skus[0].catalog_item_id for row in catalog_listed(country="BE", language="en")] == [new]


def test_the_first_sync_lists_every_product_and_later_new_ones_arrive_hidden(fake_partner_center):
    catalog_sync(country="BE")
    assert Listing.objects.filter(visible=True).count() == 12

    newcomer = Licence(
        product_id="CFQ7TTC0LGZT",
        sku_id="0001",
        availability_id="CFQ7TTC0K9ZZ",
        min_quantity=1,
        max_quantity=10000,
        terms=(("P1M", "monthly"), ("P1Y", "annual")),
        titles={
            "en-US": "Microsoft Intune Plan 1",
            "nl-BE": "Microsoft Intune Abonnement 1",
            "fr-BE": "Microsoft Intune Plan 1",
        },
        descriptions={"en-US": "Device management.", "nl-BE": "Apparaatbeheer.", "fr-BE": "Gestion des appareils."},
    )
    fake_partner_center.catalog[(newcomer.product_id, newcomer.sku_id)] = newcomer
    fake_partner_center.availability_ids[(newcomer.product_id, newcomer.sku_id)] = newcomer.availability_id
    catalog_sync(country="BE")

    assert Listing.objects.get(product__product_id="CFQ7TTC0LGZT").visible is False
    assert texts("CFQ7TTC0LGZT")["nl"] == "Microsoft Intune Abonnement 1"


def test_a_product_microsoft_withdraws_is_kept_not_offered(fake_partner_center, vera):
    catalog_sync(country="BE")
    fake_partner_center.withdraw_product(DEFENDER)
    catalog_sync(country="BE")

    product = Product.objects.get(product_id=DEFENDER)
    assert product.is_offered is False and current(DEFENDER) == []
    assert Availability.objects.filter(sku__product=product).count() == 1
    assert DEFENDER not in [row.product_id for row in catalog_listed(country="BE", language="en")]


def test_a_paged_product_list_is_read_to_the_end(fake_partner_center):
    fake_partner_center.catalog_page_size = 5
    run = catalog_sync(country="BE")
    assert run.products == 12
    continued = [r for r in fake_partner_center.api_requests("GET", "/v1/products") if r.path == "/v1/products"]
    assert len(continued) == 3 * 3 and sum(bool(r.headers.get("ms-continuationtoken")) for r in continued) == 6


# Microsoft's errors, as the client handles them


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def pc(fake_partner_center, sleeps) -> PartnerCenterProvisioner:
    return PartnerCenterProvisioner(sleep=sleeps.append)


def test_an_expired_token_is_renewed_and_the_sync_completes(fake_partner_center, pc):
    pc.catalog_products(country="BE", locale="en-US")
    fake_partner_center.expire_tokens()
    run = catalog_sync(country="BE", provisioner=pc)
    assert run.status == CatalogSync.Status.SUCCEEDED and len(fake_partner_center.token_requests) == 2


def test_throttling_is_waited_out_as_retry_after_says(fake_partner_center, pc, sleeps):
    fake_partner_center.fail_next("/v1/products", 429, retry_after=2, times=2)
    run = catalog_sync(country="BE", provisioner=pc)
    assert run.status == CatalogSync.Status.SUCCEEDED and sleeps == [2.0, 2.0]


def test_a_server_error_is_retried(fake_partner_center, pc, sleeps):
    fake_partner_center.fail_next(f"/v1/products/{BASIC}/skus/0001/availabilities", 500)
    run = catalog_sync(country="BE", provisioner=pc)
    assert run.status == CatalogSync.Status.SUCCEEDED and len(sleeps) == 1 and Availability.objects.count() == 12


def test_microsoft_unavailable_fails_the_run_in_plain_words_and_it_is_tried_again_soon(
    fake_partner_center, settings, time_machine
):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=BRUSSELS), tick=False)
    settings.PARTNER_CENTER_MAX_RETRIES = 0
    fake_partner_center.fail_next("/v1/products", 503, times=10)
    run = catalog_sync_and_schedule(country="BE")

    assert run.status == CatalogSync.Status.FAILED and run.retryable
    assert "Partner Center is not answering properly (HTTP 503)" in run.message
    timer = Timer.objects.get(key=catalog_sync_key("BE"))
    assert timer.due_at == datetime(2026, 3, 2, 10, 30, tzinfo=BRUSSELS)


def test_a_refusal_is_told_and_the_next_try_is_tomorrow(fake_partner_center, settings, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=BRUSSELS), tick=False)
    fake_partner_center.refuse_api(403)
    run = catalog_sync_and_schedule(country="BE")
    assert run.status == CatalogSync.Status.FAILED and not run.retryable
    assert "refused our permissions" in run.message
    assert Timer.objects.get(key=catalog_sync_key("BE")).due_at == datetime(2026, 3, 3, 3, 0, tzinfo=BRUSSELS)


def test_a_catalogue_call_without_a_country_is_refused_as_microsoft_does(pc):
    with pytest.raises(ProvisionerError) as refused:
        pc.catalog_products(country="", locale="en-US")
    assert "HTTP 400" in refused.value.message and "country is required" in refused.value.message


# The simulated provisioner, and the daily job


def test_the_simulated_catalogue_syncs_without_network(settings):
    settings.PROVISIONER = "simulated"
    run = catalog_sync(country="BE")
    assert run.status == CatalogSync.Status.SUCCEEDED and run.products == len(LICENCES) == 12
    assert texts(DEFENDER)["fr"] == "Microsoft Defender pour les entreprises"
    assert Availability.objects.get(sku__product__product_id="CFQ7TTC0MM8R").terms[-1]["duration"] == "P3Y"


def test_the_daily_sync_runs_at_its_hour_and_sets_the_next_one(settings, worker, time_machine):
    settings.PROVISIONER = "simulated"
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=BRUSSELS), tick=False)
    call_command("sync_catalog", verbosity=0)
    assert Timer.objects.get(key=catalog_sync_key("BE")).due_at == datetime(2026, 3, 3, 3, 0, tzinfo=BRUSSELS)

    time_machine.move_to(datetime(2026, 3, 3, 3, 1, tzinfo=BRUSSELS), tick=False)
    worker()
    assert CatalogSync.objects.filter(status=CatalogSync.Status.SUCCEEDED).count() == 2
    assert Timer.objects.get(key=catalog_sync_key("BE")).due_at == datetime(2026, 3, 4, 3, 0, tzinfo=BRUSSELS)


def test_the_command_says_what_it_read(settings, capsys):
    settings.PROVISIONER = "simulated"
    call_command("sync_catalog")
    assert "12 product(s), 12 SKU(s), 12 availability(ies)" in capsys.readouterr().out


# The back-office page


@pytest.fixture
def synced(settings):
    settings.PROVISIONER = "simulated"
    settings.STAFF_REQUIRE_MFA = False
    return catalog_sync(country="BE")


def test_staff_see_products_skus_terms_and_the_current_catalogue_item(synced, vera, django_assert_max_num_queries):
    client = Client()
    client.force_login(vera)
    with django_assert_max_num_queries(12):
        page = client.get("/backoffice/catalog/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Microsoft Defender for Business" in html and "CFQ7TTC0LH18:0001:CFQ7TTC0K5DM" in html
    assert "1 year, billed monthly" in html and "full refund within 1 day; partial refund within 7 days" in html
    assert "12 products, 12 SKUs, 12 availabilities" in html
    assert 'href="/backoffice/catalog/"' in client.get("/backoffice/").content.decode()


def test_the_page_speaks_dutch_and_french(synced, vera):
    client = Client()
    client.force_login(vera)
    User.objects.filter(pk=vera.pk).update(language="nl")
    dutch = client.get("/backoffice/catalog/").content.decode()
    assert "Microsoft Defender voor Bedrijven" in dutch and "1 jaar, maandelijks gefactureerd" in dutch
    User.objects.filter(pk=vera.pk).update(language="fr")
    french = client.get("/backoffice/catalog/").content.decode()
    assert "Microsoft Defender pour les entreprises" in french and "1 an, facturé mensuellement" in french


def test_staff_choose_what_customers_see_in_one_post(synced, vera):
    client = Client()
    client.force_login(vera)
    answer = client.post("/backoffice/catalog/listings/", {"visible": [BASIC, DEFENDER]})
    assert answer.status_code == 302
    assert set(Listing.objects.filter(visible=True).values_list("product__product_id", flat=True)) == {BASIC, DEFENDER}
    assert Listing.objects.get(product__product_id="CFQ7TTC0LFK5").updated_by == vera
    assert [row.product_id for row in catalog_listed(country="BE", language="en")] == [BASIC, DEFENDER]


def test_sync_now_queues_the_job(synced, vera, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(vera)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/backoffice/catalog/sync/")
    assert answer.status_code == 302
    job = DBTaskResult.objects.get(task_path=sync_catalog.module_path)
    assert job.args_kwargs["kwargs"] == {"country": "BE"}


@pytest.mark.parametrize("path", ["/backoffice/catalog/", "/backoffice/catalog/listings/", "/backoffice/catalog/sync/"])
def test_a_customer_is_refused_and_a_visitor_is_sent_to_sign_in(synced, tess_user, path):
    client = Client()
    method = client.get if path == "/backoffice/catalog/" else client.post
    assert method(path).status_code == 302 and "/accounts/" in method(path)["Location"]
    client.force_login(tess_user)
    assert method(path).status_code == 404
    assert not DBTaskResult.objects.filter(task_path=sync_catalog.module_path).exists()
    assert Listing.objects.filter(visible=True).count() == 12


def test_a_get_cannot_change_the_choice(synced, vera):
    client = Client()
    client.force_login(vera)
    assert client.get("/backoffice/catalog/listings/").status_code == 405
    assert Listing.objects.filter(visible=True).count() == 12
