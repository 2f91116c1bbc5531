"""Tenant requests: submit (anyone), read (the company, staff), availability of a prefix."""

import hashlib
import json
import re

from django.http import JsonResponse
from django.utils.translation import gettext as _
from ninja import Path, Router
from ninja.errors import HttpError
from ninja.renderers import NinjaJSONEncoder
from ninja.responses import Status

from portal.api import schemas
from portal.api.auth import SIGNED_IN, optional_user, require_staff
from portal.core.ratelimit import rate_limit
from portal.onboarding.domains import prefix_availability
from portal.onboarding.forms import TenantRequestForm
from portal.onboarding.selectors import request_get_for
from portal.onboarding.services import (
    Answer,
    IdempotencyConflict,
    PrefixTaken,
    request_submit_with_timeline,
    submit_once,
)

router = Router(tags=["tenant requests"])

MAX_ID = 2**63 - 1
RequestId = Path(..., ge=1, le=MAX_ID)
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

# Form field <- location in the JSON body, so that a form error points at the JSON field.
FIELD_LOCATIONS = {
    "company_legal_name": ("company", "legal_name"),
    "company_vat_number": ("company", "vat_number"),
    "company_address_line1": ("company", "address", "line1"),
    "company_address_line2": ("company", "address", "line2"),
    "company_postal_code": ("company", "address", "postal_code"),
    "company_city": ("company", "address", "city"),
    "company_country": ("company", "address", "country"),
    "company_phone": ("company", "phone"),
    "company_website": ("company", "website"),
    "tenant_domain_prefix": ("tenant", "domain_prefix"),
    "tenant_display_name": ("tenant", "display_name"),
    "tenant_country": ("tenant", "country"),
    **{
        f"{role}_{field}": (f"{role}_contact", field)
        for role in ("technical", "commercial")
        for field in ("first_name", "last_name", "email", "phone", "job_title")
    },
    "accept_terms": ("accept_terms",),
    "language": ("language",),
}


def _form_data(payload: dict) -> dict:
    data = {}
    for field, location in FIELD_LOCATIONS.items():
        value: dict | str = payload
        for part in location:
            value = value.get(part, "") if isinstance(value, dict) else ""
        data[field] = value
    data["accept_terms"] = "on" if payload.get("accept_terms") is True else ""
    return data


def _form_errors(form: TenantRequestForm) -> list[dict]:
    return [
        {
            "loc": ["body", *FIELD_LOCATIONS.get(field, (field,))],
            "msg": str(error.message % (error.params or {})),
            "type": error.code or "invalid",
        }
        for field, errors in form.errors.as_data().items()
        for error in errors
    ]


@router.get(
    "/tenant-domains/{prefix}/availability",
    response={200: schemas.Availability, 422: schemas.Error, 429: schemas.Error},
    auth=None,
    summary="Is <prefix>.onmicrosoft.com well-formed and free?",
)
def availability(request, prefix: str = Path(..., max_length=200)):
    rate_limit(request, "prefix_check")
    result = prefix_availability(prefix)
    return {"prefix": result.prefix, "available": result.available, "reason": result.reason}


@router.post(
    "/tenant-requests",
    response={
        201: schemas.TenantRequestOut,
        400: schemas.Error,
        401: schemas.Error,
        403: schemas.Error,
        409: schemas.Error,
        422: schemas.Error,
        429: schemas.Error,
    },
    auth=None,
    summary="Submit a tenant request (stored at To Validate; both contacts get a confirmation)",
)
def submit(request, payload: schemas.TenantRequestIn):
    rate_limit(request, "submit", emails=[payload.technical_contact.email, payload.commercial_contact.email])
    user = optional_user(request)
    body = payload.dict()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise HttpError(422, _("Idempotency-Key must be 1 to 200 visible ASCII characters."))

    def store() -> Answer:
        form = TenantRequestForm(_form_data(body))
        if not form.is_valid():
            raise _Refused(Answer(422, {"detail": _form_errors(form)}))
        tenant_request, timeline = request_submit_with_timeline(data=form.to_data(), user=user)
        answer = schemas.TenantRequestOut.of(tenant_request, staff=False, timeline=timeline)
        return Answer(201, json.loads(json.dumps(answer.model_dump(), cls=NinjaJSONEncoder)))

    try:
        if key is None:
            answer = store()
        else:
            fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
            answer = submit_once(key=f"{user.pk if user else 'anonymous'}:{key}", fingerprint=fingerprint, submit=store)
    except _Refused as refused:
        answer = refused.answer
    except IdempotencyConflict:
        raise HttpError(
            422, _("This Idempotency-Key was already used with another body: use a new key for a new request.")
        ) from None
    except PrefixTaken:
        return Status(409, {"detail": _("This tenant name was taken a moment ago by another request: choose another.")})
    return JsonResponse(answer.body, status=answer.status)  # as sent the first time, when replayed


class _Refused(Exception):
    """The body does not make a request: the answer says why, and nothing is kept under its key."""

    def __init__(self, answer: Answer):
        self.answer = answer


@router.get(
    "/tenant-requests/{request_id}",
    response={
        200: schemas.TenantRequestOut,
        401: schemas.Error,
        403: schemas.Error,
        404: schemas.Error,
        422: schemas.Error,
    },
    auth=SIGNED_IN,
    summary="A request with its stage and timeline (the request's company, or staff)",
)
def read(request, request_id: int = RequestId):
    if request.auth.is_staff:
        require_staff(request)
    tenant_request = request_get_for(user=request.auth, request_id=request_id)
    return schemas.TenantRequestOut.of(tenant_request, staff=request.auth.is_staff)
