from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from portal.accounts.recent_auth import RecentAuthNeeded
from portal.api import activation, licences, me, requests, schemas, signing, staff, tokens
from portal.api import subscriptions as subscriptions_api
from portal.companies.permissions import NotAllowed, SecondFactorNeeded
from portal.core.ratelimit import RateLimited, retry_after
from portal.onboarding.pipeline import IllegalMove

api = NinjaAPI(
    title="Tenant onboarding portal API",
    version="1",
    description="Request a Microsoft tenant, follow it, and (for the reseller's staff) validate it. "
    'Errors are JSON `{"detail": …}` with a 4xx status.',
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", tokens.router)
api.add_router("", requests.router)
api.add_router("", signing.router)
api.add_router("", activation.router)
api.add_router("", me.router)
api.add_router("/staff", staff.router)
api.add_router("", licences.router)
api.add_router("", subscriptions_api.router)


@api.exception_handler(schemas.FieldErrors)
def field_errors(request, exc: schemas.FieldErrors):
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(NotAllowed)
def not_allowed(request, exc: NotAllowed):
    return api.create_response(request, {"detail": str(exc)}, status=403)


@api.exception_handler(SecondFactorNeeded)
def second_factor_needed(request, exc: SecondFactorNeeded):
    return api.create_response(request, {"detail": str(exc)}, status=403)


@api.exception_handler(RecentAuthNeeded)
def recent_auth_needed(request, exc: RecentAuthNeeded):
    return api.create_response(request, {"detail": str(exc)}, status=403)


@api.exception_handler(IllegalMove)
def illegal_move(request, exc: IllegalMove):
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(RateLimited)
def rate_limited(request, exc: RateLimited):
    return retry_after(api.create_response(request, {"detail": str(exc)}, status=429), exc)


@api.exception_handler(Http404)
def not_found(request, exc: Http404):
    return api.create_response(request, {"detail": str(exc) or _("Not found.")}, status=404)


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc: RequestDataTooBig):
    return api.create_response(request, {"detail": _("The request body is too large (1 MB at most).")}, status=413)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc: AuthenticationError):
    detail = (
        str(exc) if str(exc) and str(exc) != "Unauthorized" else _("Sign in, or send Authorization: Bearer <token>.")
    )
    return api.create_response(request, {"detail": detail}, status=401)
