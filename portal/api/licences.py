"""Licences: the catalogue with the company's prices, and change requests (buy, approve), under the permission table.

Prices are shown only to a role that may see them (`Action.VIEW_PRICES`): read-only members see products, terms and
seats, never an amount.
"""

from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status

from portal.accounts.models import User
from portal.api import schemas
from portal.api.auth import SIGNED_IN
from portal.catalog.selectors import catalog_listed
from portal.companies.models import Company, Membership
from portal.companies.permissions import Action, can, company_for
from portal.licences.changes import Asked, ChangeRefused, IllegalChangeMove, change_decide, change_request_create
from portal.licences.models import ChangeRequest, Subscription
from portal.licences.purchase import commitment_words, offer_find, purchase_request, removal_days
from portal.pricing.services import price_options

router = Router(tags=["licences"], auth=SIGNED_IN)
CompanyId = schemas.Path(..., ge=1, le=2**63 - 1)
ChangeId = schemas.Path(..., ge=1, le=2**63 - 1)
KindName = Literal["purchase", "add_seats", "remove_seats", "cancel", "auto_renew", "schedule"]
StatusName = Literal["pending_approval", "approved", "submitting", "succeeded", "failed", "rejected"]


class OptionOut(schemas.Schema):
    term_duration: str
    billing_cycle: str
    unit_price: Decimal | None = schemas.Field(
        description="The price of one licence for the whole term, excluding VAT; null for read-only members."
    )
    currency: str | None


class SkuOut(schemas.Schema):
    sku_id: str
    title: str
    catalog_item_id: str
    min_quantity: int
    max_quantity: int
    options: list[OptionOut]


class ProductOut(schemas.Schema):
    product_id: str
    title: str
    skus: list[SkuOut]


class ChangeIn(schemas.Schema):
    kind: schemas.ShortText | None = schemas.Field(
        None, description="Required: purchase, add_seats, remove_seats, cancel, auto_renew or schedule."
    )
    catalog_item_id: schemas.ShortText | None = None
    quantity: int | None = schemas.Field(None, ge=0, le=1_000_000)
    term_duration: schemas.ShortText | None = None
    billing_cycle: schemas.ShortText | None = None
    acknowledged: bool = schemas.Field(
        False, description="For a purchase: the buyer accepts the commitment (the term, the 7-day removal window)."
    )
    subscription_id: int | None = schemas.Field(None, ge=1, le=2**63 - 1)
    auto_renew: bool | None = None


class RefuseIn(schemas.Schema):
    reason: schemas.Text = schemas.Field("", description="Why it is refused (required; the requester reads it).")


class ChangeAccepted(schemas.Schema):
    id: int
    status: StatusName


class ChangeOut(schemas.Schema):
    id: int
    kind: KindName
    status: StatusName
    error: str
    created_at: str

    @staticmethod
    def resolve_created_at(change: ChangeRequest) -> str:
        return change.created_at.isoformat()


def _price_company(user: User, company_id: int | None) -> Company | None:
    """The company whose prices the user sees: the one asked for, else the first whose role may see prices."""
    memberships = Membership.objects.filter(user=user).select_related("company").order_by("company_id")
    if company_id is not None:
        company, role = company_for(user, company_id, Action.VIEW)
        return company if can(role, Action.VIEW_PRICES) else None
    for membership in memberships:
        if can(Membership.Role(membership.role), Action.VIEW_PRICES):
            return membership.company
    return None


@router.get(
    "/catalog/products",
    response={200: list[ProductOut], **schemas.READ_ERRORS},
    summary="The licences the reseller offers, with their terms and (for roles that may see them) prices",
)
def catalog_products(request, company_id: int | None = None):
    priced = _price_company(request.auth, company_id)
    language = translation.get_language() or "en"
    found = []
    for product in catalog_listed(country=settings.CATALOG_COUNTRY, language=language[:2]):
        skus = []
        for sku in product.skus:
            if not sku.is_purchasable:
                continue
            prices = (
                {
                    (p.term_duration, p.billing_cycle): p
                    for p in price_options(product.product_id, sku.sku_id, company=priced)
                }
                if priced is not None
                else {}
            )
            options = []
            for term in sku.terms:
                price = prices.get((term.duration, term.billing_cycle))
                options.append(
                    {
                        "term_duration": term.duration,
                        "billing_cycle": term.billing_cycle,
                        "unit_price": price.term_price if price else None,
                        "currency": price.currency if price else None,
                    }
                )
            skus.append(
                {
                    "sku_id": sku.sku_id,
                    "title": sku.title,
                    "catalog_item_id": sku.catalog_item_id,
                    "min_quantity": sku.min_quantity,
                    "max_quantity": sku.max_quantity,
                    "options": options,
                }
            )
        found.append({"product_id": product.product_id, "title": product.title, "skus": skus})
    return found


def _refused(error: ChangeRefused) -> HttpError:
    possible = f" {_('Still possible:')} {'; '.join(error.possible)}" if error.possible else ""
    return HttpError(error.status, f"{error}{possible}")


@router.post(
    "/companies/{company_id}/change-requests",
    response={202: ChangeAccepted, **schemas.CHANGE_ERRORS},
    summary="Ask for a licence change: a purchase, or a change of a subscription (a technical member's waits)",
)
def change_create(request, payload: ChangeIn, company_id: int = CompanyId):
    company, role = company_for(request.auth, company_id, Action.CHANGE_LICENCES)
    if payload.kind not in ChangeRequest.Kind.values:
        raise HttpError(422, _("Say which kind of change: purchase, add_seats, remove_seats, cancel or auto_renew."))
    try:
        if payload.kind == ChangeRequest.Kind.PURCHASE:
            change = _purchase(request.auth, company, role, payload)
        else:
            change = _subscription_change(request.auth, company, role, payload)
    except ChangeRefused as error:
        raise _refused(error) from None
    return Status(202, {"id": change.pk, "status": change.status})


