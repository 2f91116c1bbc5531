"""Tenant requests: submit (anyone), read (the company, staff), availability of a prefix."""

import hashlib
import json
import re
from contextlib import nullcontext

from django.db import IntegrityError, transaction
from ninja import Path, Router
from ninja.errors import HttpError
from ninja.responses import Status

from portal.api import schemas
from portal.api.auth import SIGNED_IN, optional_user, require_staff
from portal.api.serializers import request_out
from portal.core.ratelimit import rate_limit
from portal.onboarding.domains import prefix_availability
from portal.onboarding.forms import TenantRequestForm
from portal.onboarding.models import IdempotencyRecord
from portal.onboarding.selectors import request_get_for
from portal.onboarding.services import PrefixTaken, request_submit_with_timeline

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
    scoped_key = body_hash = ""
    if key is not None:
        if not _IDEMPOTENCY_KEY.match(key):
            raise HttpError(422, "Idempotency-Key must be 1 to 200 visible ASCII characters.")
        scoped_key = f"{user.pk if user else 'anonymous'}:{key}"
        body_hash = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        replay = _replay(scoped_key, body_hash)
        if replay is not None:
            return replay
    form = TenantRequestForm(_form_data(body))
    if not form.is_valid():
        return Status(422, {"detail": _form_errors(form)})
    try:
        # The request and its idempotency record are stored together; without a key the service's own transaction is enough.
        with transaction.atomic() if scoped_key else nullcontext():
            tenant_request, timeline = request_submit_with_timeline(data=form.to_data(), user=user)
            answer = request_out(tenant_request, timeline)
            if scoped_key:
                IdempotencyRecord.objects.create(
                    key=scoped_key, body_hash=body_hash, status_code=201, response=json.loads(_json(answer))
                )
    except PrefixTaken:
        replay = _replay(scoped_key, body_hash) if scoped_key else None
        if replay is not None:  # the same request, sent again while the first was being stored
            return replay
        return Status(409, {"detail": "This tenant name was taken a moment ago by another request: choose another."})
    except IntegrityError:
        replay = _replay(scoped_key, body_hash) if scoped_key else None
        if replay is None:
            raise
        return replay
    return Status(201, answer)


def _json(value: dict) -> str:
    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(value, cls=DjangoJSONEncoder)


def _replay(scoped_key: str, body_hash: str):
    record = IdempotencyRecord.objects.filter(key=scoped_key).first()
    if record is None:
        return None
    if record.body_hash != body_hash:
        raise HttpError(
            422, "This Idempotency-Key was already used with another body: use a new key for a new request."
        )
    return Status(record.status_code, record.response)


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
    return request_out(tenant_request, for_customer=not request.auth.is_staff)
