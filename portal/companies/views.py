from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.accounts.forms import SignInForm
from portal.accounts.models import User
from portal.accounts.second_factor import second_factor_required
from portal.companies.services import tenant_credentials_reveal
from portal.onboarding.selectors import requests_visible_to


def home(request: HttpRequest) -> HttpResponse:
    """The portal's front page: sign-in for visitors, the company and its requests for customers."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "home.html", {"form": SignInForm(request)})
    companies = list(user.companies.prefetch_related("tenants")) if not user.is_staff else []
    requests = list(requests_visible_to(user).order_by("-created_at")[:20]) if not user.is_staff else []
    two_step = second_factor_required(user)
    return render(request, "home.html", {"companies": companies, "requests": requests, "two_step": two_step})


@login_required
@require_POST
def tenant_admin_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The tenant's initial admin account, shown once to a user of the company, then wiped."""
    assert isinstance(request.user, User)  # login_required
    credentials = tenant_credentials_reveal(tenant_id=pk, user=request.user)
    if credentials is None:
        messages.info(request, "There is no administrator account to show: it was already shown once.")
        return redirect("home")
    response = render(request, "tenant_admin.html", {"admin_user": credentials[0], "admin_password": credentials[1]})
    response["Cache-Control"] = "no-store"
    return response
