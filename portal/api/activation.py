"""Activation of a new user's portal access, for integrators: set the first password."""

from typing import Annotated

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Path, Router, Schema
from ninja.responses import Status
from pydantic import StringConstraints

from portal.accounts.services import activation_complete
from portal.api import schemas
from portal.core.links import link_http_errors
from portal.core.text import Line

router = Router(tags=["activation"])


class PasswordIn(Schema):
    password: Annotated[Line, StringConstraints(max_length=4096)]


class ActivatedOut(Schema):
    detail: str
    email: str


@router.post(
    "/activation/{token}",
    response={200: ActivatedOut, 400: schemas.Error, 404: schemas.Error, 410: schemas.Error, 422: schemas.Error},
    auth=None,
    summary="Set the first password of a new user; the link then dies",
)
def activate(request, payload: PasswordIn, token: str = Path(..., max_length=200)):
    try:
        with link_http_errors(
            unknown=_("There is no activation link with this token."),
            dead=_("This activation link was used, expired or replaced: ask for a new one at /accounts/activation/."),
        ):
            user = activation_complete(raw=token, password=payload.password)
    except ValidationError as error:
        return Status(
            422,
            {
                "detail": [
                    {"loc": ["body", "password"], "msg": message, "type": "weak_password"} for message in error.messages
                ]
            },
        )
    return {"detail": _("Your password is set: sign in to the portal."), "email": user.email}
