"""Importing Microsoft's licence-based price sheet: the CSV read exactly as documented, stored whole or not at all.

The columns are named in the file's first line (`ProductTitle, ProductId, SkuId, SkuTitle, Publisher,
SkuDescription, UnitOfMeasure, TermDuration, BillingPlan, Market, Currency, UnitPrice, PricingTierRangeMin,
PricingTierRangeMax, EffectiveStartDate, EffectiveEndDate, EndofSaleDate, Tags, ERP Price`), so their order does
not matter. A file Microsoft sends again unchanged is stored once (its SHA-256), and a file with one bad line is
refused whole, naming the line: prices are never half replaced.
"""

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.retry import backoff
from portal.core.timers import timer_set
from portal.pricing.models import PriceRow, PriceSheet, PriceSheetImport
from portal.pricing.tasks import price_sheets_import, price_sheets_import_monthly
from portal.provisioning.base import (
    PRICE_SHEET_TIMELINES,
    PRICE_SHEET_VIEW,
    Provisioner,
    ProvisionerError,
    get_provisioner,
)

logger = logging.getLogger(__name__)

REQUIRED = (
    "ProductId",
    "SkuId",
    "TermDuration",
    "BillingPlan",
    "Market",
    "Currency",
    "UnitPrice",
    "EffectiveStartDate",
    "EffectiveEndDate",
)
BATCH = 1000
MONTHLY_KEY = "price-sheets-import"
RETRY_KEY = "price-sheets-import-retry"
RETRY_FIRST = timedelta(minutes=15)
RETRY_MAX = timedelta(hours=6)
MONTHLY_HOUR = 3  # local time on the first of the month: Microsoft has published the month's sheet by then
_AMOUNT = re.compile(r"-?\d{1,8}(\.\d+)?")
_COUNT = re.compile(r"\d{1,9}(\.0+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s.*)?")
_TERM = re.compile(r"P\d+[DWMY]")
_CURRENCY = re.compile(r"[A-Z]{3}")
FOUR_PLACES = Decimal("0.0001")


class PriceSheetInvalid(ValueError):
    """The file is not a price sheet the portal can read; the message names the line and the value."""


@dataclass(frozen=True)
class SheetImport:
    sheet: PriceSheet
    new: bool  # False: Microsoft sent the same file as before, nothing was stored again


def _date(line: int, column: str, value: str) -> date:
    """ISO (2026-03-01, 2026-03-01T00:00:00.0000000Z) or as Microsoft's US-English exports write it (3/1/2026)."""
    try:
        if found := _ISO_DATE.fullmatch(value):
            year, month, day = found.groups()
            return date(int(year), int(month), int(day))
        if found := _US_DATE.fullmatch(value):
            month, day, year = found.groups()
            return date(int(year), int(month), int(day))
    except ValueError:
        pass
    raise PriceSheetInvalid(
        _("Line %(line)s: %(column)s “%(value)s” is not a date.") % {"line": line, "column": column, "value": value}
    )


def _amount(line: int, column: str, value: str) -> Decimal:
    if not _AMOUNT.fullmatch(value):
        raise PriceSheetInvalid(
            _("Line %(line)s: %(column)s “%(value)s” is not an amount.")
            % {"line": line, "column": column, "value": value}
        )
    try:
        return Decimal(value).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        raise PriceSheetInvalid(
            _("Line %(line)s: %(column)s “%(value)s” is not an amount.")
            % {"line": line, "column": column, "value": value}
        ) from None


def _count(line: int, column: str, value: str) -> int | None:
    if not value:
        return None
    if not _COUNT.fullmatch(value):
        raise PriceSheetInvalid(
            _("Line %(line)s: %(column)s “%(value)s” is not a whole number.")
            % {"line": line, "column": column, "value": value}
        )
    return int(Decimal(value))


