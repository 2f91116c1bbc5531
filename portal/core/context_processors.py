from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {
        "brand": settings.PORTAL_BRAND,
        "support_email": settings.PORTAL_SUPPORT_EMAIL,
        "mail_captured": settings.MAIL_CAPTURED,
    }
