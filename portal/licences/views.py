"""The customer's licence pages: the catalogue with the company's prices, the cart, the review where the commitment is
ticked, the orders and changes with the licence timeline, and the approvals of changes technical members asked for.

The cart lives in the session (one per company): Microsoft's carts expire after seven days, so the Partner Center
cart is made only when a change is submitted.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.models import User
from portal.catalog.selectors import ProductRow, SkuRow, catalog_listed
from portal.companies.models import Company
from portal.companies.permissions import Action, Role, allowed_actions, can
from portal.companies.views import company_view
from portal.licences.changes import ChangeRefused, IllegalChangeMove, change_decide
from portal.licences.forms import CartAddForm, CartQuantityForm, RefuseForm, ReviewForm
from portal.licences.models import ChangeRequest, LicenceEvent, Order
from portal.licences.purchase import commitment_words, line_check, option_price, purchase_request, removal_days
from portal.pricing.services import PriceOption, money, price_options

Status = ChangeRequest.Status


def _language() -> str:
    return (translation.get_language() or "en")[:2]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # company_view signs in first
    return request.user


def _cart_key(company: Company) -> str:
    return f"licence-cart-{company.pk}"


def _cart(request: HttpRequest, company: Company) -> list[dict[str, Any]]:
    return list(request.session.get(_cart_key(company), []))


def _cart_save(request: HttpRequest, company: Company, lines: list[dict[str, Any]]) -> None:
    request.session[_cart_key(company)] = lines


@dataclass(frozen=True)
class PricedTerm:
    value: str  # "P1Y:monthly", as the form sends it
    words: str
    price: str  # "" when the role may not see prices or the sheet has none
    per_month: str
    next_price: str


def _priced_terms(product: ProductRow, sku: SkuRow, company: Company, show_prices: bool) -> list[PricedTerm]:
    prices: dict[tuple[str, str], PriceOption] = {}
    if show_prices:
        prices = {
            (p.term_duration, p.billing_cycle): p
            for p in price_options(product.product_id, sku.sku_id, company=company)
        }
    language = _language()
    rows = []
    for term in sku.terms:
        price = prices.get((term.duration, term.billing_cycle))
        rows.append(
            PricedTerm(
                value=f"{term.duration}:{term.billing_cycle}",
                words=term.words,
                price=money(price.term_price, price.currency, language) if price else "",
                per_month=money(price.monthly_price, price.currency, language) if price else "",
                next_price=money(price.next_term_price, price.currency, language)
                if price and price.next_term_price is not None and price.next_term_price != price.term_price
                else "",
            )
        )
    return rows


def _catalog_page(request: HttpRequest, company: Company, role: Role, bound: CartAddForm | None = None) -> HttpResponse:
    show_prices = can(role, Action.VIEW_PRICES)
    products = []
    for product in catalog_listed(country=settings.CATALOG_COUNTRY, language=_language()):
        skus = []
        for sku in product.skus:
            if not sku.is_purchasable or not sku.catalog_item_id:
                continue
            terms = _priced_terms(product, sku, company, show_prices)
            prefix = sku.catalog_item_id.replace(":", "-")
            form = (
                bound
                if bound is not None and bound.prefix == prefix
                else CartAddForm(
                    prefix=prefix,
                    initial={"catalog_item_id": sku.catalog_item_id, "term": terms[0].value if terms else ""},
                )
            )
            skus.append({"sku": sku, "terms": terms, "form": form})
        if skus:
            products.append({"product": product, "skus": skus})
    context = {"company": company, "role": role, "allowed": allowed_actions(role), "products": products}
    context["cart_count"] = len(_cart(request, company))
    return render(request, "licences/catalog.html", context, status=200 if bound is None else 422)


@company_view()
def catalog(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """The licences the reseller offers, in the user's language, with the company's prices (not for read-only)."""
    return _catalog_page(request, company, role)


def _line_of(catalog_item_id: str, term: str, quantity: int | None) -> dict[str, Any]:
    duration, _sep, cycle = term.partition(":")
    return {"catalog_item_id": catalog_item_id, "term_duration": duration, "billing_cycle": cycle, "quantity": quantity}


@company_view(Action.VIEW_PRICES)
def prices(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """The company's price list: every licence's terms with its price for the term and per month."""
    rows = [
        {"product": product, "sku": sku, "terms": _priced_terms(product, sku, company, True)}
        for product in catalog_listed(country=settings.CATALOG_COUNTRY, language=_language())
        for sku in product.skus
        if sku.is_purchasable
    ]
    return render(request, "licences/prices.html", {"company": company, "rows": rows, "allowed": allowed_actions(role)})


@require_POST
@company_view(Action.CHANGE_LICENCES)
def cart_add(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """Add a licence to the cart, refused at once when the catalogue does not sell it so (seats, term)."""
    prefix = next((key.split("-quantity")[0] for key in request.POST if key.endswith("-quantity")), "")
    form = CartAddForm(request.POST, prefix=prefix or None)
    if not form.is_valid():
        return _catalog_page(request, company, role, form)
    line = _line_of(form.cleaned_data["catalog_item_id"], form.cleaned_data["term"], form.cleaned_data["quantity"])
    try:
        line_check(line)
    except ChangeRefused as refused:
        form.add_error("quantity" if "seats" in str(refused) else "term", str(refused))
        return _catalog_page(request, company, role, form)
    lines = [
        kept
        for kept in _cart(request, company)
        if (kept["catalog_item_id"], kept["term_duration"], kept["billing_cycle"])
        != (line["catalog_item_id"], line["term_duration"], line["billing_cycle"])
    ]
    _cart_save(request, company, [*lines, line])
    messages.success(request, _("Added to the cart."))
    return redirect("licence_cart", company.pk)


@dataclass
class CartRow:
    number: int
    line: dict[str, Any]
    title: str
    commitment: str
    amount: str
    form: CartQuantityForm


def _titles() -> dict[str, str]:
    return {
        sku.catalog_item_id: f"{product.title} · {sku.title}" if sku.title != product.title else product.title
        for product in catalog_listed(country=settings.CATALOG_COUNTRY, language=_language())
        for sku in product.skus
    }


def _cart_rows(request: HttpRequest, company: Company, role: Role, bound: dict[int, CartQuantityForm]) -> list[CartRow]:
    titles, rows = _titles(), []
    for number, line in enumerate(_cart(request, company)):
        try:
            offer = line_check(line)
        except ChangeRefused as refused:
            commitment, amount = str(refused), ""
        else:
            term = offer.term(line["term_duration"], line["billing_cycle"])
            commitment = commitment_words(line["term_duration"], line["billing_cycle"], removal_days(term))
            price = option_price(
                offer.product_id, offer.sku_id, line["term_duration"], line["billing_cycle"], company=company
            )
            amount = (
                money(price.term_price * line["quantity"], price.currency, _language())
                if price and can(role, Action.VIEW_PRICES)
                else ""
            )
        form = bound.get(number) or CartQuantityForm(prefix=f"line{number}", initial={"quantity": line["quantity"]})
        rows.append(
            CartRow(
                number, line, titles.get(line["catalog_item_id"], line["catalog_item_id"]), commitment, amount, form
            )
        )
    return rows


@company_view(Action.CHANGE_LICENCES)
def cart(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """The cart: seats editable, lines removable; each line's commitment in words, its price for those who see it."""
    bound: dict[int, CartQuantityForm] = {}
    if request.method == "POST":
        lines = _cart(request, company)
        number = int(request.POST.get("line", "-1")) if request.POST.get("line", "").isdigit() else -1
        if 0 <= number < len(lines):
            if "remove" in request.POST:
                del lines[number]
                _cart_save(request, company, lines)
                messages.success(request, _("Removed from the cart."))
                return redirect("licence_cart", company.pk)
            form = CartQuantityForm(request.POST, prefix=f"line{number}")
            if form.is_valid():
                changed = {**lines[number], "quantity": form.cleaned_data["quantity"]}
                try:
                    line_check(changed)
                except ChangeRefused as refused:
                    form.add_error("quantity", str(refused))
                else:
                    lines[number] = changed
                    _cart_save(request, company, lines)
                    messages.success(request, _("The seats are changed."))
                    return redirect("licence_cart", company.pk)
            bound[number] = form
    rows = _cart_rows(request, company, role, bound)
    context = {"company": company, "role": role, "rows": rows, "allowed": allowed_actions(role)}
    return render(request, "licences/cart.html", context, status=422 if bound else 200)