def _row(line: int, values: dict[str, str]) -> PriceRow:
    for column in REQUIRED:
        if not values[column]:
            raise PriceSheetInvalid(_("Line %(line)s: %(column)s is empty.") % {"line": line, "column": column})
    if not _TERM.fullmatch(values["TermDuration"]):
        raise PriceSheetInvalid(
            _("Line %(line)s: TermDuration “%(value)s” is not a term such as P1M, P1Y or P3Y.")
            % {"line": line, "value": values["TermDuration"]}
        )
    if not _CURRENCY.fullmatch(values["Currency"]):
        raise PriceSheetInvalid(
            _("Line %(line)s: Currency “%(value)s” is not a currency code such as EUR.")
            % {"line": line, "value": values["Currency"]}
        )
    start = _date(line, "EffectiveStartDate", values["EffectiveStartDate"])
    end = _date(line, "EffectiveEndDate", values["EffectiveEndDate"])
    if end < start:
        raise PriceSheetInvalid(_("Line %(line)s: EffectiveEndDate is before EffectiveStartDate.") % {"line": line})
    erp = values.get("ERP Price", "")
    end_of_sale = values.get("EndofSaleDate", "")
    return PriceRow(
        product_id=values["ProductId"],
        sku_id=values["SkuId"],
        product_title=values.get("ProductTitle", "")[:300],
        sku_title=values.get("SkuTitle", "")[:300],
        term_duration=values["TermDuration"],
        billing_plan=values["BillingPlan"],
        market=values["Market"][:2],
        currency=values["Currency"],
        unit_price=_amount(line, "UnitPrice", values["UnitPrice"]),
        erp_price=_amount(line, "ERP Price", erp) if erp else None,
        tier_min=_count(line, "PricingTierRangeMin", values.get("PricingTierRangeMin", "")),
        tier_max=_count(line, "PricingTierRangeMax", values.get("PricingTierRangeMax", "")),
        effective_start=start,
        effective_end=end,
        end_of_sale=_date(line, "EndofSaleDate", end_of_sale) if end_of_sale else None,
        tags=values.get("Tags", "")[:300],
    )


