"""The signing link, for integrators: read, ask for a code, sign. And the signed agreement of a request."""

from typing import Annotated

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Path, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import Field, StringConstraints

from portal.agreements.models import Agreement
from portal.agreements.services import (
    CodeTooSoon,
    SealUnavailable,
    Signature,
    SigningRefused,
    agreement_sign,
    invitation_find,
    signing_code_send,
    signing_open,
)
from portal.agreements.views import pdf_response
from portal.api import schemas
from portal.api.auth import SIGNED_IN, require_staff
from portal.api.requests import RequestId
from portal.core.links import link_http_errors
from portal.core.net import client_ip
from portal.core.ratelimit import rate_limit
from portal.core.text import Line
from portal.notifications.services import absolute_url
from portal.onboarding.selectors import request_get_for

router = Router(tags=["signing"])

Token = Path(..., max_length=200)
UNKNOWN = gettext_lazy("There is no signing link with this token.")


class SigningOut(Schema):
    company: str
    agreement_version: str
    status: str
    expires_at: str
    document_url: str


class SignIn(Schema):
    full_name: Annotated[Line, StringConstraints(max_length=200)]
    job_title: Annotated[Line, StringConstraints(max_length=200)]
    signing_authority: bool
    code: Annotated[Line, StringConstraints(max_length=20)]


class SignedOut(Schema):
    request_id: int
    stage: str
    signed_at: str
    signed_sha256: str


class CodeRefused(Schema):
    detail: str
    tries_left: int | None = Field(None, description="Wrong codes allowed before a new code is needed.")


@router.get(
    "/signing/{token}",
    response={200: SigningOut, 404: schemas.Error, 410: schemas.Error, 422: schemas.Error},
    auth=None,
    summary="The agreement behind a signing link",
)
def read(request, token: str = Token):
    with link_http_errors(unknown=str(UNKNOWN)):
        invitation = signing_open(raw=token)
        agreement = invitation.agreement
        return {
            "company": agreement.request.applicant.legal_name,
            "agreement_version": agreement.version,
            "status": agreement.status,
            "expires_at": invitation.expires_at.isoformat(),
            "document_url": absolute_url(reverse("agreements:document", args=[token])),
        }


@router.post(
    "/signing/{token}/code",
    response={
        202: schemas.Error,
        400: schemas.Error,
        404: schemas.Error,
        410: schemas.Error,
        422: schemas.Error,
        429: schemas.Error,
    },
    auth=None,
    summary="E-mail a one-time code to the signer",
)
def code(request, token: str = Token):
    with link_http_errors(unknown=str(UNKNOWN)):
        rate_limit(request, "signing_code", emails=[invitation_find(token).signer_email])
        try:
            invitation = signing_code_send(raw=token)
        except CodeTooSoon as wait:
            raise HttpError(429, str(wait)) from None
        except SigningRefused as refusal:
            raise HttpError(400, str(refusal)) from None
        return Status(
            202, {"detail": _("A 6-digit code was e-mailed to %(email)s.") % {"email": invitation.signer_email}}
        )


@router.post(
    "/signing/{token}",
    response={
        200: SignedOut,
        400: CodeRefused,
        404: schemas.Error,
        410: schemas.Error,
        422: schemas.Error,
        503: schemas.Error,
    },
    auth=None,
    summary="Sign the agreement",
)
def sign(request, payload: SignIn, token: str = Token):
    with link_http_errors(unknown=str(UNKNOWN)):
        invitation_find(token)
        signature = Signature(
            full_name=payload.full_name,
            job_title=payload.job_title,
            signing_authority=payload.signing_authority,
            code=payload.code,
            ip=client_ip(request) or None,
            user_agent=request.headers.get("User-Agent", ""),
        )
        try:
            agreement = agreement_sign(raw=token, signature=signature)
        except SealUnavailable as error:
            raise HttpError(503, str(error)) from None
        except SigningRefused as refusal:
            if refusal.field == "code" and signature.code.strip():
                return Status(400, {"detail": str(refusal), "tries_left": refusal.tries_left})
            return Status(422, {"detail": [{"loc": ["body", refusal.field], "msg": str(refusal), "type": "refused"}]})
        assert agreement.signed_at is not None  # set by the signature
        return {
            "request_id": agreement.request_id,
            "stage": agreement.request.stage,
            "signed_at": agreement.signed_at.isoformat(),
            "signed_sha256": agreement.signed_sha256,
        }


@router.get(
    "/tenant-requests/{request_id}/agreement.pdf",
    response={200: None, 401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 422: schemas.Error},
    auth=SIGNED_IN,
    summary="The sealed, signed agreement (PDF)",
)
def signed_pdf(request, request_id: int = RequestId) -> HttpResponse:
    if request.auth.is_staff:
        require_staff(request)
    tenant_request = request_get_for(user=request.auth, request_id=request_id)
    agreement = tenant_request.agreements.filter(status=Agreement.Status.SIGNED).first()
    if agreement is None or agreement.signed_pdf is None:
        raise HttpError(404, _("This request has no signed agreement yet."))
    return pdf_response(bytes(agreement.signed_pdf), agreement.signed_filename, inline=False)
