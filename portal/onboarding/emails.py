"""What every e-mail about a request can show."""

from portal.onboarding.models import TenantRequest


def email_context(request: TenantRequest, **extra) -> dict:
    """The request, its company as the request states it, and both contacts."""
    return {
        "req": request,
        "company": request.applicant,
        "technical": request.technical_contact,
        "commercial": request.commercial_contact,
        **extra,
    }
