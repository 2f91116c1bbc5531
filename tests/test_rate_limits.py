"""Rate limits on the anonymous paths that e-mail someone or ask Microsoft.

A probe sent 100 request forms in 6 seconds and made the portal send 200 e-mails to addresses of its
choosing; activation links, signing codes and prefix checks (a Partner Center call each) were unlimited
too. Each limit counts per client address and per target e-mail address, in the database; over it the
answer is 429 with Retry-After, another address is unaffected, and the next window lets the user in again.
"""

from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from portal.accounts.models import User
from portal.core.models import RateCounter
from portal.core.ratelimit import Rate, rate_parse
from portal.core.tokens import token_new
from portal.onboarding.models import RequestLink
from tests.conftest import api_body, form_post, signing_token

ELSEWHERE = "203.0.113.9"


@pytest.fixture
def clock(time_machine):
    """The clock stopped just after the start of an hour (every window of these tests starts on the hour)."""
    start = timezone.now().replace(minute=0, second=5, microsecond=0) + timedelta(hours=1)
    time_machine.move_to(start, tick=False)
    return time_machine


def assert_limited(response, *, json: bool) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    if json:
        assert "Too many attempts" in response.json()["detail"]
    else:
        assert "Too many attempts" in unescape(response.content.decode())


def test_rates_are_read_from_settings():
    assert rate_parse("10/h") == Rate(10, timedelta(hours=1))
    assert rate_parse("120/10m") == Rate(120, timedelta(minutes=10))
    assert rate_parse("off") is None
    with pytest.raises(Exception, match="is not a rate"):
        rate_parse("ten an hour")


# The request form, the correction form and POST /api/v1/tenant-requests.


@pytest.mark.django_db
def test_the_request_form_answers_429_after_the_limit_and_keeps_what_was_typed(client, settings, clock):
    settings.RATE_LIMIT_SUBMIT = "3/h"
    for n in range(3):
        answer = client.post(
            "/request-tenant/", form_post(tenant_domain_prefix=f"brightwave{n}", technical_email=f"t{n}@x.example")
        )
        assert answer.status_code == 302
    limited = client.post(
        "/request-tenant/", form_post(company_legal_name="Typed Here BV", tenant_domain_prefix="brightwave9")
    )
    assert_limited(limited, json=False)
    assert 'value="Typed Here BV"' in limited.content.decode()
    assert 'value="brightwave9"' in limited.content.decode()

    other = client.post(
        "/request-tenant/",
        form_post(tenant_domain_prefix="brightwave7", technical_email="t7@x.example"),
        REMOTE_ADDR=ELSEWHERE,
    )
    assert other.status_code == 302

    clock.shift(timedelta(hours=1))
    assert (
        client.post(
            "/request-tenant/", form_post(tenant_domain_prefix="brightwave8", technical_email="t8@x.example")
        ).status_code
        == 302
    )


@pytest.mark.django_db
def test_one_contact_address_cannot_be_sent_requests_from_many_client_addresses(client, settings, clock):
    settings.RATE_LIMIT_SUBMIT_PER_EMAIL = "2/h"
    for n in range(2):
        post = form_post(tenant_domain_prefix=f"victim{n}", commercial_email=f"c{n}@x.example")
        assert client.post("/request-tenant/", post, REMOTE_ADDR=f"198.51.100.{n}").status_code == 302
    post = form_post(tenant_domain_prefix="victim5", commercial_email="c5@x.example")
    assert_limited(client.post("/request-tenant/", post, REMOTE_ADDR="198.51.100.5"), json=False)
    post = form_post(
        tenant_domain_prefix="other5", technical_email="someone@else.example", commercial_email="c6@x.example"
    )
    assert client.post("/request-tenant/", post, REMOTE_ADDR="198.51.100.6").status_code == 302


@pytest.mark.django_db
def test_the_api_submission_answers_json_429(client, settings, clock):
    settings.RATE_LIMIT_SUBMIT = "2/h"
    for n in range(2):
        body = api_body(tenant={"domain_prefix": f"apiwave{n}", "display_name": "Apiwave", "country": "BE"})
        assert client.post("/api/v1/tenant-requests", body, content_type="application/json").status_code == 201
    body = api_body(tenant={"domain_prefix": "apiwave5", "display_name": "Apiwave", "country": "BE"})
    assert_limited(client.post("/api/v1/tenant-requests", body, content_type="application/json"), json=True)
    other = client.post("/api/v1/tenant-requests", body, content_type="application/json", REMOTE_ADDR=ELSEWHERE)
    assert other.status_code == 201
    clock.shift(timedelta(hours=1))
    body = api_body(tenant={"domain_prefix": "apiwave6", "display_name": "Apiwave", "country": "BE"})
    assert client.post("/api/v1/tenant-requests", body, content_type="application/json").status_code == 201


