"""What Tess may type wrong, on the page and through the API: refused field by field, nothing stored, nothing sent."""

import copy
import html
import json
import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.companies.models import Company, Contact
from portal.notifications.models import OutboundEmail
from portal.onboarding.models import IdempotencyRecord, TenantRequest
from tests.conftest import api_body, form_post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def rows() -> dict[str, int]:
    return {
        "requests": TenantRequest.objects.count(),
        "companies": Company.objects.count(),
        "contacts": Contact.objects.count(),
        "emails": OutboundEmail.objects.count(),
    }


def field_message(page: str, field: str) -> str:
    """The message shown next to one field of the request form."""
    found = re.search(rf'id="check-{field}"[^>]*>(.*?)</div>', page, re.DOTALL)
    assert found, f"no message slot for {field}"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


@dataclass(frozen=True)
class Bad:
    """One wrong value: where Tess types it in the form, where it sits in the API body, what she is told."""

    what: str
    field: str
    loc: tuple[str, ...]
    value: str
    message: str
    same_for: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def form(self) -> dict:
        return form_post(**{self.field: self.value, **{field: self.value for field, _ in self.same_for}})

    def body(self) -> dict:
        return body_with(self.value, self.loc, *(loc for _, loc in self.same_for))


def body_with(value, *paths: tuple[str, ...]) -> dict:
    """The API body with one value put at each of the paths."""
    body = copy.deepcopy(api_body())
    for path in paths:
        target = body
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return body


def commercial(field: str) -> tuple[str, tuple[str, ...]]:
    return f"commercial_{field}", ("commercial_contact", field)


VAT = ("company_vat_number", ("company", "vat_number"))
PREFIX = ("tenant_domain_prefix", ("tenant", "domain_prefix"))
COUNTRY = ("company_country", ("company", "address", "country"))
NO_OTHER_COMMERCIAL = tuple(commercial(f) for f in ("first_name", "last_name", "phone", "job_title"))

BAD = [
    Bad("VAT check digits", *VAT, "BE0123456788", "The check digits of this VAT number do not match"),
    Bad("VAT of another country", *VAT, "NL0403170701", "starts with NL, but the company's country is BE"),
    Bad("prefix taken at Microsoft", *PREFIX, "contoso", "contoso.onmicrosoft.com is already taken"),
    Bad("prefix of another open request", *PREFIX, "othercorp", "othercorp.onmicrosoft.com is already requested"),
    Bad("hyphenated prefix", *PREFIX, "bright-wave", "Hyphens are not allowed"),
    Bad("non-ASCII prefix", *PREFIX, "café", "accents and other scripts are not allowed"),
    Bad("28-character prefix", *PREFIX, "brightwavebrightwaveanalytic", "Use at most 27 characters (this one has 28)"),
    Bad("unknown country", *COUNTRY, "XX", "XX is not one of the available choices"),
    Bad("phone with junk", *commercial("phone"), "0478 65 43 21 call me", "digits, spaces and"),
    Bad("phone that does not exist", *commercial("phone"), "0478 65", "does not exist for its country"),
    Bad("phone that is no number", "company_phone", ("company", "phone"), "call me maybe", "digits, spaces and"),
    Bad("no commercial contact", *commercial("email"), "", "This field is required.", NO_OTHER_COMMERCIAL),
]


@pytest.fixture
def othercorp(other_company_user):
    """Olga's company already holds an open request for othercorp.onmicrosoft.com."""
    return TenantRequest.objects.get(domain_prefix="othercorp")


@pytest.mark.parametrize("bad", BAD, ids=[bad.what for bad in BAD])
def test_tess_is_told_what_is_wrong_and_nothing_is_stored(client, othercorp, bad):
    before = rows()

    page = client.post("/request-tenant/", bad.form())
    assert page.status_code == 400
    assert bad.message in field_message(page.content.decode(), bad.field)

    answer = client.post("/api/v1/tenant-requests", bad.body(), content_type="application/json")
    assert answer.status_code == 422
    errors = answer.json()["detail"]
    assert any(e["loc"] == ["body", *bad.loc] and bad.message in e["msg"] for e in errors), errors

    assert rows() == before


def test_a_body_without_the_commercial_contact_is_refused(client, db):
    body = api_body()
    del body["commercial_contact"]
    answer = client.post("/api/v1/tenant-requests", body, content_type="application/json")
    assert answer.status_code == 422
    assert any(e["loc"][-1] == "commercial_contact" and e["msg"] for e in answer.json()["detail"])
    assert rows()["requests"] == 0


def test_nothing_reaches_the_smtp_server_for_refused_requests(client, othercorp, smtp_server, worker):
    worker()
    smtp_server.messages.clear()
    before = rows()
    for bad in BAD:
        assert client.post("/request-tenant/", bad.form()).status_code == 400
        assert client.post("/api/v1/tenant-requests", bad.body(), content_type="application/json").status_code == 422
    worker()
    assert rows() == before
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("contoso", "already taken"),
        ("othercorp", "already requested"),
        ("bright-wave", "Hyphens are not allowed"),
        ("café", "accents"),
        ("a" * 28, "at most 27 characters"),
        ("admin", "reserved by Microsoft"),
        ("bright wave", "without spaces"),
    ],
)
def test_availability_says_why_a_prefix_cannot_be_had(client, othercorp, prefix, reason):
    answer = client.get(f"/api/v1/tenant-domains/{quote(prefix, safe='')}/availability")
    assert answer.status_code == 200
    assert answer.json()["available"] is False
    assert reason in answer.json()["reason"]


