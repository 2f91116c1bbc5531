"""Who the benchmark plays: a visitor filling in the request form, and a staff user."""

STAFF_EMAIL = "bench-staff@example.com"
STAFF_PASSWORD = "Bench-staff-2026!"


def request_form(prefix: str) -> dict[str, str]:
    """A valid request form as a browser posts it, for the tenant name `prefix`."""
    return {
        "company_legal_name": "Brightwave Analytics BV",
        "company_vat_number": "BE 0403.170.701",
        "company_address_line1": "Korenmarkt 1",
        "company_address_line2": "",
        "company_postal_code": "9000",
        "company_city": "Gent",
        "company_country": "BE",
        "company_phone": "09 234 56 78",
        "company_website": "brightwave.example",
        "tenant_domain_prefix": prefix,
        "tenant_display_name": "Brightwave",
        "tenant_country": "BE",
        "technical_first_name": "Tess",
        "technical_last_name": "Tech",
        "technical_email": "tess@brightwave.example",
        "technical_phone": "0478 12 34 56",
        "technical_job_title": "IT manager",
        "commercial_first_name": "Carl",
        "commercial_last_name": "Commerce",
        "commercial_email": "carl@brightwave.example",
        "commercial_phone": "+32 478 65 43 21",
        "commercial_job_title": "CEO",
        "accept_terms": "on",
    }
