"""A company's page and its team: what each role sees and may change, and a company that always keeps an admin."""

import threading

import pytest
from django.db import connection
from django.test import Client

from portal.accounts.models import User
from portal.companies.models import Membership
from portal.companies.services import LastAdmin, member_role_change

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(submitted, tess_user):
    """Tess (admin) and Bert (billing) at Brightwave."""
    Membership.objects.filter(user=tess_user).update(role="admin")
    bert = User.objects.create_user("bert@brightwave.example", "Bert-pays-2026", first_name="Bert")
    Membership.objects.create(user=bert, company=submitted.company, role="billing")
    return submitted.company, tess_user, bert


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_member_sees_the_company_page_and_only_an_admin_gets_the_team_controls(team):
    company, tess, bert = team
    for user, controls in ((tess, True), (bert, False)):
        page = as_user(user).get(f"/c/{company.pk}/").content.decode()
        assert "Brightwave Analytics BV" in page and "+32 9 234 56 78" in page and "Belgium" in page
        assert ("Remove access" in page) is controls


def test_another_company_and_its_urls_answer_404(team, other_company_user):
    company, tess, bert = team
    olga = as_user(other_company_user)
    bert_membership = Membership.objects.get(user=bert)
    for path in (f"/c/{company.pk}/", f"/c/{company.pk}/agreements/1/signed.pdf"):
        assert olga.get(path).status_code == 404
    for path in (
        f"/c/{company.pk}/members/{bert_membership.pk}/role/",
        f"/c/{company.pk}/members/{bert_membership.pk}/remove/",
    ):
        assert olga.post(path, {"role": "admin"}).status_code == 404
    api = olga.get(f"/api/v1/companies/{company.pk}/members")
    assert api.status_code == 404 and api.json()["detail"] == "No such company."


def test_a_billing_member_may_not_change_roles_and_is_told_who_may(team):
    company, tess, bert = team
    tess_membership = Membership.objects.get(user=tess)
    page = as_user(bert).post(f"/c/{company.pk}/members/{tess_membership.pk}/role/", {"role": "readonly"})
    assert (
        page.status_code == 403
        and "This needs the role Administrator in the company; yours is Billing." in page.content.decode()
    )
    api = as_user(bert).patch(
        f"/api/v1/companies/{company.pk}/members/{tess_membership.pk}",
        {"role": "readonly"},
        content_type="application/json",
    )
    assert api.status_code == 403 and "yours is Billing" in api.json()["detail"]
    assert Membership.objects.get(user=tess).role == "admin"


def test_an_admin_changes_roles_but_the_last_admin_stays(team):
    company, tess, bert = team
    tess_client = as_user(tess)
    tess_id, bert_id = (Membership.objects.get(user=u).pk for u in (tess, bert))

    last = tess_client.post(f"/c/{company.pk}/members/{tess_id}/role/", {"role": "technical"}, follow=True)
    assert "A company always keeps an administrator" in last.content.decode()
    refused = tess_client.delete(f"/api/v1/companies/{company.pk}/members/{tess_id}")
    assert refused.status_code == 409 and "always keeps an administrator" in refused.json()["detail"]

    promoted = tess_client.patch(
        f"/api/v1/companies/{company.pk}/members/{bert_id}", {"role": "admin"}, content_type="application/json"
    )
    assert promoted.status_code == 200 and promoted.json() == {"id": bert_id, "email": bert.email, "role": "admin"}
    assert tess_client.post(f"/c/{company.pk}/members/{tess_id}/role/", {"role": "readonly"}).status_code == 302
    assert Membership.objects.get(user=tess).role == "readonly"
    members = as_user(bert).get(f"/api/v1/companies/{company.pk}/members").json()
    assert {(m["email"], m["role"]) for m in members} == {(tess.email, "readonly"), (bert.email, "admin")}
    assert as_user(bert).delete(f"/api/v1/companies/{company.pk}/members/{tess_id}").status_code == 204
    assert not Membership.objects.filter(user=tess).exists()


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(submitted, tess_user):
    """On PostgreSQL the two run truly at once; the company's row lock makes the second see the first's change."""
    company = submitted.company
    Membership.objects.filter(user=tess_user).update(role="admin")
    bert = User.objects.create_user("bert@brightwave.example", "Bert-pays-2026")
    bert_membership = Membership.objects.create(user=bert, company=company, role="admin")
    tess_membership = Membership.objects.get(user=tess_user)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(member_id: int) -> None:
        start.wait()
        try:
            member_role_change(company_id=company.pk, member_id=member_id, role="technical")
            outcomes.append("demoted")
        except LastAdmin:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=(m.pk,)) for m in (tess_membership, bert_membership)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert Membership.objects.filter(company=company, role="admin").count() == 1


