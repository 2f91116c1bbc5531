"""The reseller's staff: the pipeline by stage, and the validation decisions."""

from django.core.paginator import EmptyPage, Paginator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Query, Router
from ninja.errors import HttpError

from portal.api import schemas
from portal.api.auth import SIGNED_IN, require_staff
from portal.api.requests import RequestId
from portal.onboarding.models import TenantRequest
from portal.onboarding.selectors import staff_requests
from portal.onboarding.services import request_ask_changes, request_reject, request_validate
from portal.onboarding.stages import Stage

router = Router(tags=["staff"], auth=SIGNED_IN)

ERRORS = schemas.CHANGE_ERRORS


class ListFilters(schemas.Schema):
    stage: Stage | None = None
    page: int = schemas.Field(1, ge=1, le=100_000)
    page_size: int = schemas.Field(50, ge=1, le=200)


@router.get(
    "/tenant-requests",
    response={200: schemas.Page, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 422: schemas.Error},
    summary="Requests by stage, oldest wait first",
)
def list_requests(request, filters: Query[ListFilters]):
    require_staff(request)
    paginator = Paginator(staff_requests(stage=filters.stage), filters.page_size)
    try:
        page = paginator.page(filters.page)
    except EmptyPage:
        pages = paginator.num_pages
        raise HttpError(
            404,
            ngettext("There is only %(count)d page.", "There are only %(count)d pages.", pages) % {"count": pages},
        ) from None
    return {
        "count": paginator.count,
        "page": filters.page,
        "page_size": filters.page_size,
        "results": page.object_list,
    }


def _decide(request, action, request_id: int, **kwargs) -> schemas.TenantRequestOut:
    user = require_staff(request)
    try:
        tenant_request = action(request_id=request_id, by=user, **kwargs)
    except TenantRequest.DoesNotExist:
        raise HttpError(404, _("No request #%(id)s.") % {"id": request_id}) from None
    except ValueError as error:
        raise HttpError(422, str(error)) from None
    return schemas.TenantRequestOut.of(tenant_request, staff=True)


@router.post(
    "/tenant-requests/{request_id}/validate",
    response={200: schemas.TenantRequestOut, **ERRORS},
    summary="Accept the information: the contract is prepared and sent",
)
def validate(request, request_id: int = RequestId):
    return _decide(request, request_validate, request_id)


@router.post(
    "/tenant-requests/{request_id}/reject",
    response={200: schemas.TenantRequestOut, **ERRORS},
    summary="Reject with a reason; both contacts are told",
)
def reject(request, payload: schemas.ReasonIn, request_id: int = RequestId):
    return _decide(request, request_reject, request_id, reason=payload.reason)


@router.post(
    "/tenant-requests/{request_id}/request-changes",
    response={200: schemas.TenantRequestOut, **ERRORS},
    summary="Ask the technical contact to correct the request",
)
def request_changes(request, payload: schemas.MessageIn, request_id: int = RequestId):
    return _decide(request, request_ask_changes, request_id, message=payload.message)
