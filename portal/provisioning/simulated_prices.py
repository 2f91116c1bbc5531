"""The price sheet the `simulated` provisioner serves: Microsoft's CSV for the simulated catalogue, market BE, EUR.

Prices follow the shape of Microsoft's Belgian list: a year paid upfront is the base (UnitPrice for the whole
term, twelve months of the monthly list price); a year billed monthly costs 5% more; a month-to-month term 20%
more than the year; three years, where offered, the same or a little less than three years. `ERP Price` is the
estimated retail price, the cost plus 15 to 20%. The future sheet (next month's preview) changes a few products.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

COLUMNS = (
    "ProductTitle",
    "ProductId",
    "SkuId",
    "SkuTitle",
    "Publisher",
    "SkuDescription",
    "UnitOfMeasure",
    "TermDuration",
    "BillingPlan",
    "Market",
    "Currency",
    "UnitPrice",
    "PricingTierRangeMin",
    "PricingTierRangeMax",
    "EffectiveStartDate",
    "EffectiveEndDate",
    "EndofSaleDate",
    "Tags",
    "ERP Price",
)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SimulatedProduct:
    product_id: str
    sku_id: str
    title: str
    monthly_list_price: Decimal  # EUR per user per month, a year paid upfront
    three_years: Decimal | None  # the three-year term's factor on three one-year terms; None: not offered
    margin: Decimal  # ERP Price over UnitPrice


PRODUCTS = (
    SimulatedProduct("CFQ7TTC0LH18", "0001", "Microsoft 365 Business Basic", Decimal("5.60"), None, Decimal("1.20")),
    SimulatedProduct(
        "CFQ7TTC0LDPB", "0001", "Microsoft 365 Business Standard", Decimal("11.70"), None, Decimal("1.20")
    ),
    SimulatedProduct(
        "CFQ7TTC0LCHC", "0002", "Microsoft 365 Business Premium", Decimal("20.60"), Decimal("1"), Decimal("1.18")
    ),
    SimulatedProduct("CFQ7TTC0LFLX", "0001", "Microsoft 365 E3", Decimal("36.00"), Decimal("0.98"), Decimal("1.15")),
    SimulatedProduct("CFQ7TTC0LFK5", "0001", "Microsoft 365 E5", Decimal("57.70"), Decimal("0.98"), Decimal("1.15")),
    SimulatedProduct("CFQ7TTC0LH16", "0001", "Exchange Online (Plan 1)", Decimal("3.70"), None, Decimal("1.20")),
    SimulatedProduct("CFQ7TTC0RQN1", "0001", "Microsoft Teams Essentials", Decimal("3.70"), None, Decimal("1.20")),
    SimulatedProduct("CFQ7TTC0HCH2", "0001", "Microsoft Defender for Business", Decimal("2.80"), None, Decimal("1.20")),
    SimulatedProduct("CFQ7TTC0LFNR", "0002", "Microsoft Entra ID P1", Decimal("5.60"), Decimal("1"), Decimal("1.18")),
    SimulatedProduct("CFQ7TTC0LHSF", "0001", "Power BI Pro", Decimal("13.10"), None, Decimal("1.18")),
    SimulatedProduct("CFQ7TTC0LHWP", "0001", "Visio Plan 2", Decimal("14.00"), None, Decimal("1.18")),
    SimulatedProduct("CFQ7TTC0MM8R", "0002", "Microsoft 365 Copilot", Decimal("28.10"), Decimal("1"), Decimal("1.15")),
)
# Next month's preview: these products' monthly list prices change.
NEXT_MONTH = {"CFQ7TTC0LH16": Decimal("4.00"), "CFQ7TTC0LHSF": Decimal("13.80")}


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def term_prices(monthly_list_price: Decimal, three_years: Decimal | None) -> dict[tuple[str, str], Decimal]:
    """UnitPrice (cost for the whole term) per (TermDuration, BillingPlan)."""
    year_upfront = _cents(monthly_list_price * 12)
    prices = {
        ("P1M", "Monthly"): _cents(monthly_list_price * Decimal("1.2")),
        ("P1Y", "Monthly"): _cents(year_upfront * Decimal("1.05")),
        ("P1Y", "Annual"): year_upfront,
    }
    if three_years is not None:
        prices[("P3Y", "Annual")] = _cents(year_upfront * 3 * three_years)
    return prices


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def simulated_price_sheet(*, market: str, timeline: str, today: date) -> bytes:
    """The CSV Partner Center would send for `timeline` ("current": this month, "future": next month)."""
    first = today.replace(day=1)
    if timeline == "future":
        first = _month_end(first) + timedelta(days=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for product in PRODUCTS:
        monthly = NEXT_MONTH.get(product.product_id, product.monthly_list_price)
        prices = term_prices(monthly if timeline == "future" else product.monthly_list_price, product.three_years)
        for (term, plan), unit_price in prices.items():
            writer.writerow(
                (
                    product.title,
                    product.product_id,
                    product.sku_id,
                    product.title,
                    "Microsoft Corporation",
                    product.title,
                    "1 License",
                    term,
                    plan,
                    market,
                    "EUR",
                    f"{unit_price}",
                    "",
                    "",
                    f"{first.isoformat()}T00:00:00.0000000Z",
                    f"{_month_end(first).isoformat()}T23:59:59.9999999Z",
                    "",
                    "License",
                    f"{_cents(unit_price * product.margin)}",
                )
            )
    return out.getvalue().encode("utf-8-sig")