def test_availability_of_a_free_prefix(client, othercorp):
    answer = client.get("/api/v1/tenant-domains/BrightWave.onmicrosoft.com/availability")
    assert answer.json() == {"prefix": "brightwave", "available": True, "reason": ""}


def test_a_10_mb_body_is_refused_without_storing_anything(client, db):
    huge = "x" * (10 * 1024 * 1024)
    answer = client.post(
        "/api/v1/tenant-requests",
        json.dumps(body_with(huge, ("company", "legal_name"))),
        content_type="application/json",
    )
    assert answer.status_code == 413
    assert answer["Content-Type"].startswith("application/json")
    assert "too large" in answer.json()["detail"]

    page = client.post("/request-tenant/", form_post(company_legal_name=huge))
    assert 400 <= page.status_code < 500
    assert rows() == {"requests": 0, "companies": 0, "contacts": 0, "emails": 0}


def test_a_wrong_bearer_token_is_refused(client, submitted):
    wrong = {"HTTP_AUTHORIZATION": "Bearer not-a-token-we-gave"}
    read = client.get(f"/api/v1/tenant-requests/{submitted.pk}", **wrong)
    assert read.status_code == 401
    assert read.json()["detail"]
    before = rows()
    body = body_with("brightwavetoken", ("tenant", "domain_prefix"))
    submit = client.post("/api/v1/tenant-requests", body, content_type="application/json", **wrong)
    assert submit.status_code == 401
    assert "token" in submit.json()["detail"]
    assert rows() == before


def test_an_idempotency_key_replays_the_first_answer(client, worker):
    key = {"HTTP_IDEMPOTENCY_KEY": "brightwave-request-2026-11-25"}
    first = client.post("/api/v1/tenant-requests", api_body(), content_type="application/json", **key)
    again = client.post("/api/v1/tenant-requests", api_body(), content_type="application/json", **key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    worker()  # the request's follow-up job queues both confirmations
    assert rows() == {"requests": 1, "companies": 1, "contacts": 2, "emails": 2}

    other = body_with("brightwavetwo", ("tenant", "domain_prefix"))
    reused = client.post("/api/v1/tenant-requests", other, content_type="application/json", **key)
    assert reused.status_code == 422
    assert "already used with another body" in reused.json()["detail"]
    assert rows() == {"requests": 1, "companies": 1, "contacts": 2, "emails": 2}
    assert IdempotencyRecord.objects.count() == 1


def test_the_live_check_confirms_a_free_prefix_or_shows_the_error(client, othercorp):
    free = client.post("/request-tenant/check/", form_post(_field="tenant_domain_prefix"))
    assert free.status_code == 200
    assert "✓ brightwave.onmicrosoft.com is available." in free.content.decode()

    taken = client.post(
        "/request-tenant/check/", form_post(_field="tenant_domain_prefix", tenant_domain_prefix="othercorp")
    )
    assert taken.status_code == 200
    fragment = html.unescape(taken.content.decode())
    assert '<ul class="errors">' in fragment
    assert "othercorp.onmicrosoft.com is already requested" in fragment
    assert "available" not in fragment.replace("already requested", "")

    vat = client.post(
        "/request-tenant/check/", form_post(_field="company_vat_number", company_vat_number="BE0123456788")
    )
    assert "check digits" in html.unescape(vat.content.decode())
    assert client.post("/request-tenant/check/", form_post(_field="no_such_field")).status_code == 400
    assert rows()["requests"] == 1


WELL_FORMED = re.compile(r"[a-z0-9]{1,27}")


@hypothesis_settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(max_size=40))
def test_any_text_as_a_prefix_never_breaks_anything(client, db, prefix):
    before = rows()
    availability = client.get(f"/api/v1/tenant-domains/{quote(prefix, safe='')}/availability")
    assert availability.status_code < 500
    if availability.status_code == 200:
        answer = availability.json()
        if answer["available"]:
            assert WELL_FORMED.fullmatch(answer["prefix"]) and answer["reason"] == ""
        else:
            assert answer["reason"]
    assert rows() == before

    page = client.post("/request-tenant/", form_post(tenant_domain_prefix=prefix))
    assert page.status_code in (302, 400)
    if page.status_code == 302:
        stored = TenantRequest.objects.order_by("-pk").first()
        assert WELL_FORMED.fullmatch(stored.domain_prefix)
        assert rows()["requests"] == before["requests"] + 1
    else:
        assert rows() == before


@pytest.mark.parametrize("field", ["company_legal_name", "company_vat_number", "technical_email", "commercial_phone"])
def test_a_field_left_empty_is_not_refused_until_the_form_is_sent(client, field):
    """Tabbing past an empty field (its live check runs on blur) says nothing; sending the form then does."""
    check = client.post("/request-tenant/check/", {**form_post(**{field: ""}), "_field": field})
    assert check.status_code == 200
    assert check.content.decode().strip() == ""
    typed = client.post("/request-tenant/check/", {**form_post(**{field: "\x00"}), "_field": field})
    assert "errors" in typed.content.decode()  # what is typed wrong is said at once
    sent = client.post("/request-tenant/", form_post(**{field: ""}))
    assert sent.status_code == 400
    assert field_message(sent.content.decode(), field).strip() == "This field is required."
    assert f'href="#id_{field}"' in sent.content.decode()  # the error summary's entry for it
