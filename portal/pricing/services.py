"""What a licence costs the reseller and what a customer pays for it, from the imported sheets and the rules.

- `cost_row`: Microsoft's row for an offer on a date; where rows overlap, the latest EffectiveStartDate wins.
- `selling_price`: the reseller's price for a row and a company, by the most specific rule.
- `price_options`: the terms a customer chooses among (month, year billed monthly, year upfront, three years),
  each with this month's price and next month's when it changes.
- `money`: an amount as the reader's language writes it in Belgium.

Amounts are `Decimal` from the file to the page; only the final selling price is rounded, to the cent.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from portal.companies.models import Company
from portal.pricing.models import PriceRow, PriceRule, PriceSheet
from portal.pricing.sheets import month_first

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
LOCALES = {"en": "en_IE", "nl": "nl_BE", "fr": "fr_BE"}  # English with the euro before the amount, as in Ireland
SPECIFICITY = (
    PriceRule.Scope.COMPANY_PRODUCT,
    PriceRule.Scope.COMPANY,
    PriceRule.Scope.PRODUCT,
    PriceRule.Scope.GLOBAL,
)


@dataclass(frozen=True)
class Term:
    """One way of buying a licence, as Partner Center names it in the sheet and in a cart."""

    term_duration: str  # P1M, P1Y, P3Y
    billing_plan: str  # the sheet's BillingPlan: Monthly, Annual
    billing_cycle: str  # the cart's billingCycle: monthly, annual
    label: StrOrPromise


TERMS = (
    Term("P1M", "Monthly", "monthly", gettext_lazy("Monthly term")),
    Term("P1Y", "Monthly", "monthly", gettext_lazy("1 year, billed monthly")),
    Term("P1Y", "Annual", "annual", gettext_lazy("1 year, paid upfront")),
    Term("P3Y", "Annual", "annual", gettext_lazy("3 years, billed annually")),
)


@dataclass(frozen=True)
class PriceOption:
    """One term a customer can choose, priced for its company. Amounts exclude VAT."""

    term_duration: str
    billing_plan: str
    billing_cycle: str
    label: str  # in words, in the active language
    currency: str
    term_price: Decimal  # for the whole term, per licence
    monthly_price: Decimal  # the term price spread over its months
    next_term_price: Decimal | None  # from `next_from`, when next month's sheet changes it
    next_monthly_price: Decimal | None
    next_from: date | None


def term_label(term_duration: str, billing_plan: str) -> str:
    """A term in words ("1 year, billed monthly"), or Microsoft's codes when the portal has no words for it."""
    for term in TERMS:
        if (term.term_duration, term.billing_plan) == (term_duration, billing_plan):
            return str(term.label)
    return f"{term_duration} {billing_plan}"


def sheets_in_use(*, market: str | None = None) -> list[int]:
    """The sheets prices are read from: the newest of each timeline (this month's and next month's preview)."""
    market = market or settings.PRICE_SHEET_MARKET
    sheets = PriceSheet.objects.filter(market=market).order_by("-checked_at", "-pk")
    found = [sheets.filter(timeline=timeline).values_list("pk", flat=True).first() for timeline in PriceSheet.Timeline]
    return [pk for pk in found if pk is not None]


def _rows(product_id: str, sku_id: str, *, currency: str | None = None) -> QuerySet[PriceRow]:
    return PriceRow.objects.filter(
        sheet_id__in=sheets_in_use(),
        product_id=product_id,
        sku_id=sku_id,
        currency=currency or settings.PRICE_CURRENCY,
    )


def row_on(rows: Iterable[PriceRow], *, on: date) -> PriceRow | None:
    """Among rows covering the date, the latest EffectiveStartDate; then the sheet stored last; then the
    lowest tier (the price from the first licence)."""
    covering = [row for row in rows if row.effective_start <= on <= row.effective_end]
    if not covering:
        return None
    return min(covering, key=lambda r: (-r.effective_start.toordinal(), -r.sheet_id, r.tier_min or 0, r.pk or 0))


def cost_row(
    product_id: str, sku_id: str, term_duration: str, billing_plan: str, *, on: date, currency: str | None = None
) -> PriceRow | None:
    """Microsoft's row for this offer and term on `on`: the latest EffectiveStartDate wins where rows overlap."""
    rows = _rows(product_id, sku_id, currency=currency).filter(
        term_duration=term_duration, billing_plan=billing_plan, effective_start__lte=on, effective_end__gte=on
    )
    return row_on(rows, on=on)


def _rules(*, company: Company | None, product_ids: Iterable[str]) -> list[PriceRule]:
    scoped = Q(company__isnull=True) | Q(company=company) if company is not None else Q(company__isnull=True)
    return list(PriceRule.objects.filter(scoped, product_id__in=["", *product_ids]).order_by("-valid_from", "-pk"))


def rule_for(rules: Iterable[PriceRule], *, product_id: str, on: date) -> PriceRule | None:
    """The most specific rule valid on `on`: company and product, company, product, everything."""
    valid = [
        rule
        for rule in rules
        if rule.product_id in ("", product_id)
        and (rule.valid_from is None or rule.valid_from <= on)
        and (rule.valid_to is None or on <= rule.valid_to)
    ]
    for scope in SPECIFICITY:
        for rule in valid:  # newest validity first, as loaded
            if rule.scope == scope:
                return rule
    return None


