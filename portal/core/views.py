from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.accounts.forms import SignInForm
from portal.onboarding.selectors import requests_visible_to


def home(request: HttpRequest) -> HttpResponse:
    """The portal's front page: sign-in for visitors, the company and its requests for customers."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "home.html", {"form": SignInForm(request)})
    companies = list(user.companies.all()) if not user.is_staff else []
    requests = list(requests_visible_to(user).order_by("-created_at")[:20]) if not user.is_staff else []
    return render(request, "home.html", {"companies": companies, "requests": requests})
