"""The staff's prices page: the last imports of Microsoft's price sheets, the selling rules, next month's changes."""

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_decimal
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.decorators import staff_required
from portal.pricing.forms import PriceRuleForm
from portal.pricing.models import PriceRule, PriceSheet, PriceSheetImport
from portal.pricing.services import (
    LOCALES,
    money,
    price_changes_next_month,
    price_rule_delete,
    price_rule_save,
    sheet_products,
    sheets_in_use,
)
from portal.pricing.sheets import price_sheets_import_now, price_sheets_schedule


@dataclass(frozen=True)
class TimelineState:
    label: str
    sheet: PriceSheet | None  # the sheet prices are read from
    last: PriceSheetImport | None  # the last attempt, which may have failed


@dataclass(frozen=True)
class RuleRow:
    pk: int
    company: str
    product: str
    selling: str
    valid: str


@dataclass(frozen=True)
class ChangeRow:
    title: str
    product_id: str
    term: str
    cost_now: str
    cost_next: str
    erp_now: str
    erp_next: str


def _percentage(value: Decimal) -> str:
    language = get_language() or "en"
    return format_decimal(value, format="#,##0.##", locale=LOCALES.get(language, LOCALES["en"]))


def _rule_rows(products: dict[str, str]) -> list[RuleRow]:
    rules = PriceRule.objects.select_related("company").order_by("company__legal_name", "product_id", "-valid_from")
    rows = []
    for rule in rules:
        if rule.kind == PriceRule.Kind.ERP:
            selling = _("Microsoft's ERP price")
        else:
            selling = _("Cost plus %(percentage)s %%") % {"percentage": _percentage(rule.value)}
        start = date_format(rule.valid_from, "SHORT_DATE_FORMAT") if rule.valid_from else ""
        end = date_format(rule.valid_to, "SHORT_DATE_FORMAT") if rule.valid_to else ""
        if start and end:
            valid = _("%(start)s to %(end)s") % {"start": start, "end": end}
        elif start:
            valid = _("from %(start)s") % {"start": start}
        elif end:
            valid = _("until %(end)s") % {"end": end}
        else:
            valid = _("always")
        rows.append(
            RuleRow(
                pk=rule.pk,
                company=rule.company.legal_name if rule.company else _("Every company"),
                product=products.get(rule.product_id, rule.product_id) if rule.product_id else _("Every product"),
                selling=selling,
                valid=valid,
            )
        )
    return rows


def _change_rows() -> list[ChangeRow]:
    language = get_language() or "en"

    def shown(amount: Decimal | None, currency: str) -> str:
        return money(amount, currency, language) if amount is not None else "–"

    return [
        ChangeRow(
            title=change.title,
            product_id=f"{change.product_id}:{change.sku_id}",
            term=change.term,
            cost_now=shown(change.cost_now, change.currency),
            cost_next=shown(change.cost_next, change.currency),
            erp_now=shown(change.erp_now, change.currency),
            erp_next=shown(change.erp_next, change.currency),
        )
        for change in price_changes_next_month()
    ]


def _timelines() -> list[TimelineState]:
    in_use = {sheet.timeline: sheet for sheet in PriceSheet.objects.filter(pk__in=sheets_in_use())}
    imports = PriceSheetImport.objects.order_by("-at", "-pk")
    return [
        TimelineState(str(label), in_use.get(value), imports.filter(timeline=value).first())
        for value, label in PriceSheet.Timeline.choices
    ]


@staff_required
def prices(request: HttpRequest) -> HttpResponse:
    products = dict(sheet_products())
    context = {"timelines": _timelines(), "rules": _rule_rows(products), "changes": _change_rows()}
    return render(request, "backoffice/prices.html", context)


@staff_required
@require_POST
def prices_import(request: HttpRequest) -> HttpResponse:
    price_sheets_schedule()
    price_sheets_import_now()
    messages.success(request, _("The import is on its way: reload this page in a minute to see its outcome."))
    return redirect("backoffice:prices")


def _rule_page(request: HttpRequest, rule: PriceRule | None) -> HttpResponse:
    products = sheet_products()
    initial = (
        {
            "kind": rule.kind,
            "value": rule.value if rule.kind == PriceRule.Kind.COST_PLUS_PCT else None,
            "company": rule.company_id,
            "product_id": rule.product_id,
            "valid_from": rule.valid_from,
            "valid_to": rule.valid_to,
        }
        if rule
        else {}
    )
    form = PriceRuleForm(request.POST or None, initial=initial, products=products)
    if request.method == "POST" and form.is_valid():
        price_rule_save(rule=rule, scope=form.scope, data=form.cleaned_data)
        messages.success(request, _("The price rule is saved."))
        return redirect("backoffice:prices")
    return render(request, "backoffice/price_rule.html", {"form": form, "rule": rule})


@staff_required
def price_rule_new(request: HttpRequest) -> HttpResponse:
    return _rule_page(request, None)


@staff_required
def price_rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    return _rule_page(request, get_object_or_404(PriceRule, pk=rule_id))


@staff_required
@require_POST
def price_rule_remove(request: HttpRequest, rule_id: int) -> HttpResponse:
    if price_rule_delete(rule_id=rule_id):
        messages.success(request, _("The price rule is deleted."))
    else:
        messages.info(request, _("This price rule was already deleted."))
    return redirect("backoffice:prices")