def price_sheet_parse(csv_bytes: bytes) -> list[PriceRow]:
    """Every line of the file as an unsaved PriceRow; PriceSheetInvalid names the first line that is wrong."""
    try:
        text = csv_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PriceSheetInvalid(
            _("The file is not UTF-8 text (byte %(position)s).") % {"position": error.start + 1}
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise PriceSheetInvalid(_("The file is empty."))
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise PriceSheetInvalid(_("Line 1: the columns %(columns)s are missing.") % {"columns": ", ".join(missing)})
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                raise PriceSheetInvalid(
                    _("Line %(line)s: %(count)s values where the first line names %(columns)s columns.")
                    % {"line": reader.line_num, "count": len(values), "columns": len(header)}
                )
            rows.append(_row(reader.line_num, dict(zip(header, (v.strip() for v in values), strict=True))))
    except csv.Error as error:
        raise PriceSheetInvalid(_("Line %(line)s: %(error)s.") % {"line": reader.line_num, "error": error}) from None
    if not rows:
        raise PriceSheetInvalid(_("The file has no prices, only its first line."))
    return rows


def price_sheet_import(csv_bytes: bytes, *, market: str, timeline: str, month: date) -> SheetImport:
    """Store one downloaded sheet with all its rows in one transaction; the same file again is not stored twice."""
    digest = hashlib.sha256(csv_bytes).hexdigest()
    now = timezone.now()
    same = PriceSheet.objects.filter(market=market, view=PRICE_SHEET_VIEW, timeline=timeline, sha256=digest)
    if same.exists():
        same.update(checked_at=now)
        return SheetImport(sheet=same.get(), new=False)
    rows = price_sheet_parse(csv_bytes)
    try:
        with transaction.atomic():
            sheet = PriceSheet.objects.create(
                market=market,
                view=PRICE_SHEET_VIEW,
                timeline=timeline,
                month=month,
                fetched_at=now,
                checked_at=now,
                sha256=digest,
                row_count=len(rows),
            )
            for row in rows:
                row.sheet = sheet
            PriceRow.objects.bulk_create(rows, batch_size=BATCH)
    except IntegrityError:  # the same file, imported by another worker meanwhile
        same.update(checked_at=now)
        return SheetImport(sheet=same.get(), new=False)
    logger.info("Price sheet %s %s for %s imported: %d rows", market, timeline, month, len(rows))
    return SheetImport(sheet=sheet, new=True)


def month_first(day: date, *, ahead: int = 0) -> date:
    """The first day of `day`'s month, or of a month `ahead` later."""
    first = day.replace(day=1)
    for _step in range(ahead):
        first = (first + timedelta(days=32)).replace(day=1)
    return first


def price_sheets_refresh(*, provisioner: Provisioner | None = None, attempt: int = 1) -> dict[str, str]:
    """Download and import this month's and next month's sheets; each timeline's outcome is recorded for staff.

    A passing failure (Microsoft throttling or unreachable) tries again later with a back-off; a refusal or a
    malformed file stays as it is until staff import again.
    """
    provisioner = provisioner or get_provisioner()
    today = timezone.localdate()
    outcomes = {}
    passing_failure: ProvisionerError | None = None
    for ahead, timeline in enumerate(PRICE_SHEET_TIMELINES):
        try:
            csv_bytes = provisioner.price_sheet(market=settings.PRICE_SHEET_MARKET, timeline=timeline)
            done = price_sheet_import(
                csv_bytes, market=settings.PRICE_SHEET_MARKET, timeline=timeline, month=month_first(today, ahead=ahead)
            )
        except (ProvisionerError, PriceSheetInvalid) as error:
            message = error.message if isinstance(error, ProvisionerError) else str(error)
            PriceSheetImport.objects.create(timeline=timeline, outcome=PriceSheetImport.Outcome.FAILED, message=message)
            logger.warning("Price sheet %s not imported: %s", timeline, message)
            outcomes[timeline] = "failed"
            if isinstance(error, ProvisionerError) and not error.permanent:
                passing_failure = error
            continue
        outcome = PriceSheetImport.Outcome.IMPORTED if done.new else PriceSheetImport.Outcome.UNCHANGED
        PriceSheetImport.objects.create(timeline=timeline, outcome=outcome, sheet=done.sheet)
        outcomes[timeline] = outcome
    if passing_failure is not None and attempt < settings.PROVISIONING_MAX_ATTEMPTS:
        wait = max(
            backoff(attempt, first=RETRY_FIRST, cap=RETRY_MAX), timedelta(seconds=passing_failure.retry_after or 0)
        )
        timer_set(price_sheets_import, at=timezone.now() + wait, key=RETRY_KEY, attempt=attempt + 1)
    return outcomes


def next_monthly_run(*, now: datetime | None = None) -> datetime:
    """03:00 local time on the first day of next month."""
    today = timezone.localtime(now or timezone.now()).date()
    first = month_first(today, ahead=1)
    return timezone.make_aware(datetime(first.year, first.month, first.day, MONTHLY_HOUR))


def price_sheets_schedule() -> None:
    """Arm the monthly import (at most one waits: arming again only moves it to the next first of the month)."""
    timer_set(price_sheets_import_monthly, at=next_monthly_run(), key=MONTHLY_KEY)


def price_sheets_monthly() -> dict[str, str]:
    """The monthly job: arm next month's run first (so a failure here cannot stop the schedule), then import."""
    price_sheets_schedule()
    return price_sheets_refresh()


def price_sheets_import_now() -> None:
    """Staff's "Import now": the import runs in the worker, after this transaction commits."""
    transaction.on_commit(lambda: price_sheets_import.enqueue())