@pytest.mark.django_db
def test_the_correction_form_is_limited_too(client, settings, submitted, clock):
    settings.RATE_LIMIT_SUBMIT = "2/h"
    raw, hashed = token_new()
    RequestLink.objects.create(
        request=submitted,
        purpose=RequestLink.Purpose.CORRECTION,
        token_hash=hashed,
        expires_at=timezone.now() + timedelta(days=1),
    )
    for _ in range(2):
        assert client.post(f"/correct/{raw}/", {"company_legal_name": ""}).status_code == 400
    limited = client.post(f"/correct/{raw}/", {"company_legal_name": "Corrected BV"})
    assert_limited(limited, json=False)
    assert 'value="Corrected BV"' in limited.content.decode()
    assert client.post(f"/correct/{raw}/", {}, REMOTE_ADDR=ELSEWHERE).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_hundred_submissions_send_no_more_than_the_limit_allows(client, settings, smtp_server, worker):
    """The probe's scenario: 100 forms from one address, then 100 to one victim from 100 addresses."""
    settings.RATE_LIMIT_SUBMIT = "10/h"
    settings.RATE_LIMIT_SUBMIT_PER_EMAIL = "5/h"
    answers = [
        client.post(
            "/request-tenant/",
            form_post(
                tenant_domain_prefix=f"flood{n}", technical_email=f"t{n}@x.example", commercial_email=f"c{n}@x.example"
            ),
        ).status_code
        for n in range(100)
    ]
    assert answers.count(302) == 10 and answers.count(429) == 90
    for n in range(100):
        post = form_post(
            tenant_domain_prefix=f"victim{n}", technical_email="victim@x.example", commercial_email=f"v{n}@x.example"
        )
        client.post("/request-tenant/", post, REMOTE_ADDR=f"10.1.{n // 250}.{n % 250}")
    worker()
    assert len(smtp_server.messages) <= 2 * 10 + 2 * 5
    assert len(smtp_server.to("victim@x.example")) == 5


# Activation links.


@pytest.mark.django_db
def test_activation_links_are_limited_per_address_and_per_e_mail(client, settings, clock):
    settings.RATE_LIMIT_ACTIVATION = "3/h"
    settings.RATE_LIMIT_ACTIVATION_PER_EMAIL = "2/h"
    User.objects.create_user("tess@brightwave.example", None)
    for _ in range(2):
        assert client.post("/accounts/activation/", {"email": "tess@brightwave.example"}).status_code == 302
    limited = client.post("/accounts/activation/", {"email": "TESS@brightwave.example"}, REMOTE_ADDR=ELSEWHERE)
    assert_limited(limited, json=False)  # the same address, written otherwise, from elsewhere
    assert 'value="TESS@brightwave.example"' in limited.content.decode()
    assert client.post("/accounts/activation/", {"email": "other@brightwave.example"}).status_code == 302
    assert_limited(client.post("/accounts/activation/", {"email": "third@brightwave.example"}), json=False)
    assert (
        client.post("/accounts/activation/", {"email": "fourth@brightwave.example"}, REMOTE_ADDR=ELSEWHERE).status_code
        == 302
    )
    assert not RateCounter.objects.filter(bucket__contains="brightwave").exists()  # e-mail addresses are kept hashed
    clock.shift(timedelta(hours=1))
    assert client.post("/accounts/activation/", {"email": "tess@brightwave.example"}).status_code == 302


# Signing codes: one a minute per link already; now also per client address and per signer address.


