"""The company switcher in every page's header: the signed-in customer's companies, and the one on screen."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from portal.companies.models import Company


def companies(request: HttpRequest) -> dict:
    user = request.user
    if not user.is_authenticated or user.is_staff:
        return {}
    match = request.resolver_match
    current = match.kwargs.get("company_id") if match else None
    # Read only by pages whose header shows the switcher, and then in one query.
    mine = SimpleLazyObject(lambda: list(Company.objects.filter(memberships__user=user).only("pk", "legal_name")))
    return {"my_companies": mine, "current_company_id": current}