PROFILE = {
    "address_line1": "Veldstraat 10",
    "address_line2": "",
    "postal_code": "9000",
    "city": "Gent",
    "country": "BE",
    "phone": "09 234 56 77",
    "website": "brightwave.example",
}


def test_admin_and_billing_edit_the_profile_with_the_request_forms_rules_and_others_may_not(team, submitted):
    company, tess, bert = team
    bad = as_user(bert).post(f"/c/{company.pk}/profile/", {**PROFILE, "phone": "12"})
    assert bad.status_code == 400 and "This phone number does not exist for its country" in bad.content.decode()
    assert as_user(bert).post(f"/c/{company.pk}/profile/", PROFILE).status_code == 302
    company.refresh_from_db()
    assert (company.address_line1, company.phone, company.website) == (
        "Veldstraat 10",
        "+3292345677",
        "https://brightwave.example",
    )
    assert company.legal_name == "Brightwave Analytics BV"  # not editable here

    Membership.objects.filter(user=bert).update(role="technical")
    refused = as_user(bert).get(f"/c/{company.pk}/profile/")
    assert refused.status_code == 403 and "Administrator or Billing" in refused.content.decode()

    api = as_user(tess).patch(
        f"/api/v1/companies/{company.pk}",
        {"address": {"line1": "Veldstraat 12"}, "phone": "+32 9 234 56 79"},
        content_type="application/json",
    )
    assert api.status_code == 200 and api.json()["address"]["line1"] == "Veldstraat 12"
    assert api.json()["phone"] == "+3292345679" and api.json()["address"]["city"] == "Gent"
    wrong = as_user(tess).patch(
        f"/api/v1/companies/{company.pk}", {"address": {"country": "XX"}}, content_type="application/json"
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "address", "country"]
    technical = as_user(bert).patch(
        f"/api/v1/companies/{company.pk}", {"phone": "+3292345677"}, content_type="application/json"
    )
    assert technical.status_code == 403


def test_the_signed_agreement_is_on_the_company_page_and_in_the_api(signed, worker, other_company_user):
    worker()  # the tenant is created: Tess, its technical contact, is the company's first administrator
    tess = User.objects.get(email="tess@brightwave.example")
    assert Membership.objects.get(user=tess).role == "admin"
    company = signed.company
    page = as_user(tess).get(f"/c/{company.pk}/").content.decode()
    agreement = signed.agreements.get(status="signed")
    assert f"/c/{company.pk}/agreements/{agreement.pk}/signed.pdf" in page and "/verify/" in page
    download = as_user(tess).get(f"/c/{company.pk}/agreements/{agreement.pk}/signed.pdf")
    assert download.status_code == 200 and bytes(download.content) == bytes(agreement.signed_pdf)

    listed = as_user(tess).get(f"/api/v1/companies/{company.pk}/agreements").json()
    assert [(a["id"], a["version"], a["signer_name"]) for a in listed] == [(agreement.pk, "2026-01", "Carl Commerce")]
    path = listed[0]["document_url"].split("://", 1)[1].split("/", 1)[1]
    assert as_user(tess).get(f"/{path}").content.startswith(b"%PDF-")

    olga = as_user(other_company_user)
    assert olga.get(f"/c/{company.pk}/agreements/{agreement.pk}/signed.pdf").status_code == 404
    assert olga.get(f"/api/v1/companies/{company.pk}/agreements").status_code == 404
