"""The catalogue sync (Microsoft's catalogue into the portal, daily) and the reseller's choice of what customers see.

`catalog_sync` reads every product, SKU and availability through the provisioner, titles in the three languages
(X-Locale en-US, nl-BE, fr-BE), and writes them one product per transaction: a failure half-way keeps what was
read before it, and the next run completes it. What Microsoft no longer returns is marked (not offered, not
current) and kept, since orders may name it. A listing (the reseller's choice) belongs to the product, so it
survives Microsoft replacing an availability id.

New products arrive hidden: staff choose what customers see. The one exception is the very first sync of an
empty catalogue (until one sync has succeeded), which lists every product, so that a new portal has a
catalogue to show from the start.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.catalog.models import Availability, CatalogSync, Listing, Product, ProductText, Sku
from portal.catalog.tasks import sync_catalog
from portal.core.timers import timer_set
from portal.provisioning.base import (
    CATALOG_LOCALES,
    CatalogAvailability,
    CatalogProduct,
    CatalogSku,
    Provisioner,
    ProvisionerError,
    get_provisioner,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = timedelta(minutes=30)  # a passing failure is tried again this soon, not a day later


@dataclass(frozen=True)
class ProductRead:
    """One product as Microsoft gave it: its resource in each language, its SKUs and their availabilities."""

    by_language: dict[str, CatalogProduct]
    skus: dict[str, dict[str, CatalogSku]]  # sku_id → language → SKU
    availabilities: dict[str, list[CatalogAvailability]]  # sku_id → availabilities

    @property
    def product_id(self) -> str:
        return next(iter(self.by_language.values())).product_id


def catalog_sync_key(country: str) -> str:
    return f"catalog-sync:{country.upper()}"


def catalog_sync_next_at(*, after: datetime | None = None) -> datetime:
    """The next CATALOG_SYNC_AT (local time) strictly after `after` (now by default)."""
    after = timezone.localtime(after or timezone.now())
    hours, minutes = (int(part) for part in settings.CATALOG_SYNC_AT.split(":"))
    at = datetime.combine(after.date(), time(hours, minutes), tzinfo=after.tzinfo)
    if at <= after:
        at = datetime.combine(after.date() + timedelta(days=1), time(hours, minutes), tzinfo=after.tzinfo)
    return at


def catalog_sync_schedule(*, country: str, at: datetime | None = None) -> None:
    """Set the country's next sync (one timer per country: setting it again moves it), in the caller's transaction."""
    timer_set(sync_catalog, at=at or catalog_sync_next_at(), key=catalog_sync_key(country), country=country.upper())


def catalog_sync_request(*, country: str = "", by: User | None = None) -> None:
    """Sync now (the back-office's "Sync now"): the job runs in the worker; the daily timer follows it."""
    country = (country or settings.CATALOG_COUNTRY).upper()
    logger.info("Catalogue sync of %s asked for by %s", country, by or "the system")
    transaction.on_commit(lambda: sync_catalog.enqueue(country=country))


def catalog_sync(*, country: str = "", provisioner: Provisioner | None = None) -> CatalogSync:
    """Read the whole catalogue of `country` and store it; the run is recorded (CatalogSync), its error in words.

    Raises nothing for Microsoft's refusals: the run records them and says whether retrying can help.
    """
    country = (country or settings.CATALOG_COUNTRY).upper()
    run = CatalogSync.objects.create(country=country)
    # Until one sync has succeeded the catalogue is new: every product arrives listed (a run that failed half-way
    # does not make the next one hide what it did not reach).
    first_sync = not CatalogSync.objects.filter(status=CatalogSync.Status.SUCCEEDED).exists()
    try:
        provisioner = provisioner or get_provisioner()
        products = _read_products(provisioner, country)
        seen: set[str] = set()
        for product_id, by_language in products.items():
            read = _read_product(provisioner, country, by_language)
            _store(read, country=country, list_new=first_sync)
            seen.add(product_id)
            run.products += 1
            run.skus += len(read.skus)
            run.availabilities += sum(len(found) for found in read.availabilities.values())
        _withdraw_missing(country=country, seen=seen)
    except ProvisionerError as error:
        run.status = CatalogSync.Status.FAILED
        run.message = error.message
        run.retryable = not error.permanent
        logger.warning("Catalogue sync of %s failed after %d product(s): %s", country, run.products, error.message)
    else:
        run.status = CatalogSync.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    return run


def catalog_sync_and_schedule(*, country: str) -> CatalogSync:
    """The daily job: sync, then set the next run (sooner after a passing failure, else tomorrow)."""
    run = catalog_sync(country=country)
    with transaction.atomic():
        if run.status == CatalogSync.Status.FAILED and run.retryable:
            catalog_sync_schedule(country=country, at=timezone.now() + RETRY_AFTER_FAILURE)
        else:
            catalog_sync_schedule(country=country)
    return run


def _read_products(provisioner: Provisioner, country: str) -> dict[str, dict[str, CatalogProduct]]:
    """product_id → language → product, in the order Microsoft lists them in English."""
    products: dict[str, dict[str, CatalogProduct]] = {}
    for language, locale in CATALOG_LOCALES.items():
        for product in provisioner.catalog_products(country=country, locale=locale):
            if product.product_id:
                products.setdefault(product.product_id, {})[language] = product
    return products


def _read_product(provisioner: Provisioner, country: str, by_language: dict[str, CatalogProduct]) -> ProductRead:
    product_id = next(iter(by_language.values())).product_id
    skus: dict[str, dict[str, CatalogSku]] = {}
    for language, locale in CATALOG_LOCALES.items():
        for sku in provisioner.catalog_skus(product_id=product_id, country=country, locale=locale):
            if sku.sku_id:
                skus.setdefault(sku.sku_id, {})[language] = sku
    availabilities = {
        sku_id: provisioner.catalog_availabilities(product_id=product_id, sku_id=sku_id, country=country)
        for sku_id in skus
    }
    return ProductRead(by_language=by_language, skus=skus, availabilities=availabilities)


def _english[T](by_language: dict[str, T]) -> T:
    return by_language.get("en") or next(iter(by_language.values()))


def _store(read: ProductRead, *, country: str, list_new: bool) -> Product:
    """Write one product, its texts, SKUs and availabilities, in one transaction."""
    now = timezone.now()
    english = _english(read.by_language)
    with transaction.atomic():
        product, _created = Product.objects.update_or_create(
            product_id=english.product_id,
            defaults={
                "product_type": english.product_type,
                "publisher": english.publisher,
                "is_offered": True,
                "synced_at": now,
            },
        )
        for language, found in read.by_language.items():
            ProductText.objects.update_or_create(
                product=product,
                language=language,
                defaults={"title": found.title or english.title, "description": found.description},
            )
        Listing.objects.get_or_create(product=product, defaults={"visible": list_new})
        for sku_id, by_language in read.skus.items():
            sku = _store_sku(product, by_language, now=now)
            _store_availabilities(sku, read.availabilities.get(sku_id, []), country=country, now=now)
        product.skus.exclude(sku_id__in=read.skus).update(is_offered=False)
        Availability.objects.filter(sku__product=product, country=country).exclude(sku__sku_id__in=read.skus).update(
            is_current=False
        )
    return product


def _store_sku(product: Product, by_language: dict[str, CatalogSku], *, now: datetime) -> Sku:
    english = _english(by_language)
    sku, _created = Sku.objects.update_or_create(
        product=product,
        sku_id=english.sku_id,
        defaults={
            "titles": {language: found.title for language, found in by_language.items() if found.title},
            "descriptions": {language: found.description for language, found in by_language.items()},
            "min_quantity": english.min_quantity,
            "max_quantity": english.max_quantity,
            "is_trial": english.is_trial,
            "billing_cycles": list(english.billing_cycles),
            "provisioning_variables": english.raw.get("provisioningVariables") or [],
            "prerequisites": english.raw.get("purchasePrerequisites") or [],
            "raw": english.raw,
            "is_offered": True,
            "synced_at": now,
        },
    )
    return sku


def _store_availabilities(sku: Sku, found: list[CatalogAvailability], *, country: str, now: datetime) -> None:
    """The availabilities Microsoft returned are current; the SKU's others in this country no longer are."""
    current = []
    for availability in found:
        Availability.objects.update_or_create(
            catalog_item_id=availability.catalog_item_id,
            defaults={
                "sku": sku,
                "availability_id": availability.availability_id,
                "country": availability.country or country,
                "segment": availability.segment,
                "currency": availability.currency,
                "is_purchasable": availability.is_purchasable,
                "is_renewable": availability.is_renewable,
                "terms": list(availability.terms),
                "raw": availability.raw,
                "is_current": True,
                "fetched_at": now,
            },
        )
        current.append(availability.catalog_item_id)
    sku.availabilities.filter(country=country).exclude(catalog_item_id__in=current).update(is_current=False)


def _withdraw_missing(*, country: str, seen: set[str]) -> None:
    """Products Microsoft no longer lists: not offered, their availabilities not current (kept for orders)."""
    with transaction.atomic():
        Product.objects.exclude(product_id__in=seen).update(is_offered=False)
        Availability.objects.filter(country=country).exclude(sku__product__product_id__in=seen).update(is_current=False)


def listing_save(*, visible: set[str], by: User) -> int:
    """Staff's choice, saved at once: customers see exactly the products whose product_id is in `visible`.

    Returns how many listings changed.
    """
    now = timezone.now()
    with transaction.atomic():
        listings = list(Listing.objects.select_for_update().select_related("product"))
        changed = [listing for listing in listings if listing.visible != (listing.product.product_id in visible)]
        for listing in changed:
            listing.visible = not listing.visible
            listing.updated_at = now
            listing.updated_by = by
        Listing.objects.bulk_update(changed, ["visible", "updated_at", "updated_by"])
    return len(changed)
