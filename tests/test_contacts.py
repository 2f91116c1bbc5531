"""The company's contacts: administrators add, edit and remove them; the company keeps a technical and a
commercial contact; the request form's rules apply."""

import pytest
from django.test import Client

from portal.companies.models import Contact, Membership

pytestmark = pytest.mark.django_db

NEW = {
    "first_name": "Bea",
    "last_name": "Bills",
    "email": "Bea@Brightwave.example",
    "phone": "09 234 56 70",
    "job_title": "Accountant",
    "kind": "billing",
}


@pytest.fixture
def admin(submitted, tess_user) -> Client:
    Membership.objects.filter(user=tess_user).update(role="admin")
    client = Client()
    client.force_login(tess_user)
    return client


def test_the_request_gave_the_company_its_technical_and_commercial_contacts(submitted):
    kinds = dict(Contact.objects.filter(company=submitted.company).values_list("email", "kind"))
    assert kinds == {"tess@brightwave.example": "technical", "carl@brightwave.example": "commercial"}


def test_an_admin_adds_edits_and_removes_a_contact_in_the_pages(admin, submitted):
    company = submitted.company
    bad = admin.post(f"/c/{company.pk}/contacts/new/", {**NEW, "phone": "12"})
    assert bad.status_code == 400 and "This phone number does not exist for its country" in bad.content.decode()
    assert admin.post(f"/c/{company.pk}/contacts/new/", NEW).status_code == 302
    bea = Contact.objects.get(email="bea@brightwave.example")
    assert (bea.kind, bea.phone) == ("billing", "+3292345670")
    page = admin.get(f"/c/{company.pk}/").content.decode()
    assert "Bea Bills" in page and "Billing" in page

    assert admin.post(f"/c/{company.pk}/contacts/{bea.pk}/", {**NEW, "job_title": "CFO"}).status_code == 302
    bea.refresh_from_db()
    assert bea.job_title == "CFO"
    assert admin.post(f"/c/{company.pk}/contacts/{bea.pk}/remove/").status_code == 302
    assert "Bea Bills" not in admin.get(f"/c/{company.pk}/").content.decode()


def test_the_last_technical_or_commercial_contact_stays(admin, submitted):
    company = submitted.company
    carl = Contact.objects.get(email="carl@brightwave.example")
    removed = admin.post(f"/c/{company.pk}/contacts/{carl.pk}/remove/", follow=True)
    assert "The company keeps a commercial contact" in removed.content.decode()
    api = admin.delete(f"/api/v1/companies/{company.pk}/contacts/{carl.pk}")
    assert api.status_code == 409 and "keeps a commercial contact" in api.json()["detail"]
    demoted = admin.patch(
        f"/api/v1/companies/{company.pk}/contacts/{carl.pk}", {"kind": "other"}, content_type="application/json"
    )
    assert demoted.status_code == 409
    assert Contact.objects.get(pk=carl.pk).removed_at is None

    added = admin.post(
        f"/api/v1/companies/{company.pk}/contacts", {**NEW, "kind": "commercial"}, content_type="application/json"
    )
    assert added.status_code == 201 and added.json()["has_access"] is False
    assert admin.delete(f"/api/v1/companies/{company.pk}/contacts/{carl.pk}").status_code == 204


def test_the_contacts_api_keeps_the_forms_rules_and_the_roles(admin, submitted, tess_user, other_company_user):
    company = submitted.company
    listed = admin.get(f"/api/v1/companies/{company.pk}/contacts").json()
    assert {(c["email"], c["kind"], c["has_access"]) for c in listed} == {
        ("tess@brightwave.example", "technical", True),
        ("carl@brightwave.example", "commercial", False),
    }
    wrong = admin.post(
        f"/api/v1/companies/{company.pk}/contacts", {**NEW, "phone": "12"}, content_type="application/json"
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "phone"]
    twice = admin.post(
        f"/api/v1/companies/{company.pk}/contacts",
        {**NEW, "email": "carl@brightwave.example"},
        content_type="application/json",
    )
    assert twice.status_code == 409

    Membership.objects.filter(user=tess_user).update(role="billing")
    assert (
        admin.post(f"/api/v1/companies/{company.pk}/contacts", NEW, content_type="application/json").status_code == 403
    )
    assert admin.get(f"/c/{company.pk}/contacts/new/").status_code == 403
    olga = Client()
    olga.force_login(other_company_user)
    assert olga.get(f"/api/v1/companies/{company.pk}/contacts").status_code == 404
    carl = Contact.objects.get(email="carl@brightwave.example")
    assert olga.get(f"/c/{company.pk}/contacts/{carl.pk}/").status_code == 404