def price_by_rule(row: PriceRow, rule: PriceRule | None) -> Decimal:
    """The selling price of a row under a rule (or none), rounded half up to the cent at the very end."""
    if rule is not None and rule.kind == PriceRule.Kind.COST_PLUS_PCT:
        amount = row.unit_price * (HUNDRED + rule.value) / HUNDRED
    elif row.erp_price is not None:
        amount = row.erp_price
    else:
        amount = row.unit_price
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def selling_price(row: PriceRow, *, company: Company | None, on: date | None = None) -> Decimal:
    """What `company` pays for this row's whole term, excluding VAT; no rule: Microsoft's ERP price, else the cost."""
    on = on or timezone.localdate()
    rule = rule_for(_rules(company=company, product_ids=[row.product_id]), product_id=row.product_id, on=on)
    return price_by_rule(row, rule)


def per_month(term_price: Decimal, term_duration: str) -> Decimal:
    return (term_price / MONTHS.get(term_duration, 1)).quantize(CENT, rounding=ROUND_HALF_UP)


def price_options(
    product_id: str, sku_id: str, *, company: Company | None, on: date | None = None
) -> list[PriceOption]:
    """The terms offered for this SKU in the portal's order (month, year billed monthly, year upfront, three
    years), priced for `company` on `on`, with next month's price where next month's sheet changes it.

    The same few queries whatever the number of terms: the sheets in use, the rows of the SKU, the rules.
    """
    on = on or timezone.localdate()
    next_month = month_first(on, ahead=1)
    rows = list(_rows(product_id, sku_id).filter(effective_start__lte=next_month, effective_end__gte=on))
    rules = _rules(company=company, product_ids=[product_id])
    rule_now = rule_for(rules, product_id=product_id, on=on)
    rule_next = rule_for(rules, product_id=product_id, on=next_month)
    options = []
    for term in TERMS:
        offered = [r for r in rows if (r.term_duration, r.billing_plan) == (term.term_duration, term.billing_plan)]
        now = row_on(offered, on=on)
        if now is None:
            continue
        price = price_by_rule(now, rule_now)
        later = row_on(offered, on=next_month)
        next_price = price_by_rule(later, rule_next) if later is not None else None
        changes = next_price is not None and next_price != price
        options.append(
            PriceOption(
                term_duration=term.term_duration,
                billing_plan=term.billing_plan,
                billing_cycle=term.billing_cycle,
                label=str(term.label),
                currency=now.currency,
                term_price=price,
                monthly_price=per_month(price, term.term_duration),
                next_term_price=next_price if changes else None,
                next_monthly_price=per_month(next_price, term.term_duration) if changes and next_price else None,
                next_from=next_month if changes else None,
            )
        )
    return options


def money(amount: Decimal, currency: str, language: str) -> str:
    """`amount` as `language` writes it in Belgium: nl "€ 1.234,50", fr "1 234,50 €", en "€1,234.50"."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money() takes a Decimal, not {type(amount).__name__}: amounts are never floats.")
    return format_currency(amount, currency, locale=LOCALES.get(language, LOCALES["en"]))


@dataclass(frozen=True)
class PriceChange:
    """An offer whose cost or ERP price differs between this month's row and next month's."""

    product_id: str
    sku_id: str
    title: str
    term_duration: str
    billing_plan: str
    term: str  # in words
    currency: str
    cost_now: Decimal
    cost_next: Decimal
    erp_now: Decimal | None
    erp_next: Decimal | None


def price_changes_next_month(*, on: date | None = None) -> list[PriceChange]:
    """Every offer whose price on the first of next month differs from its price on `on` (one query)."""
    on = on or timezone.localdate()
    next_month = month_first(on, ahead=1)
    rows = PriceRow.objects.filter(
        sheet_id__in=sheets_in_use(),
        currency=settings.PRICE_CURRENCY,
        effective_start__lte=next_month,
        effective_end__gte=on,
    ).order_by("product_title", "product_id", "sku_id")
    offers: dict[tuple[str, str, str, str], list[PriceRow]] = {}
    for row in rows:
        offers.setdefault((row.product_id, row.sku_id, row.term_duration, row.billing_plan), []).append(row)
    changes = []
    for (product_id, sku_id, term_duration, billing_plan), offered in offers.items():
        now, later = row_on(offered, on=on), row_on(offered, on=next_month)
        if now is None or later is None or (now.unit_price, now.erp_price) == (later.unit_price, later.erp_price):
            continue
        changes.append(
            PriceChange(
                product_id=product_id,
                sku_id=sku_id,
                title=later.sku_title or later.product_title or product_id,
                term_duration=term_duration,
                billing_plan=billing_plan,
                term=term_label(term_duration, billing_plan),
                currency=later.currency,
                cost_now=now.unit_price,
                cost_next=later.unit_price,
                erp_now=now.erp_price,
                erp_next=later.erp_price,
            )
        )
    return changes


def sheet_products() -> list[tuple[str, str]]:
    """(product id, title) of every product in the sheets in use, by title: the choices of a product rule."""
    rows = (
        PriceRow.objects.filter(sheet_id__in=sheets_in_use())
        .values_list("product_id", "product_title")
        .order_by("product_title", "product_id")
        .distinct()
    )
    products: dict[str, str] = {}
    for product_id, title in rows:
        products.setdefault(product_id, title or product_id)
    return sorted(products.items(), key=lambda item: (item[1].lower(), item[0]))


def price_rule_save(*, rule: PriceRule | None, scope: str, data: dict) -> PriceRule:
    """Create a rule (rule=None) or change one, with the scope its company and product make."""
    rule = rule or PriceRule()
    rule.scope = scope
    rule.kind = data["kind"]
    rule.value = data.get("value") or Decimal(0)
    rule.company = data.get("company")
    rule.product_id = data.get("product_id") or ""
    rule.valid_from = data.get("valid_from")
    rule.valid_to = data.get("valid_to")
    rule.full_clean()
    rule.save()
    return rule


def price_rule_delete(*, rule_id: int) -> bool:
    deleted, _by_model = PriceRule.objects.filter(pk=rule_id).delete()
    return bool(deleted)
