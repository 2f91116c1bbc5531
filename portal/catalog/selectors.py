"""The catalogue as pages read it: products with their SKUs, current availabilities and terms, in one language."""

import re
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.catalog.models import Availability, CatalogSync, Product

_DAYS = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class TermRow:
    """One way to buy a SKU: a commitment (termDuration) and how it is billed (billingCycle)."""

    duration: str  # P1M, P1Y, P3Y
    billing_cycle: str  # monthly, annual
    words: str  # "1 year, billed monthly"
    refunds: str  # "full refund within 1 day, partial within 7 days"


@dataclass(frozen=True)
class SkuRow:
    sku_id: str
    title: str
    min_quantity: int
    max_quantity: int
    catalog_item_id: str  # the current availability's; "" when Microsoft offers none now
    is_purchasable: bool
    terms: list[TermRow]


@dataclass(frozen=True)
class ProductRow:
    product_id: str
    title: str
    description: str
    visible: bool  # the reseller shows it to customers
    is_offered: bool  # Microsoft still offers it
    skus: list[SkuRow]


def duration_words(duration: str) -> str:
    """Microsoft's ISO-8601 term (P1M, P1Y, P3Y, …) in words."""
    match = re.fullmatch(r"P(\d+)([DWMY])", duration or "")
    if not match:
        return duration
    count, unit = int(match[1]), match[2]
    if unit == "Y":
        return ngettext("%(count)d year", "%(count)d years", count) % {"count": count}
    if unit == "M":
        return ngettext("%(count)d month", "%(count)d months", count) % {"count": count}
    if unit == "W":
        return ngettext("%(count)d week", "%(count)d weeks", count) % {"count": count}
    return ngettext("%(count)d day", "%(count)d days", count) % {"count": count}


def billing_words(cycle: str) -> str:
    return {
        "monthly": _("billed monthly"),
        "annual": _("billed annually"),
        "none": _("billed once"),
        "onetime": _("billed once"),
    }.get(cycle.lower(), cycle)


def term_words(duration: str, cycle: str) -> str:
    """A term in words: "1 year, billed monthly"."""
    return _("%(term)s, %(billing)s") % {"term": duration_words(duration), "billing": billing_words(cycle)}


def _days(expires_after: str) -> int | None:
    match = _DAYS.fullmatch(expires_after or "")
    if not match or not any(match.groups()):
        return None
    return int(match[1] or 0) * 7 + int(match[2] or 0)


def refund_words(term: dict) -> str:
    """Microsoft's refundOptions of a term in words: how long a cancellation is refunded, in full or in part."""
    parts = []
    for policy in term.get("cancellationPolicies") or []:
        options = sorted(policy.get("refundOptions") or [], key=lambda option: option.get("sequenceId") or 0)
        for option in options:
            days = _days(str(option.get("expiresAfter") or ""))
            if days is None:
                continue
            within = ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
            if str(option.get("type")).lower() == "full":
                parts.append(_("full refund within %(days)s") % {"days": within})
            else:
                parts.append(_("partial refund within %(days)s") % {"days": within})
    return "; ".join(parts) if parts else _("no refund")


def _term_rows(availability: Availability | None) -> list[TermRow]:
    if availability is None:
        return []
    return [
        TermRow(
            duration=str(term.get("duration") or ""),
            billing_cycle=str(term.get("billingCycle") or ""),
            words=term_words(str(term.get("duration") or ""), str(term.get("billingCycle") or "")),
            refunds=refund_words(term),
        )
        for term in availability.terms
    ]


def _products(country: str):
    current = Availability.objects.filter(country=country, is_current=True).order_by("-fetched_at")
    return Product.objects.select_related("listing").prefetch_related(
        "texts", "skus", Prefetch("skus__availabilities", queryset=current, to_attr="current")
    )


def _row(product: Product, language: str) -> ProductRow:
    skus = []
    for sku in product.skus.all():
        availability = sku.current[0] if sku.current else None  # type: ignore[attr-defined]
        skus.append(
            SkuRow(
                sku_id=sku.sku_id,
                title=sku.title(language),
                min_quantity=sku.min_quantity,
                max_quantity=sku.max_quantity,
                catalog_item_id=availability.catalog_item_id if availability else "",
                is_purchasable=bool(availability and availability.is_purchasable),
                terms=_term_rows(availability),
            )
        )
    listing = getattr(product, "listing", None)
    return ProductRow(
        product_id=product.product_id,
        title=product.title(language),
        description=product.description(language),
        visible=bool(listing and listing.visible),
        is_offered=product.is_offered,
        skus=skus,
    )


def catalog_rows(*, country: str, language: str) -> list[ProductRow]:
    """Every product, as staff choose among them: offered ones first, by the listing's order, then by title."""
    rows = [(p, _row(p, language)) for p in _products(country)]
    rows.sort(key=lambda pair: (not pair[1].is_offered, _sort(pair[0]), pair[1].title.lower()))
    return [row for _product, row in rows]


def catalog_listed(*, country: str, language: str) -> list[ProductRow]:
    """What customers see: the products staff chose that Microsoft still offers, in the listing's order."""
    products = _products(country).filter(listing__visible=True, is_offered=True)
    rows = [(p, _row(p, language)) for p in products]
    rows.sort(key=lambda pair: (_sort(pair[0]), pair[1].title.lower()))
    return [row for _product, row in rows]


def _sort(product: Product) -> int:
    listing = getattr(product, "listing", None)
    return listing.sort if listing else 0


def catalog_last_sync(*, country: str) -> CatalogSync | None:
    return CatalogSync.objects.filter(country=country).order_by("-started_at").first()
