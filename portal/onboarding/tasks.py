from datetime import timedelta

from django.tasks import task
from django.utils import timezone

from portal.companies.vies import ViesUnavailable, vies_lookup
from portal.core.timers import timer_set
from portal.onboarding.models import TenantRequest

VIES_ATTEMPTS = 3


@task()
def check_vat(*, request_id: int, attempt: int) -> str:
    """Ask VIES about the request's VAT number; when it cannot answer, try again later, then leave it unconfirmed."""
    from portal.onboarding.services import request_record_vat_check

    request = TenantRequest.objects.select_related("company").get(pk=request_id)
    try:
        answer = vies_lookup(request.applicant.vat_number)
    except ViesUnavailable:
        if attempt < VIES_ATTEMPTS:
            timer_set(
                check_vat,
                at=timezone.now() + timedelta(minutes=30 * attempt),
                key=f"check-vat:{request_id}",
                request_id=request_id,
                attempt=attempt + 1,
            )
        return "unconfirmed"
    result = TenantRequest.VatCheck.CONFIRMED if answer.valid else TenantRequest.VatCheck.NOT_FOUND
    request_record_vat_check(request_id=request_id, result=result, registered_name=answer.name)
    return result


@task()
def follow_up_request(*, request_id: int) -> str:
    """A new request's follow-up: the VIES check, the progress link and both contacts' confirmations."""
    from portal.onboarding.services import request_follow_up

    return request_follow_up(request_id=request_id)
