"""Invitations: an administrator invites an address with a role; the link works once, for that address only."""

import re

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.companies.models import Membership

NEW_PERSON, EXISTING = "nina@brightwave.example", "eddy@elsewhere.example"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin(submitted, tess_user) -> Client:
    Membership.objects.filter(user=tess_user).update(role="admin")
    client = Client()
    client.force_login(tess_user)
    return client


def invitation_link(inbox, address: str) -> str:
    message = [m for m in inbox.to(address) if "invites you to" in str(m["Subject"])][-1]
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_\-]+/)", text).group(1)


def test_a_new_person_accepts_with_a_name_and_a_password_and_lands_on_the_company(
    admin, submitted, smtp_server, worker
):
    company = submitted.company
    sent = admin.post(f"/c/{company.pk}/invitations/", {"email": NEW_PERSON, "role": "billing"}, follow=True)
    assert f"Invitation e-mailed to {NEW_PERSON}" in sent.content.decode()
    worker()
    link = invitation_link(smtp_server, NEW_PERSON)

    nina = Client()
    page = nina.get(link).content.decode()
    assert "Join Brightwave Analytics BV" in page and "the role Billing" in page
    weak = nina.post(link, {"first_name": "Nina", "last_name": "Numbers", "password1": "nina", "password2": "nina"})
    assert weak.status_code == 400
    joined = nina.post(
        link,
        {
            "first_name": "Nina",
            "last_name": "Numbers",
            "password1": "Numbers-add-up-77",
            "password2": "Numbers-add-up-77",
        },
    )
    assert joined.status_code == 302 and joined["Location"] == f"/c/{company.pk}/"
    assert Membership.objects.get(user__email=NEW_PERSON).role == "billing"
    assert "Brightwave Analytics BV" in nina.get(joined["Location"]).content.decode()
    again = Client().get(link)
    assert again.status_code == 410 and "This invitation no longer works" in again.content.decode()


def test_an_existing_account_signs_in_then_accepts_and_another_account_is_refused(
    admin, submitted, smtp_server, worker, other_company_user
):
    company = submitted.company
    eddy = User.objects.create_user(EXISTING, "Eddy-elsewhere-2026")
    admin.post(f"/c/{company.pk}/invitations/", {"email": EXISTING, "role": "technical"})
    worker()
    link = invitation_link(smtp_server, EXISTING)

    anonymous = Client().get(link).content.decode()
    assert "Sign in to accept" in anonymous
    olga = Client()
    olga.force_login(other_company_user)
    refused = olga.post(link)
    assert refused.status_code == 403 and f"This invitation is for {EXISTING}" in refused.content.decode()
    assert not Membership.objects.filter(user=other_company_user, company=company).exists()

    eddy_browser = Client()
    eddy_browser.force_login(eddy)
    accepted = eddy_browser.post(link)
    assert accepted.status_code == 302 and Membership.objects.get(user=eddy, company=company).role == "technical"


def test_a_withdrawn_or_expired_invitation_opens_nothing(admin, submitted, smtp_server, worker, time_machine):
    company = submitted.company
    time_machine.move_to("2026-03-03 10:00:00+01:00", tick=False)
    answer = admin.post(
        f"/api/v1/companies/{company.pk}/invitations",
        {"email": NEW_PERSON, "role": "readonly"},
        content_type="application/json",
    )
    assert answer.status_code == 201 and answer.json()["role"] == "readonly"
    worker()
    withdrawn = invitation_link(smtp_server, NEW_PERSON)
    assert admin.delete(f"/api/v1/companies/{company.pk}/invitations/{answer.json()['id']}").status_code == 204
    assert Client().get(withdrawn).status_code == 410

    admin.post(f"/c/{company.pk}/invitations/", {"email": NEW_PERSON, "role": "readonly"})
    worker()
    later = invitation_link(smtp_server, NEW_PERSON)
    assert Client().get(later).status_code == 200
    time_machine.move_to("2026-03-10 10:00:01+01:00", tick=False)
    assert Client().get(later).status_code == 410


@pytest.mark.django_db
def test_only_an_admin_invites_and_a_member_is_not_invited_twice(admin, submitted, tess_user, other_company_user):
    company = submitted.company
    again = admin.post(
        f"/api/v1/companies/{company.pk}/invitations",
        {"email": tess_user.email, "role": "admin"},
        content_type="application/json",
    )
    assert again.status_code == 409 and "already has access" in again.json()["detail"]
    Membership.objects.filter(user=tess_user).update(role="technical")
    refused = admin.post(
        f"/api/v1/companies/{company.pk}/invitations",
        {"email": NEW_PERSON, "role": "admin"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    olga = Client()
    olga.force_login(other_company_user)
    assert olga.post(f"/c/{company.pk}/invitations/", {"email": NEW_PERSON, "role": "admin"}).status_code == 404
