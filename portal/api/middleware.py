"""Under /api/, every error is JSON {"detail": …}, also when Django or a library answered it as HTML."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


class JsonErrors:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return _as_json(response)
        return response


def _as_json(response: HttpResponse) -> JsonResponse:
    if response.status_code == 404:
        detail = _("There is no such operation: see /api/v1/docs.")
    elif response.status_code == 405:
        detail = _("Method not allowed: this path answers %(methods)s.") % {"methods": response.get("Allow", "")}
    else:
        detail = response.reason_phrase
    answer = JsonResponse({"detail": detail}, status=response.status_code)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            answer[header] = response[header]
    return answer
