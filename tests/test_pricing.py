"""Prices: Microsoft's price sheet imported as it is written, the row of a date, the reseller's rules, the four
terms a customer chooses among, money as each language writes it, and the staff's prices page."""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.accounts.models import User
from portal.companies.models import Company
from portal.core.models import Timer
from portal.pricing.models import PriceRow, PriceRule, PriceSheet, PriceSheetImport
from portal.pricing.services import (
    cost_row,
    money,
    price_by_rule,
    price_changes_next_month,
    price_options,
    selling_price,
)
from portal.pricing.sheets import (
    MONTHLY_KEY,
    PriceSheetInvalid,
    price_sheet_import,
    price_sheet_parse,
    price_sheets_refresh,
)
from portal.pricing.tasks import price_sheets_import_monthly
from portal.provisioning.partner_center import PartnerCenterProvisioner
from portal.provisioning.simulated_prices import simulated_price_sheet

FIXTURE = (Path(__file__).parent / "data" / "price-sheet-overlap.csv").read_bytes()
PREMIUM = ("CFQ7TTC0LCHC", "0002")
BASIC = ("CFQ7TTC0LH18", "0001")
MARCH = date(2026, 3, 15)


@pytest.fixture
def sheet(db) -> PriceSheet:
    """The fixture's sheet, stored as this month's: Business Premium's annual price rises from April to June."""
    return price_sheet_import(FIXTURE, market="BE", timeline="current", month=date(2026, 3, 1)).sheet


@pytest.fixture
def brightwave(db) -> Company:
    return Company.objects.create(legal_name="Brightwave Analytics BV", vat_number="BE0403170701", country="BE")


def rule(scope: str, kind: str = "cost_plus_pct", value: str = "0", **fields) -> PriceRule:
    return PriceRule.objects.create(scope=scope, kind=kind, value=Decimal(value), **fields)


# The sheet


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2025, 12, 31), None),  # before every row
        (date(2026, 3, 31), Decimal("247.20")),  # before the overlap
        (date(2026, 4, 1), Decimal("259.20")),  # the overlap's first day: the later start wins
        (date(2026, 5, 20), Decimal("259.20")),  # inside the overlap
        (date(2026, 6, 30), Decimal("259.20")),  # its last day (EffectiveEndDate is included)
        (date(2026, 7, 1), Decimal("247.20")),  # after it: the year-long row again
        (date(2027, 1, 1), None),  # after every row
    ],
)
def test_where_rows_overlap_the_latest_effective_start_wins(sheet, on, expected):
    row = cost_row(*PREMIUM, "P1Y", "Annual", on=on)
    assert (row.unit_price if row else None) == expected


def test_the_sheet_is_stored_as_microsoft_wrote_it(sheet):
    assert sheet.row_count == 10 == PriceRow.objects.filter(sheet=sheet).count()
    monthly = cost_row(*PREMIUM, "P1M", "Monthly", on=MARCH)
    assert monthly.effective_start == date(2026, 1, 1) and monthly.effective_end == date(2026, 12, 31)  # US dates
    assert monthly.sku_title == "Microsoft 365 Business Premium"
    assert isinstance(monthly.unit_price, Decimal) and monthly.erp_price == Decimal("29.17")
    assert cost_row(*BASIC, "P1M", "Monthly", on=MARCH).erp_price is None  # an empty ERP Price
    assert PriceRow.objects.get(sku_id="0003").billing_plan == "None"  # a trial
    sek = cost_row(*PREMIUM, "P1Y", "Annual", on=MARCH, currency="SEK")
    assert sek.unit_price == Decimal("2800.00")


def test_the_same_file_again_is_stored_once(sheet):
    again = price_sheet_import(FIXTURE, market="BE", timeline="current", month=date(2026, 3, 1))
    assert not again.new and again.sheet == sheet
    assert PriceSheet.objects.count() == 1 and PriceRow.objects.count() == 10


