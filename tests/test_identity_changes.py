"""A new legal name or VAT number: asked for by an administrator or billing member, with the request form's rules,
and accepted or refused by staff in the back-office queue; the requester hears of the decision."""

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.companies.models import Company, Membership, ProfileChange

pytestmark = pytest.mark.django_db

NEW = {"legal_name": "Brightwave Data BV", "vat_number": "BE 0202.239.951"}


@pytest.fixture
def bert(submitted) -> User:
    """Bert, billing member of Brightwave."""
    user = User.objects.create_user("bert@brightwave.example", "Bert-pays-2026", first_name="Bert")
    Membership.objects.create(user=user, company=submitted.company, role="billing")
    return user


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(client: Client, company: Company, **body):
    return client.post(f"/api/v1/companies/{company.pk}/profile-changes", body, content_type="application/json")


def test_a_billing_member_asks_on_the_page_and_a_second_request_waits_for_the_first(submitted, bert):
    company = submitted.company
    bert_browser = as_user(bert)
    assert "Ask for a change of the legal name or VAT number" in bert_browser.get(f"/c/{company.pk}/").content.decode()
    answer = bert_browser.post(f"/c/{company.pk}/identity/", NEW, follow=True)
    assert "Your request is with the reseller" in answer.content.decode()
    change = ProfileChange.objects.get()
    assert (change.status, change.requested_by) == ("pending", bert)
    assert change.changes == {
        "legal_name": {"old": "Brightwave Analytics BV", "new": "Brightwave Data BV"},
        "vat_number": {"old": "BE0403170701", "new": "BE0202239951"},
        "registry_number": {"old": "0403.170.701", "new": "0202.239.951"},
    }
    company.refresh_from_db()
    assert (company.legal_name, company.vat_number) == ("Brightwave Analytics BV", "BE0403170701")  # not yet

    page = bert_browser.get(f"/c/{company.pk}/identity/").content.decode()
    assert "Waiting for the reseller" in page and "Brightwave Data BV" in page and 'name="vat_number"' not in page
    again = ask(bert_browser, company, legal_name="Brightwave Other BV")
    assert again.status_code == 409 and "already waiting" in again.json()["detail"]
    assert ProfileChange.objects.count() == 1


def test_the_request_forms_rules_and_messages_apply(submitted, bert):
    company = submitted.company
    bert_browser = as_user(bert)
    wrong = bert_browser.post(f"/c/{company.pk}/identity/", {**NEW, "vat_number": "BE0403170702"})
    assert wrong.status_code == 400
    api = ask(bert_browser, company, vat_number="BE0403170702")
    assert api.status_code == 422
    (error,) = api.json()["detail"]
    assert error["loc"] == ["body", "vat_number"] and error["msg"] in wrong.content.decode()

    same = ask(bert_browser, company, legal_name="Brightwave Analytics BV")
    assert same.status_code == 422 and "already" in same.json()["detail"][0]["msg"]
    nul = ask(bert_browser, company, legal_name="Bright\x00wave")
    assert nul.status_code == 422 and "control character" in nul.json()["detail"][0]["msg"]
    assert not ProfileChange.objects.exists()


def test_a_technical_member_may_not_ask_and_another_company_sees_nothing(
    submitted, bert, tess_user, other_company_user
):
    company = submitted.company
    change = ask(as_user(bert), company, **NEW).json()
    Membership.objects.filter(user=tess_user).update(role="technical")
    tess_browser = as_user(tess_user)
    refused = ask(tess_browser, company, **NEW)
    assert refused.status_code == 403 and "Administrator or Billing" in refused.json()["detail"]
    assert tess_browser.get(f"/c/{company.pk}/identity/").status_code == 403
    assert tess_browser.get(f"/api/v1/companies/{company.pk}/profile-changes").json()[0]["id"] == change["id"]

    olga = as_user(other_company_user)
    assert olga.get(f"/api/v1/companies/{company.pk}/profile-changes").status_code == 404
    olgas_company = Membership.objects.get(user=other_company_user).company_id
    Membership.objects.filter(user=other_company_user).update(role="admin")
    gone = olga.delete(f"/api/v1/companies/{olgas_company}/profile-changes/{change['id']}")
    assert gone.status_code == 404 and gone.json() == {"detail": "No such change of this company."}
    assert ProfileChange.objects.get().status == "pending"


