from functools import wraps

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse


def staff_is_verified(user) -> bool:
    """Staff may act when signed in and, where MFA is required, verified with a TOTP code."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return not settings.STAFF_REQUIRE_MFA or user.is_verified()


def staff_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('accounts:login')}?next={request.path}")
        if not user.is_staff:
            raise Http404
        if not staff_is_verified(user):
            return redirect(f"{reverse('accounts:mfa')}?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapper
