"""The company's licences: a card per subscription, and a subscription's page with what can be done with it now.

Every action becomes a change request (`change_request_create`): refused at once when New Commerce does not allow
it (the reason and what is still possible shown with the form), sent by the worker, or waiting for an approval.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.companies.models import Company
from portal.companies.permissions import Action, NotAllowed, Role, allowed_actions, can
from portal.companies.views import company_view
from portal.licences.changes import Asked, ChangeRefused, change_request_create
from portal.licences.kinds.subscriptions import warning_for
from portal.licences.models import ChangeRequest, Subscription
from portal.licences.subscription_forms import CancelForm, ScheduleForm, SeatsForm
from portal.licences.subscriptions import (
    card_of,
    moment_words,
    prorated_estimate,
    quantity_limits,
    refund_window,
    seats_addable,
    seats_added_at,
    sku_limits_load,
    still_possible,
    term_words,
    terms_offered,
    unit_price,
)
from portal.pricing.services import money

Kind = ChangeRequest.Kind
PER_PAGE = 50
OPEN = (ChangeRequest.Status.PENDING_APPROVAL, ChangeRequest.Status.APPROVED, ChangeRequest.Status.SUBMITTING)


@company_view()
def subscriptions_page(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """A card per subscription: product, seats, term and billing, renewal, auto-renew, status, removal window."""
    pages = Paginator(company.subscriptions.order_by("status", "friendly_name", "pk"), PER_PAGE)
    shown = pages.get_page(request.GET.get("page"))
    subscriptions = list(shown.object_list)
    now = timezone.now()
    added = seats_added_at(subscriptions)
    sku_limits_load(subscriptions)
    cards = [card_of(subscription, now, added_at=added.get(subscription.pk)) for subscription in subscriptions]
    context = {"company": company, "role": role, "allowed": allowed_actions(role), "cards": cards, "shown": shown}
    return render(request, "licences/subscriptions.html", context)


def _forms(subscription: Subscription, data=None, bound: str = "") -> dict:
    """The page's forms; the one named `bound` takes the posted data."""
    scheduled = bool(subscription.scheduled_next_term)
    terms = [(f"{term}/{cycle}", term_words(term, cycle)) for term, cycle in terms_offered(subscription)]
    maximum = quantity_limits(subscription)[1]
    window = refund_window(subscription)
    until = moment_words(timezone.now() + window)
    made = {
        "add": SeatsForm(
            data if bound == "add" else None,
            prefix="add",
            maximum=max(1, seats_addable(subscription)),
            scheduled=scheduled,
            help_text=_("Seats added now can be removed only until %(until)s.") % {"until": until},
        ),
        "remove": SeatsForm(
            data if bound == "remove" else None, prefix="remove", maximum=subscription.quantity, scheduled=scheduled
        ),
        "cancel": CancelForm(data if bound == "cancel" else None, prefix="cancel", scheduled=scheduled),
        "schedule": ScheduleForm(
            data if bound == "schedule" else None,
            prefix="schedule",
            terms=terms,
            maximum=maximum,
            initial={
                "quantity": (subscription.scheduled_next_term or {}).get("quantity", subscription.quantity),
                "term": f"{subscription.term_duration}/{subscription.billing_cycle}",
            },
        ),
    }
    return made


def _asked(name: str, form, subscription: Subscription) -> Asked:
    data = form.cleaned_data
    payload: dict = {"subscription_id": subscription.pk}
    if name == "add":
        found = unit_price(subscription)
        amount = (
            prorated_estimate(subscription, seats=data["quantity"], unit_price=found[0], now=timezone.now())
            if found
            else None
        )
        return Asked(
            Kind.ADD_SEATS,
            {**payload, "quantity": data["quantity"]},
            subscription,
            amount=amount,
            currency=found[1] if found else "",
        )
    if name == "remove":
        return Asked(Kind.REMOVE_SEATS, {**payload, "quantity": data["quantity"]}, subscription)
    if name == "cancel":
        return Asked(Kind.CANCEL, payload, subscription)
    term, _sep, cycle = data["term"].partition("/")
    return Asked(
        Kind.SCHEDULE,
        {**payload, "quantity": data["quantity"], "term_duration": term, "billing_cycle": cycle},
        subscription,
    )