def test_staff_accept_and_the_company_changes_and_the_requester_is_told(submitted, bert, vera, smtp_server, worker):
    company = submitted.company
    answer = ask(as_user(bert), company, **NEW)
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    staff = as_user(vera)
    queue = staff.get("/backoffice/identity-changes/").content.decode()
    assert "Brightwave Analytics BV" in queue and "Brightwave Data BV" in queue and "bert@brightwave.example" in queue
    assert "Changes of legal name or VAT number" in staff.get("/backoffice/").content.decode()

    change = ProfileChange.objects.get()
    done = staff.post(f"/backoffice/identity-changes/{change.pk}/accept/", follow=True)
    assert "Accepted" in done.content.decode()
    company.refresh_from_db()
    assert (company.legal_name, company.vat_number, company.registry_number) == (
        "Brightwave Data BV",
        "BE0202239951",
        "0202.239.951",
    )
    change.refresh_from_db()
    assert (change.status, change.decided_by) == ("applied", vera)
    worker()
    (told,) = [m for m in smtp_server.messages if m["To"] == bert.email]
    assert "is applied" in told["Subject"] and "Brightwave Data BV" in told.get_body(("plain",)).get_content()
    again = staff.post(f"/backoffice/identity-changes/{change.pk}/accept/", follow=True)
    assert "already decided" in again.content.decode()


def test_staff_refuse_with_a_reason_and_a_stale_change_cannot_be_accepted(submitted, bert, vera, smtp_server, worker):
    company = submitted.company
    ask(as_user(bert), company, **NEW)
    change = ProfileChange.objects.get()
    Company.objects.filter(pk=company.pk).update(legal_name="Brightwave Renamed BV")  # changed since it was asked
    staff = as_user(vera)
    stale = staff.post(f"/backoffice/identity-changes/{change.pk}/accept/", follow=True)
    assert "changed since this was asked for" in stale.content.decode()
    change.refresh_from_db()
    assert change.status == "pending"

    no_reason = staff.post(f"/backoffice/identity-changes/{change.pk}/refuse/", {"reason": " "}, follow=True)
    assert "Say why" in no_reason.content.decode()
    staff.post(f"/backoffice/identity-changes/{change.pk}/refuse/", {"reason": "The VAT registry names another firm."})
    change.refresh_from_db()
    assert (change.status, change.reason) == ("refused", "The VAT registry names another firm.")
    worker()
    (told,) = [m for m in smtp_server.messages if m["To"] == bert.email]
    assert "was refused" in told["Subject"] and "another firm" in told.get_body(("plain",)).get_content()
    assert as_user(bert).get(f"/api/v1/companies/{company.pk}/profile-changes").json()[0]["reason"] == (
        "The VAT registry names another firm."
    )


def test_a_withdrawn_request_makes_room_for_a_new_one_and_customers_never_reach_the_queue(submitted, bert):
    company = submitted.company
    bert_browser = as_user(bert)
    first = ask(bert_browser, company, **NEW).json()
    assert bert_browser.delete(f"/api/v1/companies/{company.pk}/profile-changes/{first['id']}").status_code == 204
    assert ProfileChange.objects.get(pk=first["id"]).status == "withdrawn"
    twice = bert_browser.delete(f"/api/v1/companies/{company.pk}/profile-changes/{first['id']}")
    assert twice.status_code == 409 and "no longer waiting" in twice.json()["detail"]
    assert ask(bert_browser, company, legal_name="Brightwave Data BV").status_code == 202

    assert bert_browser.get("/backoffice/identity-changes/").status_code == 404
    second = ProfileChange.objects.get(status="pending")
    assert bert_browser.post(f"/backoffice/identity-changes/{second.pk}/accept/").status_code == 404
    second.refresh_from_db()
    assert second.status == "pending"
