"""`/me` and the user's companies: one permission table decides, another company's id answers 404."""

import pytest
from django.http import Http404

from portal.companies.models import Membership
from portal.companies.permissions import PERMISSIONS, Action, NotAllowed, Role, company_for

pytestmark = pytest.mark.django_db


def test_me_says_who_is_signed_in_and_in_which_companies(client, tess_user, submitted):
    client.force_login(tess_user)
    me = client.get("/api/v1/me").json()
    assert me == {
        "email": "tess@brightwave.example",
        "first_name": "Tess",
        "last_name": "",
        "language": "en",
        "companies": [{"id": submitted.company_id, "name": "Brightwave Analytics BV", "role": "readonly"}],
    }
    changed = client.patch("/api/v1/me", {"last_name": "Tech", "language": "nl"}, content_type="application/json")
    assert changed.status_code == 200 and (changed.json()["last_name"], changed.json()["language"]) == ("Tech", "nl")
    refused = client.patch("/api/v1/me", {"language": "de"}, content_type="application/json")
    assert refused.status_code == 422 and "detail" in refused.json()
    assert client.get("/api/v1/companies").json() == me["companies"]


def test_a_company_reads_the_same_for_every_role_and_is_404_to_everyone_else(
    client, tess_user, other_company_user, submitted
):
    membership = Membership.objects.get(user=tess_user)
    client.force_login(tess_user)
    for role in Role:
        membership.role = role
        membership.save(update_fields=["role"])
        answer = client.get(f"/api/v1/companies/{submitted.company_id}")
        assert answer.status_code == 200, (role, answer.content)
        assert answer.json()["address"]["city"] == "Gent" and answer.json()["tenants"] == []

    olgas = Membership.objects.get(user=other_company_user).company_id
    for company_id in (olgas, 999_999):
        missing = client.get(f"/api/v1/companies/{company_id}")
        assert missing.status_code == 404 and missing.json() == {"detail": "No such company."}
    client.logout()
    assert client.get(f"/api/v1/companies/{submitted.company_id}").status_code == 401


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_the_permission_table_decides_every_action_for_every_role(action, role, tess_user, submitted):
    Membership.objects.filter(user=tess_user).update(role=role)
    if role in PERMISSIONS[action]:
        company, found_role = company_for(tess_user, submitted.company_id, action)
        assert (company.pk, found_role) == (submitted.company_id, role)
    else:
        with pytest.raises(NotAllowed, match=f"yours is {role.label}"):
            company_for(tess_user, submitted.company_id, action)


def test_staff_are_no_members_of_customer_companies(vera, submitted):
    with pytest.raises(Http404):
        company_for(vera, submitted.company_id)
