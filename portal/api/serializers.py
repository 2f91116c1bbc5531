"""Models to API dictionaries, in one place."""

from portal.companies.models import Contact
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.selectors import timeline_for_customer
from portal.onboarding.stages import Stage
from portal.provisioning.models import Tenant


def contact_out(contact: Contact) -> dict:
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "job_title": contact.job_title,
    }


def request_summary(request: TenantRequest) -> dict:
    return {
        "id": request.pk,
        "stage": request.stage,
        "stage_label": Stage(request.stage).label,
        "stage_changed_at": request.stage_changed_at,
        "created_at": request.created_at,
        "company_name": request.applicant.legal_name,
        "vat_number": request.applicant.vat_number,
        "domain": request.domain,
    }


def request_out(
    request: TenantRequest, entries: list[TimelineEntry] | None = None, *, for_customer: bool = False
) -> dict:
    company = request.applicant
    if entries is None:
        entries = list(request.timeline.select_related("actor").order_by("seq"))
    tenant = Tenant.objects.filter(request=request).first() if request.stage == Stage.COMPLETED else None
    return {
        **request_summary(request),
        "vat_check": request.vat_check,
        "company": {
            "legal_name": company.legal_name,
            "vat_number": company.vat_number,
            "registry_number": company.registry_number,
            "address": {
                "line1": company.address_line1,
                "line2": company.address_line2,
                "postal_code": company.postal_code,
                "city": company.city,
                "country": company.country,
            },
            "phone": company.phone,
            "website": company.website,
        },
        "tenant": {
            "domain_prefix": request.domain_prefix,
            "domain": request.domain,
            "display_name": request.display_name,
            "country": request.tenant_country,
            "customer_id": tenant.customer_id if tenant else None,
            "created_at": tenant.created_at if tenant else None,
        },
        "technical_contact": contact_out(request.technical_contact),
        "commercial_contact": contact_out(request.commercial_contact),
        "timeline": _customer_timeline(entries)
        if for_customer
        else [
            {
                "seq": e.seq,
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor_label,
                "from_stage": e.from_stage,
                "to_stage": e.to_stage,
                "message": e.message,
            }
            for e in entries
        ],
    }


def _customer_timeline(entries: list[TimelineEntry]) -> list[dict]:
    """The customer's view: no staff notes, customer wording (see timeline_for_customer)."""
    public = timeline_for_customer(entries)
    kept = [e for e in entries if e.kind != TimelineEntry.Kind.NOTE]
    return [
        {
            "seq": e.seq,
            "at": p.at,
            "kind": p.kind,
            "actor": p.actor_label,
            "from_stage": e.from_stage,
            "to_stage": e.to_stage,
            "message": p.message,
        }
        for e, p in zip(kept, public, strict=True)
    ]
