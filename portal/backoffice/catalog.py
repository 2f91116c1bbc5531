"""The catalogue in the back-office: what Microsoft offers, the last sync, and which products customers see."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.decorators import staff_required
from portal.accounts.models import User
from portal.catalog.selectors import catalog_last_sync, catalog_rows
from portal.catalog.services import catalog_sync_request, listing_save


@staff_required
def catalog(request: HttpRequest) -> HttpResponse:
    """Every product with its SKUs, terms and current catalogItemId; a checkbox per product says customers see it."""
    country = settings.CATALOG_COUNTRY
    return render(
        request,
        "backoffice/catalog.html",
        {
            "country": country,
            "products": catalog_rows(country=country, language=get_language() or "en"),
            "last_sync": catalog_last_sync(country=country),
        },
    )


@staff_required
@require_POST
def catalog_listings(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # staff_required let only staff in
    changed = listing_save(visible=set(request.POST.getlist("visible")), by=request.user)
    if changed:
        messages.success(request, _("Saved: customers now see the products ticked below."))
    else:
        messages.info(request, _("Nothing changed."))
    return redirect("backoffice:catalog")


@staff_required
@require_POST
def catalog_sync_now(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # staff_required let only staff in
    catalog_sync_request(by=request.user)
    messages.success(request, _("The catalogue sync is on its way: reload this page in a minute to see its outcome."))
    return redirect("backoffice:catalog")