def _broken(line: int, old: str, new: str) -> bytes:
    lines = FIXTURE.decode().split("\r\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    ("csv_bytes", "message"),
    [
        (_broken(4, ",247.20,", ",247,20,"), "Line 4: 20 values where the first line names 19 columns."),
        (_broken(5, ",259.20,", ",12 EUR,"), "Line 5: UnitPrice “12 EUR” is not an amount."),
        (_broken(7, ",3300.00", ",n/a"), "Line 7: ERP Price “n/a” is not an amount."),
        (_broken(11, "2026-01-01T00:00:00.0000000Z", "01.01.2026"), "Line 11: EffectiveStartDate “01.01.2026”"),
        (_broken(3, "2026-12-31", "2025-12-31"), "Line 3: EffectiveEndDate is before EffectiveStartDate."),
        (_broken(9, ",P1M,", ",monthly,"), "Line 9: TermDuration “monthly”"),
        (_broken(7, ",CFQ7TTC0LCHC,", ",,"), "Line 7: ProductId is empty."),
        (_broken(1, ",UnitPrice,", ",Price,"), "Line 1: the columns UnitPrice are missing."),
        (FIXTURE.split(b"\r\n")[0], "The file has no prices"),
        (b"", "The file is empty."),
        (b"\xff\xfeP\x00r\x00", "not UTF-8"),
    ],
)
def test_a_malformed_sheet_is_refused_naming_the_line_and_nothing_is_stored(db, csv_bytes, message):
    with pytest.raises(PriceSheetInvalid) as refused:
        price_sheet_import(csv_bytes, market="BE", timeline="current", month=date(2026, 3, 1))
    assert message in str(refused.value)
    assert not PriceSheet.objects.exists() and not PriceRow.objects.exists()


def test_a_bad_line_after_many_good_ones_stores_nothing_either(db):
    good = simulated_price_sheet(market="BE", timeline="current", today=MARCH)
    broken = (
        good + b"Visio,CFQ7TTC0LHWP,0001,Visio,MS,Visio,1 License,P1M,Monthly,BE,EUR,abc,,,2026-03-01,2026-03-31,,,\r\n"
    )
    with pytest.raises(PriceSheetInvalid, match="Line 43: UnitPrice “abc”"):
        price_sheet_import(broken, market="BE", timeline="current", month=date(2026, 3, 1))
    assert not PriceSheet.objects.exists() and not PriceRow.objects.exists()


def test_the_columns_are_read_by_their_names_not_their_places():
    lines = list(csv.reader(io.StringIO(FIXTURE.decode())))
    out = io.StringIO()
    csv.writer(out).writerows([line[::-1] for line in lines])  # ERP Price first, ProductTitle last
    rows = price_sheet_parse(out.getvalue().encode())
    assert [(r.product_id, r.erp_price) for r in rows[:2]] == [
        ("CFQ7TTC0LCHC", Decimal("29.17")),
        ("CFQ7TTC0LCHC", Decimal("306.28")),
    ]


# The reseller's rules


def test_rules_apply_most_specific_first(sheet, brightwave):
    other = Company.objects.create(legal_name="Other Corp NV", vat_number="BE0202239951", country="BE")
    row = cost_row(*PREMIUM, "P1Y", "Annual", on=MARCH)  # cost 247.20, ERP 291.70
    assert selling_price(row, company=brightwave, on=MARCH) == Decimal("291.70")  # no rule: ERP
    rule("global", value="10")
    assert selling_price(row, company=brightwave, on=MARCH) == Decimal("271.92")
    rule("product", value="20", product_id=PREMIUM[0])
    assert selling_price(row, company=brightwave, on=MARCH) == Decimal("296.64")
    rule("company", value="5", company=brightwave)
    assert selling_price(row, company=brightwave, on=MARCH) == Decimal("259.56")
    rule("company_product", kind="erp", company=brightwave, product_id=PREMIUM[0])
    assert selling_price(row, company=brightwave, on=MARCH) == Decimal("291.70")
    assert selling_price(row, company=other, on=MARCH) == Decimal("296.64")  # the product rule
    assert selling_price(row, company=None, on=MARCH) == Decimal("296.64")
    basic = cost_row(*BASIC, "P1Y", "Annual", on=MARCH)  # cost 67.20
    assert selling_price(basic, company=other, on=MARCH) == Decimal("73.92")  # the global rule