def _asked_message(change: ChangeRequest) -> str:
    if change.status == ChangeRequest.Status.PENDING_APPROVAL:
        return _("Asked: an administrator or billing member must approve it before it is sent to Microsoft.")
    return _("Sent to Microsoft: the subscription shows the change once Microsoft has made it.")


@company_view()
def subscription_page(request: HttpRequest, company: Company, role: Role, subscription_id: int) -> HttpResponse:
    """A subscription, and what can be done with it now: each action's form, or what is still possible."""
    subscription = Subscription.objects.filter(company=company, pk=subscription_id).select_related("tenant").first()
    if subscription is None:
        raise Http404(_("No such subscription."))
    bound = request.POST.get("action", "") if request.method == "POST" else ""
    forms = _forms(subscription, request.POST, bound)
    if request.method == "POST":
        if not can(role, Action.CHANGE_LICENCES):
            return render(request, "companies/not_allowed.html", {"reason": _not_allowed(role)}, status=403)
        answer = _act(request, company, role, subscription, bound, forms)
        if answer is not None:
            return answer
    return _page(request, company, role, subscription, forms)


def _not_allowed(role: Role) -> str:
    return str(NotAllowed(Action.CHANGE_LICENCES, role))


def _act(request, company, role, subscription, bound, forms) -> HttpResponse | None:
    """Ask for the change the posted form says; None when the form (or New Commerce) refuses it."""
    assert isinstance(request.user, User)
    if bound == "auto_renew":
        asked = Asked(
            Kind.AUTO_RENEW,
            {"subscription_id": subscription.pk, "auto_renew": request.POST.get("auto_renew") == "on"},
            subscription,
        )
        form = None
    elif bound in forms and forms[bound].is_valid():
        form = forms[bound]
        asked = _asked(bound, form, subscription)
    else:
        return None
    try:
        change = change_request_create(company=company, by=request.user, role=role, asked=asked)
    except ChangeRefused as refused:
        reason = " ".join([str(refused), *refused.possible])
        if form is not None:
            form.add_error(None, reason)
        else:
            messages.error(request, reason)
            return redirect("licences:detail", company.pk, subscription.pk)
        return None
    messages.success(request, _asked_message(change))
    return redirect("licences:detail", company.pk, subscription.pk)


def _price(subscription: Subscription, role: Role, now) -> dict | None:
    """The seat's price and the prorated cost of one more seat now, for the roles that see prices."""
    if not can(role, Action.VIEW_PRICES):
        return None
    found = unit_price(subscription)
    if found is None:
        return None
    price, currency = found
    language = translation.get_language() or "en"
    one_more = prorated_estimate(subscription, seats=1, unit_price=price, now=now)
    return {
        "seat": money(price, currency, language),
        "total": money(price * subscription.quantity, currency, language),
        "one_more": money(one_more, currency, language) if one_more is not None else "",
    }


def _page(request, company, role, subscription, forms) -> HttpResponse:
    now = timezone.now()
    added_at = seats_added_at([subscription]).get(subscription.pk)
    card = card_of(subscription, now, added_at=added_at)
    context = {
        "company": company,
        "role": role,
        "allowed": allowed_actions(role),
        "card": card,
        "subscription": subscription,
        "forms": forms,
        "possible": still_possible(subscription, now),
        "warning": warning_for(Kind.ADD_SEATS, subscription),
        "changes": list(subscription.changes.filter(status__in=OPEN).order_by("-created_at")[:10]),
        "events": list(subscription.events.order_by("-at", "-pk")[:20]),
        "min_seats": quantity_limits(subscription)[0],
        "price": _price(subscription, role, now),
    }
    return render(request, "licences/subscription.html", context)