def _purchase(user: User, company: Company, role: str, payload: ChangeIn) -> ChangeRequest:
    if not payload.acknowledged:
        raise ChangeRefused(_("Tick the box to confirm you understand the commitment."), status=422)
    offer = offer_find(payload.catalog_item_id or "")
    term = offer.term(payload.term_duration or "", payload.billing_cycle or "") if offer else None
    words = commitment_words(payload.term_duration or "", payload.billing_cycle or "", removal_days(term))
    return purchase_request(
        company=company,
        by=user,
        role=role,
        asked=payload.model_dump(include={"catalog_item_id", "quantity", "term_duration", "billing_cycle"}),
        acknowledged_text=words,
    )


def _subscription_change(user: User, company: Company, role: str, payload: ChangeIn) -> ChangeRequest:
    """A change of one of the company's subscriptions: its kind's own check says what New Commerce allows."""
    subscription = Subscription.objects.filter(company=company, pk=payload.subscription_id or 0).first()
    if subscription is None:
        raise Http404(_("No such subscription of this company."))
    asked = payload.model_dump(include={"quantity", "auto_renew"}, exclude_none=True)
    return change_request_create(
        company=company,
        by=user,
        role=role,
        asked=Asked(kind=str(payload.kind), payload=asked, subscription=subscription),
    )


@router.get(
    "/companies/{company_id}/change-requests",
    response={200: list[ChangeOut], **schemas.READ_ERRORS},
    summary="The company's licence changes, newest first",
)
def change_list(request, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.VIEW)
    return list(ChangeRequest.objects.filter(company=company)[:200])


def _change(company: Company, change_id: int) -> ChangeRequest:
    change = ChangeRequest.objects.filter(company=company, pk=change_id).first()
    if change is None:
        raise Http404(_("No such change of this company."))
    return change


@router.get(
    "/companies/{company_id}/change-requests/{change_id}",
    response={200: ChangeOut, **schemas.READ_ERRORS},
    summary="One licence change: its status and, when it failed, why",
)
def change_get(request, company_id: int = CompanyId, change_id: int = ChangeId):
    company, _role = company_for(request.auth, company_id, Action.VIEW)
    return _change(company, change_id)


def _decide(request, company_id: int, change_id: int, *, approve: bool, reason: str = "") -> ChangeRequest:
    company, _role = company_for(request.auth, company_id, Action.APPROVE_LICENCES)
    _change(company, change_id)
    try:
        return change_decide(change_id=change_id, company=company, by=request.auth, approve=approve, reason=reason)
    except IllegalChangeMove as error:
        raise HttpError(409, str(error)) from None
    except ChangeRefused as error:
        raise _refused(error) from None


@router.post(
    "/companies/{company_id}/change-requests/{change_id}/approve",
    response={200: ChangeAccepted, **schemas.CHANGE_ERRORS},
    summary="Approve a change a technical member asked for: it is checked again, then sent to Microsoft",
)
def change_approve(request, company_id: int = CompanyId, change_id: int = ChangeId):
    change = _decide(request, company_id, change_id, approve=True)
    return {"id": change.pk, "status": change.status}


@router.post(
    "/companies/{company_id}/change-requests/{change_id}/refuse",
    response={200: ChangeAccepted, **schemas.CHANGE_ERRORS},
    summary="Refuse a change a technical member asked for, saying why: it is never sent",
)
def change_refuse(request, payload: RefuseIn, company_id: int = CompanyId, change_id: int = ChangeId):
    if not payload.reason.strip():
        company, _role = company_for(request.auth, company_id, Action.APPROVE_LICENCES)
        _change(company, change_id)
        raise HttpError(422, _("Say why the change is refused."))
    change = _decide(request, company_id, change_id, approve=False, reason=payload.reason)
    return {"id": change.pk, "status": change.status}


class PriceOut(schemas.Schema):
    product_id: str
    sku_id: str
    catalog_item_id: str
    term_duration: str
    billing_cycle: str
    unit_price: Decimal = schemas.Field(description="One licence for the whole term, excluding VAT.")
    monthly_price: Decimal
    currency: str
    next_unit_price: Decimal | None = schemas.Field(description="From next month, when next month's sheet changes it.")


@router.get(
    "/companies/{company_id}/prices",
    response={200: list[PriceOut], **schemas.READ_ERRORS},
    summary="The company's prices of every licence offered, per term (not for read-only members)",
)
def company_prices(request, company_id: int = CompanyId):
    company, _role = company_for(request.auth, company_id, Action.VIEW_PRICES)
    found = []
    for product in catalog_listed(country=settings.CATALOG_COUNTRY, language="en"):
        for sku in product.skus:
            if not sku.is_purchasable:
                continue
            for price in price_options(product.product_id, sku.sku_id, company=company):
                found.append(
                    {
                        "product_id": product.product_id,
                        "sku_id": sku.sku_id,
                        "catalog_item_id": sku.catalog_item_id,
                        "term_duration": price.term_duration,
                        "billing_cycle": price.billing_cycle,
                        "unit_price": price.term_price,
                        "monthly_price": price.monthly_price,
                        "currency": price.currency,
                        "next_unit_price": price.next_term_price,
                    }
                )
    return found