def test_a_rule_applies_only_between_its_dates(sheet, brightwave):
    rule("company", value="50", company=brightwave, valid_from=date(2026, 4, 1), valid_to=date(2026, 4, 30))
    row = cost_row(*BASIC, "P1Y", "Annual", on=MARCH)
    assert selling_price(row, company=brightwave, on=date(2026, 3, 31)) == Decimal("80.64")
    assert selling_price(row, company=brightwave, on=date(2026, 4, 1)) == Decimal("100.80")
    assert selling_price(row, company=brightwave, on=date(2026, 4, 30)) == Decimal("100.80")
    assert selling_price(row, company=brightwave, on=date(2026, 5, 1)) == Decimal("80.64")


def test_without_an_erp_price_the_cost_is_the_price(sheet):
    row = cost_row(*BASIC, "P1M", "Monthly", on=MARCH)
    assert selling_price(row, company=None, on=MARCH) == Decimal("6.72")
    rule("global", kind="erp")
    assert selling_price(row, company=None, on=MARCH) == Decimal("6.72")


@pytest.mark.parametrize(
    ("cost", "percentage", "expected"),
    [
        ("10.0050", "0", "10.01"),  # half up, not half even
        ("10.0049", "0", "10.00"),
        ("0.1250", "0", "0.13"),
        ("33.3333", "15", "38.33"),
        ("5.6000", "-100", "0.00"),
        ("19.9900", "12.5", "22.49"),  # 22.48875
    ],
)
def test_the_selling_price_is_rounded_half_up_to_the_cent_at_the_end(cost, percentage, expected):
    row = PriceRow(unit_price=Decimal(cost), erp_price=None)
    assert price_by_rule(row, PriceRule(kind="cost_plus_pct", value=Decimal(percentage))) == Decimal(expected)


def _exact_half_up(amount: Fraction) -> Fraction:
    cents = amount * 100
    whole = cents.numerator // cents.denominator
    return Fraction(whole + (1 if cents - whole >= Fraction(1, 2) else 0), 100)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    cost=st.decimals(min_value=0, max_value=Decimal("99999999.9999"), places=4),
    percentage=st.decimals(min_value=-100, max_value=1000, places=2),
)
def test_cost_plus_a_percentage_is_exact_decimal_arithmetic_rounded_to_cents(cost, percentage):
    price = price_by_rule(PriceRow(unit_price=cost, erp_price=None), PriceRule(kind="cost_plus_pct", value=percentage))
    assert isinstance(price, Decimal) and price.as_tuple().exponent == -2
    assert Fraction(price) == _exact_half_up(Fraction(cost) * (100 + Fraction(percentage)) / 100)


@hypothesis_settings(max_examples=200, deadline=None)
@given(erp=st.decimals(min_value=0, max_value=Decimal("99999999.9999"), places=4))
def test_the_erp_price_is_taken_as_it_is_rounded_to_cents(erp):
    price = price_by_rule(PriceRow(unit_price=Decimal(1), erp_price=erp), None)
    assert price.as_tuple().exponent == -2
    assert Fraction(price) == _exact_half_up(Fraction(erp))


# The options a customer chooses among


