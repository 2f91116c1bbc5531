"""Forgot the password: one answer for every address, one e-mail for an account, a link that works once, and every
session signed in with the old password closed."""

import re

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.notifications.models import OutboundEmail

TESS = "tess@brightwave.example"
OLD, NEW = "Tess-manages-2026", "Korenmarkt-bridges-77"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def reset_link(inbox) -> str:
    (message,) = [m for m in inbox.to(TESS) if str(m["Subject"]).startswith("Choose a new password")]
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/[A-Za-z0-9_\-]+/)", text).group(1)


def ask(client: Client, email: str):
    answer = client.post("/accounts/password/reset/", {"email": email}, follow=True)
    assert answer.redirect_chain == [("/accounts/login/", 302)]
    return re.search(r"If an account uses this address[^<]*", answer.content.decode()).group(0)


def test_password_reset_at_a_real_smtp_server(client, smtp_server, worker, submitted, tess_user):
    worker()  # the request's confirmations
    smtp_server.messages.clear()
    other_browser = Client()
    assert other_browser.post("/accounts/login/", {"email": TESS, "password": OLD}).status_code == 302
    assert other_browser.get(f"/api/v1/tenant-requests/{submitted.pk}").status_code == 200

    unknown = ask(client, "nobody@brightwave.example")
    worker()
    assert not smtp_server.messages and not OutboundEmail.objects.filter(template="password-reset").exists()

    known = ask(client, "Tess@Brightwave.example ")
    worker()
    assert known == unknown
    assert len(smtp_server.messages) == 1
    link = reset_link(smtp_server)

    assert "Choose a new password" in client.get(link).content.decode()
    weak = client.post(link, {"password1": "password", "password2": "password"})
    assert weak.status_code == 400 and "This password is too common." in weak.content.decode()
    saved = client.post(link, {"password1": NEW, "password2": NEW}, follow=True)
    assert saved.redirect_chain == [("/accounts/login/", 302)]
    assert "every session signed in before is closed" in saved.content.decode()

    assert other_browser.get(f"/api/v1/tenant-requests/{submitted.pk}").status_code == 401  # signed out
    again = client.post(link, {"password1": "Another-one-2026x", "password2": "Another-one-2026x"})
    assert again.status_code == 410 and "This link no longer works" in again.content.decode()
    assert User.objects.get(email=TESS).check_password(NEW)
    assert client.post("/accounts/login/", {"email": TESS, "password": OLD}).status_code == 400
    assert client.post("/accounts/login/", {"email": TESS, "password": NEW})["Location"] == "/"

    worker()
    notice = [m for m in smtp_server.to(TESS) if str(m["Subject"]).endswith("portal password was changed")]
    assert len(notice) == 1 and NEW not in notice[0].as_string()
    stored = OutboundEmail.objects.get(template="password-reset")
    assert "/reset/[removed after sending]/" in stored.body_text  # the outbox keeps no live link


def test_a_newer_link_kills_the_older_one(client, smtp_server, worker, tess_user):
    ask(client, TESS)
    worker()
    first = reset_link(smtp_server)
    smtp_server.messages.clear()
    ask(client, TESS)
    worker()
    assert client.get(first).status_code == 410
    assert client.get(reset_link(smtp_server)).status_code == 200


def test_the_api_answers_202_for_any_address_and_e_mails_only_an_account(client, smtp_server, worker, tess_user):
    answers = [
        client.post("/api/v1/auth/password-reset", {"email": email}, content_type="application/json")
        for email in ("nobody@brightwave.example", TESS)
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    worker()
    assert [str(m["To"]) for m in smtp_server.messages if "password" in str(m["Subject"])] == [TESS]


def test_asking_too_often_is_refused_with_a_wait(client, settings, tess_user):
    settings.RATE_LIMIT_PASSWORD_RESET_PER_EMAIL = "2/h"
    for _ in range(2):
        ask(client, TESS)
    refused = client.post("/accounts/password/reset/", {"email": TESS})
    assert refused.status_code == 429 and "Retry-After" in refused
    assert OutboundEmail.objects.filter(template="password-reset").count() == 2