@pytest.mark.django_db(transaction=True)
def test_signing_codes_are_limited_on_the_page_and_in_the_api(client, settings, awaiting, smtp_server, clock):
    settings.RATE_LIMIT_SIGNING_CODE = "2/h"
    token = signing_token(smtp_server)
    assert client.post(f"/api/v1/signing/{token}/code").status_code == 202
    too_soon = client.post(f"/api/v1/signing/{token}/code")
    assert too_soon.status_code == 429 and "moments ago" in too_soon.json()["detail"]  # the rule per link stays
    clock.shift(timedelta(seconds=61))
    limited = client.post(f"/api/v1/signing/{token}/code")
    assert_limited(limited, json=True)
    page = client.post(f"/sign/{token}/code/")
    assert_limited(page, json=False)
    assert "Sign the agreement" in page.content.decode()  # the signing page, with the reason at the code field
    htmx = client.post(f"/sign/{token}/code/", headers={"HX-Request": "true"})
    assert_limited(htmx, json=False)

    assert client.post(f"/sign/{token}/code/", REMOTE_ADDR=ELSEWHERE).status_code == 200
    clock.shift(timedelta(hours=1))
    assert client.post(f"/api/v1/signing/{token}/code").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_signing_codes_are_limited_per_signer_address(client, settings, awaiting, smtp_server, clock):
    settings.RATE_LIMIT_SIGNING_CODE_PER_EMAIL = "2/h"
    token = signing_token(smtp_server)
    for n in range(2):
        assert client.post(f"/api/v1/signing/{token}/code", REMOTE_ADDR=f"198.51.100.{n}").status_code == 202
        clock.shift(timedelta(seconds=61))
    assert_limited(client.post(f"/api/v1/signing/{token}/code", REMOTE_ADDR="198.51.100.9"), json=True)


# The prefix check (the API and the form's live check), and API tokens.


@pytest.mark.django_db
def test_prefix_checks_are_limited_in_the_api_and_the_form(client, settings, clock):
    settings.RATE_LIMIT_PREFIX_CHECK = "3/10m"
    for _ in range(2):
        assert client.get("/api/v1/tenant-domains/brightwave/availability").status_code == 200
    assert client.post("/request-tenant/check/", form_post(_field="tenant_domain_prefix")).status_code == 200
    assert_limited(client.get("/api/v1/tenant-domains/brightwave/availability"), json=True)
    live = client.post(
        "/request-tenant/check/", form_post(_field="tenant_domain_prefix"), headers={"HX-Request": "true"}
    )
    assert_limited(live, json=False)
    assert "errors" in live.content.decode()  # the field's message slot says why
    assert client.get("/api/v1/tenant-domains/brightwave/availability", REMOTE_ADDR=ELSEWHERE).status_code == 200
    clock.shift(timedelta(minutes=10))
    assert client.get("/api/v1/tenant-domains/brightwave/availability").status_code == 200


@pytest.mark.django_db
def test_api_tokens_are_limited_per_address_and_per_account(client, settings, clock):
    settings.RATE_LIMIT_API_TOKEN = "3/h"
    settings.RATE_LIMIT_API_TOKEN_PER_EMAIL = "2/h"
    User.objects.create_user("tess@brightwave.example", "Tess-manages-2026")

    def token(email: str, password: str = "Tess-manages-2026", **extra):
        return client.post(
            "/api/v1/auth/token", {"email": email, "password": password}, content_type="application/json", **extra
        )

    assert token("tess@brightwave.example").status_code == 201
    assert token("tess@brightwave.example").status_code == 201
    assert_limited(token("tess@brightwave.example", REMOTE_ADDR=ELSEWHERE), json=True)
    assert token("nobody@brightwave.example", "wrong-password").status_code == 401
    assert_limited(token("someone@brightwave.example", "wrong-password"), json=True)
    clock.shift(timedelta(hours=1))
    assert token("tess@brightwave.example").status_code == 201


@pytest.mark.django_db
def test_an_ipv6_client_is_counted_by_its_64_block(client, settings, clock):
    settings.RATE_LIMIT_PREFIX_CHECK = "2/10m"
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::ffff"):
        assert client.get("/api/v1/tenant-domains/brightwave/availability", REMOTE_ADDR=host).status_code == 200
    limited = client.get("/api/v1/tenant-domains/brightwave/availability", REMOTE_ADDR="2001:db8:1:2:abcd::9")
    assert_limited(limited, json=True)
    assert (
        client.get("/api/v1/tenant-domains/brightwave/availability", REMOTE_ADDR="2001:db8:1:3::1").status_code == 200
    )


@pytest.mark.django_db
def test_counters_of_closed_windows_are_deleted(client, settings, clock):
    settings.RATE_LIMIT_PREFIX_CHECK = "100/10m"
    client.get("/api/v1/tenant-domains/brightwave/availability")
    client.get("/api/v1/tenant-domains/brightwave/availability", REMOTE_ADDR=ELSEWHERE)
    assert RateCounter.objects.count() == 2
    clock.shift(timedelta(minutes=10))
    client.get("/api/v1/tenant-domains/brightwave/availability")
    assert list(RateCounter.objects.values_list("hits", flat=True)) == [1]