def test_business_premium_has_four_options_from_the_sheet_and_the_rules(sheet, brightwave):
    rule("company", value="10", company=brightwave)
    options = price_options(*PREMIUM, company=brightwave, on=MARCH)
    assert [(o.term_duration, o.billing_cycle, o.label) for o in options] == [
        ("P1M", "monthly", "Monthly term"),
        ("P1Y", "monthly", "1 year, billed monthly"),
        ("P1Y", "annual", "1 year, paid upfront"),
        ("P3Y", "annual", "3 years, billed annually"),
    ]
    assert [(o.term_price, o.monthly_price) for o in options] == [
        (Decimal("27.19"), Decimal("27.19")),  # 24.72 + 10%
        (Decimal("285.52"), Decimal("23.79")),  # 259.56 + 10%, 1/12 a month
        (Decimal("271.92"), Decimal("22.66")),  # 247.20 + 10%
        (Decimal("815.76"), Decimal("22.66")),  # 741.60 + 10%, over 36 months
    ]
    assert {o.currency for o in options} == {"EUR"}


def test_business_basic_has_three_options_at_microsofts_erp_price(sheet):
    options = price_options(*BASIC, company=None, on=MARCH)
    assert [(o.term_duration, o.billing_plan, o.term_price) for o in options] == [
        ("P1M", "Monthly", Decimal("6.72")),  # no ERP price: the cost
        ("P1Y", "Monthly", Decimal("84.67")),
        ("P1Y", "Annual", Decimal("80.64")),
    ]


def test_next_months_price_is_given_only_where_it_changes(sheet):
    options = {(o.term_duration, o.billing_plan): o for o in price_options(*PREMIUM, company=None, on=MARCH)}
    upfront = options[("P1Y", "Annual")]
    assert (upfront.term_price, upfront.next_term_price) == (Decimal("291.70"), Decimal("305.86"))
    assert upfront.next_monthly_price == Decimal("25.49") and upfront.next_from == date(2026, 4, 1)
    unchanged = options[("P1M", "Monthly")]
    assert unchanged.next_term_price is None and unchanged.next_from is None


def test_a_rule_starting_next_month_is_next_months_price(sheet, brightwave):
    rule("company", value="0", company=brightwave, valid_from=date(2026, 4, 1))
    option = price_options(*BASIC, company=brightwave, on=MARCH)[0]
    assert (option.term_price, option.next_term_price) == (Decimal("6.72"), None)  # cost 6.72 both ways
    option = price_options(*BASIC, company=brightwave, on=MARCH)[2]
    assert (option.term_price, option.next_term_price) == (Decimal("80.64"), Decimal("67.20"))


