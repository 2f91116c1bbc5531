"""Who the benchmark plays: a visitor filling in the request form, and a staff user."""

STAFF_EMAIL = "bench-staff@example.com"
STAFF_PASSWORD = "Bench-staff-2026!"


def request_form(prefix: str) -> dict[str, str]:
    """A valid request form as a browser posts it (the tests' Brightwave), for the tenant name `prefix`."""
    from tests.conftest import form_post

    return form_post(tenant_domain_prefix=prefix)