@company_view(Action.CHANGE_LICENCES)
def review(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """The last step: each line's commitment stated in words, and a tick box; then one change request per line."""
    rows = _cart_rows(request, company, role, {})
    form = ReviewForm(request.POST if request.method == "POST" else None)
    problems: list[str] = []
    if request.method == "POST" and rows and form.is_valid():
        kept = []
        for row in rows:
            try:
                purchase_request(
                    company=company, by=_user(request), role=role, asked=row.line, acknowledged_text=row.commitment
                )
            except ChangeRefused as refused:
                problems.append(f"{row.title}: {refused}")
                kept.append(row.line)
        _cart_save(request, company, kept)
        if not problems:
            messages.success(request, _("Your order is placed: you can follow it here."))
            return redirect("licence_orders", company.pk)
    waits = not can(role, Action.APPROVE_LICENCES)
    context = {
        "company": company,
        "role": role,
        "rows": rows,
        "form": form,
        "problems": problems,
        "waits": waits,
        "allowed": allowed_actions(role),
    }
    status = 422 if request.method == "POST" and (problems or form.errors) else 200
    return render(request, "licences/review.html", context, status=status)


@company_view()
def orders(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """The company's licence changes and orders, their status and errors in words, and its licence timeline."""
    context = {
        "company": company,
        "role": role,
        "show_prices": can(role, Action.VIEW_PRICES),
        "changes": [
            (change, money(change.amount, change.currency, _language()) if change.amount is not None else "")
            for change in ChangeRequest.objects.filter(company=company).select_related("requested_by")[:100]
        ],
        "orders": list(Order.objects.filter(company=company).order_by("-created_at")[:100]),
        "events": list(LicenceEvent.objects.filter(company=company)[:100]),
        "allowed": allowed_actions(role),
    }
    return render(request, "licences/orders.html", context)


@company_view(Action.APPROVE_LICENCES)
def approvals(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """Changes technical members asked for, waiting for an administrator or billing member."""
    waiting = ChangeRequest.objects.filter(company=company, status=Status.PENDING_APPROVAL).select_related(
        "requested_by", "subscription"
    )
    titles = _titles()
    rows = [
        {
            "change": change,
            "title": titles.get(change.payload.get("catalog_item_id", ""), change.payload.get("catalog_item_id", ""))
            if change.kind == ChangeRequest.Kind.PURCHASE
            else str(change.subscription or ""),
            "amount": money(change.amount, change.currency, _language()) if change.amount is not None else "",
            "form": RefuseForm(prefix=f"refuse{change.pk}"),
        }
        for change in waiting
    ]
    context = {"company": company, "role": role, "rows": rows, "allowed": allowed_actions(role)}
    return render(request, "licences/approvals.html", context)


@require_POST
@company_view(Action.APPROVE_LICENCES)
def approval_decide(request: HttpRequest, company: Company, role: Role, change_id: int) -> HttpResponse:
    """Approve (checked again, then sent to Microsoft) or refuse with a reason (never sent)."""
    if not ChangeRequest.objects.filter(company=company, pk=change_id).exists():
        raise Http404(_("No such change of this company."))
    approve = "approve" in request.POST
    reason = ""
    if not approve:
        form = RefuseForm(request.POST, prefix=f"refuse{change_id}")
        if not form.is_valid():
            messages.error(request, _("Say why the change is refused."))
            return redirect("licence_approvals", company.pk)
        reason = form.cleaned_data["reason"]
    try:
        change_decide(change_id=change_id, company=company, by=_user(request), approve=approve, reason=reason)
    except ChangeRequest.DoesNotExist:
        raise Http404(_("No such change of this company.")) from None
    except (ChangeRefused, IllegalChangeMove) as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("Approved: it is being sent to Microsoft.") if approve else _("Refused."))
    return redirect("licence_approvals", company.pk)