def test_the_options_cost_four_queries_whatever_the_terms(sheet, brightwave, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # the sheets in use (2), the rows, the rules
        assert len(price_options(*PREMIUM, company=brightwave, on=MARCH)) == 4


def test_the_option_labels_are_translated(sheet):
    with translation.override("nl"):
        assert [o.label for o in price_options(*BASIC, company=None, on=MARCH)] == [
            "Maandelijkse looptijd",
            "1 jaar, maandelijks gefactureerd",
            "1 jaar, vooraf betaald",
        ]
    with translation.override("fr"):
        assert price_options(*PREMIUM, company=None, on=MARCH)[3].label == "3 ans, facturés annuellement"


# Money


@pytest.mark.parametrize(
    ("language", "expected"),
    [("nl", "€\xa01.234,50"), ("fr", "1\u202f234,50\xa0€"), ("en", "€1,234.50")],
)
def test_money_is_written_as_each_language_writes_it_in_belgium(language, expected):
    assert money(Decimal("1234.5"), "EUR", language) == expected


def test_money_refuses_a_float():
    with pytest.raises(TypeError, match="never floats"):
        money(1234.5, "EUR", "en")  # type: ignore[arg-type]


# The import through Partner Center, and the monthly job


@pytest.fixture
def partner_center(fake_partner_center, settings):
    """The fake Partner Center with app+user credentials, as the price sheet API requires."""
    settings.PARTNER_CENTER_REFRESH_TOKEN = fake_partner_center.refresh_token
    fake_partner_center.price_sheets = {
        "current": FIXTURE,
        "future": simulated_price_sheet(market="BE", timeline="future", today=MARCH),
    }
    return fake_partner_center


def test_both_sheets_are_downloaded_from_partner_center_and_imported(partner_center, db):
    provisioner = PartnerCenterProvisioner(sleep=lambda seconds: None)
    assert price_sheets_refresh(provisioner=provisioner) == {"current": "imported", "future": "imported"}
    asked = partner_center.api_requests("GET", "/v1.0/sales/")
    assert [r.path for r in asked] == [
        "/v1.0/sales/pricesheets(Market='BE',PricesheetView='updatedlicensebased')/$value"
    ] * 2
    assert [r.query["timeline"] for r in asked] == [["current"], ["future"]]
    assert all(r.headers["authorization"].startswith("Bearer ") and r.headers["ms-requestid"] for r in asked)
    assert PriceSheet.objects.get(timeline="current").row_count == 10
    assert PriceSheet.objects.get(timeline="future").row_count == 41
    assert price_sheets_refresh(provisioner=provisioner) == {"current": "unchanged", "future": "unchanged"}
    assert PriceSheet.objects.count() == 2


def test_throttling_is_waited_out_as_retry_after_says(partner_center, db):
    sleeps: list[float] = []
    partner_center.fail_next("/v1.0/sales/", 429, retry_after=2, times=1)
    outcomes = price_sheets_refresh(provisioner=PartnerCenterProvisioner(sleep=sleeps.append))
    assert outcomes == {"current": "imported", "future": "imported"} and sleeps == [2.0]
    assert len(partner_center.api_requests("GET", "/v1.0/sales/")) == 3


def test_microsoft_unavailable_is_recorded_and_tried_again_later(partner_center, db, settings):
    settings.PARTNER_CENTER_MAX_RETRIES = 0
    partner_center.fail_next("/v1.0/sales/", 503, times=2)
    outcomes = price_sheets_refresh(provisioner=PartnerCenterProvisioner(sleep=lambda seconds: None))
    assert outcomes == {"current": "failed", "future": "failed"}
    failed = PriceSheetImport.objects.filter(outcome="failed")
    assert failed.count() == 2 and "HTTP 503" in failed.first().message
    retry = Timer.objects.get(key="price-sheets-import-retry")
    assert retry.kwargs == {"attempt": 2} and retry.due_at > timezone.now()


def test_a_malformed_file_from_microsoft_is_recorded_for_staff(partner_center, db):
    partner_center.price_sheets["future"] = _broken(5, ",259.20,", ",x,")
    outcomes = price_sheets_refresh(provisioner=PartnerCenterProvisioner(sleep=lambda seconds: None))
    assert outcomes == {"current": "imported", "future": "failed"}
    assert "Line 5: UnitPrice “x”" in PriceSheetImport.objects.get(outcome="failed").message
    assert not PriceSheet.objects.filter(timeline="future").exists()


def test_the_monthly_job_imports_on_the_first_and_arms_the_next_month(worker, time_machine):
    time_machine.move_to(timezone.make_aware(datetime(2026, 3, 15, 10, 0)), tick=False)
    call_command("import_price_sheet", verbosity=0)  # simulated provisioner: this month's and next month's
    assert PriceSheet.objects.count() == 2
    timer = Timer.objects.get(key=MONTHLY_KEY)
    assert timer.task_path == price_sheets_import_monthly.module_path
    assert timezone.localtime(timer.due_at) == timezone.make_aware(datetime(2026, 4, 1, 3, 0))

    time_machine.move_to(timezone.make_aware(datetime(2026, 4, 1, 3, 0, 1)), tick=False)
    worker()
    assert sorted(PriceSheet.objects.values_list("timeline", "month")) == [
        ("current", date(2026, 3, 1)),
        ("current", date(2026, 4, 1)),
        ("future", date(2026, 4, 1)),
        ("future", date(2026, 5, 1)),
    ]
    assert timezone.localtime(Timer.objects.get(key=MONTHLY_KEY).due_at) == timezone.make_aware(
        datetime(2026, 5, 1, 3, 0)
    )
    changes = price_changes_next_month(on=date(2026, 4, 1))
    changed = {(c.product_id, c.term_duration, c.billing_plan): c for c in changes}
    assert {product for product, _term, _plan in changed} == {"CFQ7TTC0LH16", "CFQ7TTC0LHSF"}
    exchange = changed[("CFQ7TTC0LH16", "P1Y", "Annual")]
    assert (exchange.cost_now, exchange.cost_next) == (Decimal("44.4000"), Decimal("48.0000"))


def test_the_simulated_sheet_has_microsofts_price_levels():
    rows = {
        (r.product_id, r.term_duration, r.billing_plan): r
        for r in price_sheet_parse(simulated_price_sheet(market="BE", timeline="current", today=MARCH))
    }
    basic_year = rows[(BASIC[0], "P1Y", "Annual")]
    assert basic_year.unit_price == Decimal("67.20")  # 5.60 a month for the term
    assert rows[(BASIC[0], "P1Y", "Monthly")].unit_price == Decimal("70.56")  # 5% more
    assert rows[(BASIC[0], "P1M", "Monthly")].unit_price == Decimal("6.72")  # 20% more a month
    assert Decimal("1.15") <= basic_year.erp_price / basic_year.unit_price <= Decimal("1.20")
    assert (PREMIUM[0], "P3Y", "Annual") in rows and (BASIC[0], "P3Y", "Annual") not in rows
    assert basic_year.effective_start == date(2026, 3, 1) and basic_year.effective_end == date(2026, 3, 31)


# The staff's prices page


@pytest.fixture
def staff(db, settings) -> Client:
    settings.STAFF_REQUIRE_MFA = False
    client = Client()
    client.force_login(User.objects.create_user("vera@reseller.example", "Vera-validates-2026", is_staff=True))
    return client


def test_only_staff_open_the_prices_page(db, settings, brightwave):
    settings.STAFF_REQUIRE_MFA = False
    kept = rule("company", value="5", company=brightwave)
    client = Client()
    for path in ("/backoffice/prices/", "/backoffice/prices/rules/new/"):
        assert client.get(path)["Location"].startswith("/accounts/login/")
    assert client.post("/backoffice/prices/import/").status_code == 302 and not DBTaskResult.objects.exists()
    client.force_login(User.objects.create_user("tess@brightwave.example", "Tess-manages-2026"))
    for path in ("/backoffice/prices/", "/backoffice/prices/rules/new/"):
        assert client.get(path).status_code == 404
    assert client.post("/backoffice/prices/import/").status_code == 404
    assert client.post("/backoffice/prices/rules/new/", {"kind": "erp"}).status_code == 404
    assert client.get(f"/backoffice/prices/rules/{kept.pk}/").status_code == 404
    assert client.post(f"/backoffice/prices/rules/{kept.pk}/", {"kind": "erp"}).status_code == 404
    assert client.post(f"/backoffice/prices/rules/{kept.pk}/delete/").status_code == 404
    assert list(PriceRule.objects.values_list("pk", "kind")) == [(kept.pk, "cost_plus_pct")]
    assert not DBTaskResult.objects.exists()


def test_staff_see_the_imports_the_rules_and_next_months_changes(staff, sheet, brightwave):
    future = simulated_price_sheet(market="BE", timeline="future", today=MARCH)
    price_sheet_import(future, market="BE", timeline="future", month=date(2026, 4, 1))
    rule("company", value="12.5", company=brightwave)
    page = staff.get("/backoffice/prices/", HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert page.status_code == 200
    assert sheet.sha256[:12] in text and ">10<" in text
    assert "Brightwave Analytics BV" in text and "Cost plus 12.5 %" in text
    assert "What changes next month" in text


def test_import_now_enqueues_the_import(staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/backoffice/prices/import/")
    assert response["Location"] == "/backoffice/prices/"
    assert DBTaskResult.objects.filter(task_path="portal.pricing.tasks.price_sheets_import").count() == 1
    assert Timer.objects.filter(key=MONTHLY_KEY).exists()


def test_staff_add_edit_and_delete_a_rule(staff, sheet, brightwave):
    response = staff.post(
        "/backoffice/prices/rules/new/",
        {"kind": "cost_plus_pct", "value": "15", "company": brightwave.pk, "product_id": PREMIUM[0]},
    )
    assert response.status_code == 302
    saved = PriceRule.objects.get()
    assert (saved.scope, saved.value, saved.company, saved.product_id) == (
        "company_product",
        Decimal("15.00"),
        brightwave,
        PREMIUM[0],
    )
    page = staff.get(f"/backoffice/prices/rules/{saved.pk}/")
    assert page.status_code == 200 and 'value="15' in page.content.decode()
    staff.post(f"/backoffice/prices/rules/{saved.pk}/", {"kind": "erp", "company": "", "product_id": ""})
    saved.refresh_from_db()
    assert (saved.scope, saved.kind, saved.company, saved.product_id) == ("global", "erp", None, "")
    assert staff.post(f"/backoffice/prices/rules/{saved.pk}/delete/").status_code == 302
    assert not PriceRule.objects.exists()
    assert staff.post(f"/backoffice/prices/rules/{saved.pk}/delete/").status_code == 302  # already gone: no error
    assert staff.get(f"/backoffice/prices/rules/{saved.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "cost_plus_pct", "value": "1000.01"}, "value", "Give a percentage from -100 to 1000."),
        ({"kind": "cost_plus_pct", "value": "-100.5"}, "value", "Give a percentage from -100 to 1000."),
        ({"kind": "cost_plus_pct", "value": ""}, "value", "Give the percentage to add to the cost."),
        ({"kind": "cost_plus_pct", "value": "lots"}, "value", "Enter a number."),
        ({"kind": "erp", "company": "999999"}, "company", "Select a valid choice."),
        ({"kind": "erp", "product_id": "CFQ7TTC0XXXX"}, "product_id", "Select a valid choice."),
        ({"kind": "erp", "valid_from": "2026-05-01", "valid_to": "2026-04-30"}, "valid_to", "The end comes before"),
        ({"kind": "discount"}, "kind", "Select a valid choice."),
    ],
)
def test_a_wrong_rule_is_refused_with_the_reason_beside_its_field(staff, sheet, data, field, message):
    response = staff.post("/backoffice/prices/rules/new/", data)
    text = response.content.decode()
    assert response.status_code == 200 and message in text
    assert f'id="id_{field}_error"' in text and "data-error-summary" in text
    assert not PriceRule.objects.exists()


def test_a_percentage_is_read_as_the_language_writes_it(staff, sheet):
    User.objects.update(language="nl")
    staff.post("/backoffice/prices/rules/new/", {"kind": "cost_plus_pct", "value": "12,5"})
    assert PriceRule.objects.get().value == Decimal("12.50")


def test_the_prices_page_is_linked_from_the_pipeline(staff):
    assert 'href="/backoffice/prices/"' in staff.get("/backoffice/").content.decode()


def test_the_options_are_decimal_even_when_a_float_is_stored_as_a_rule_value(sheet):
    PriceRule.objects.create(scope="global", kind="cost_plus_pct", value=12.5)  # type: ignore[misc]
    option = price_options(*BASIC, company=None, on=MARCH)[2]
    assert option.term_price == Decimal("75.60") and isinstance(option.monthly_price, Decimal)


def test_the_prices_of_a_day_far_from_the_sheet_are_none(sheet):
    assert price_options(*PREMIUM, company=None, on=MARCH + timedelta(days=400)) == []
