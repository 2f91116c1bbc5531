"""Licence changes in the back-office: every change and order of every company, failed submissions sent again."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.decorators import staff_required
from portal.accounts.models import User
from portal.licences.changes import IllegalChangeMove, change_retry
from portal.licences.models import ChangeRequest

FILTERS = ("failed", "pending_approval", "submitting", "succeeded")


@staff_required
def licence_changes(request: HttpRequest) -> HttpResponse:
    """The latest licence changes (only the failed ones with ?status=failed), their Microsoft error and orders."""
    status = request.GET.get("status", "")
    changes = ChangeRequest.objects.select_related("company", "requested_by").prefetch_related("orders")
    if status in FILTERS:
        changes = changes.filter(status=status)
    context = {
        "changes": list(changes[:200]),
        "status": status if status in FILTERS else "",
        "statuses": [(value, ChangeRequest.Status(value).label) for value in FILTERS],
    }
    return render(request, "backoffice/licence_changes.html", context)


@staff_required
@require_POST
def licence_change_retry(request: HttpRequest, change_id: int) -> HttpResponse:
    """Send a failed change again, with its same MS-RequestId (Microsoft cannot apply it twice)."""
    assert isinstance(request.user, User)  # staff_required let only staff in
    try:
        change_retry(change_id=change_id, by=request.user)
    except ChangeRequest.DoesNotExist:
        messages.error(request, _("No such change."))
    except IllegalChangeMove as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("Change #%(number)s is sent again.") % {"number": change_id})
    return redirect("backoffice:licence_changes")
