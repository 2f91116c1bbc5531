"""A user in several companies: a switcher in the header, each company's own role, and sign-in landing on the
company used last."""

import pytest
from django.test import Client

from portal.companies.models import Company, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def tess_in_two(tess_user, other_company_user):
    """Tess, admin of Brightwave, and read-only at Other Corp."""
    brightwave = Company.objects.get(legal_name="Brightwave Analytics BV")
    other = Company.objects.get(legal_name="Other Corp NV")
    Membership.objects.filter(user=tess_user, company=brightwave).update(role="admin")
    Membership.objects.create(user=tess_user, company=other, role="readonly")
    return tess_user, brightwave, other


def signed_in(email: str, password: str) -> tuple[Client, str]:
    client = Client()
    answer = client.post("/accounts/login/", {"email": email, "password": password})
    assert answer.status_code == 302
    return client, answer["Location"]


def test_the_header_offers_every_company_of_the_user_and_marks_the_one_on_screen(tess_in_two):
    tess, brightwave, other = tess_in_two
    client, _ = signed_in("tess@brightwave.example", "Tess-manages-2026")
    page = client.get(f"/c/{other.pk}/").content.decode()
    header = page.split("</header>")[0]
    assert 'class="switcher"' in header
    assert f'href="/c/{brightwave.pk}/">Brightwave Analytics BV</a>' in header
    assert f'href="/c/{other.pk}/" aria-current="page">Other Corp NV</a>' in header


def test_each_company_answers_with_the_users_role_there(tess_in_two):
    tess, brightwave, other = tess_in_two
    client, _ = signed_in("tess@brightwave.example", "Tess-manages-2026")
    assert "Remove access" in client.get(f"/c/{brightwave.pk}/").content.decode()
    read_only = client.get(f"/c/{other.pk}/").content.decode()
    assert "Remove access" not in read_only and "Invite" not in read_only.split("<main")[1].split("Contacts")[0]
    olga_membership = Membership.objects.get(company=other, user__email="olga@other.example")
    Membership.objects.filter(pk=olga_membership.pk).update(role="technical")
    refused = client.post(f"/c/{other.pk}/members/{olga_membership.pk}/role/", {"role": "readonly"})
    assert refused.status_code == 403
    assert Membership.objects.get(pk=olga_membership.pk).role == "technical"


def test_sign_in_lands_on_the_company_used_last(tess_in_two):
    tess, brightwave, other = tess_in_two
    client, landing = signed_in("tess@brightwave.example", "Tess-manages-2026")
    assert landing == "/"  # nothing used yet: the portal home lists both
    client.get(f"/c/{other.pk}/")
    client.post("/accounts/logout/")
    _, landing = signed_in("tess@brightwave.example", "Tess-manages-2026")
    assert landing == f"/c/{other.pk}/"


def test_a_company_the_user_left_is_no_longer_where_sign_in_lands(tess_in_two):
    tess, brightwave, other = tess_in_two
    client, _ = signed_in("tess@brightwave.example", "Tess-manages-2026")
    client.get(f"/c/{other.pk}/")
    Membership.objects.filter(user=tess, company=other).delete()
    _, landing = signed_in("tess@brightwave.example", "Tess-manages-2026")
    assert landing == "/"
    assert Client().get(f"/c/{other.pk}/").status_code == 302  # anonymous: to sign-in


def test_one_company_shows_as_a_plain_link_and_staff_see_no_switcher(tess_user, vera):
    client, _ = signed_in("tess@brightwave.example", "Tess-manages-2026")
    header = client.get("/").content.decode().split("</header>")[0]
    assert 'class="switcher"' not in header and "Brightwave Analytics BV</a>" in header
    staff = Client()
    staff.force_login(vera)
    assert "Brightwave" not in staff.get("/").content.decode().split("</header>")[0]
