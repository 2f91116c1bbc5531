"""Every e-mailed link is issued and opened by one module: unknown answers 404, used, expired or withdrawn 410."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from ninja.errors import HttpError

from portal.accounts.models import ActivationLink, User
from portal.agreements.models import SigningInvitation
from portal.agreements.services import dead_reason, invitation_find
from portal.core.links import (
    DEAD_REASONS,
    LinkDead,
    LinkUnknown,
    link_http_errors,
    link_issue,
    link_open,
    link_revoke,
    link_use,
    link_view,
)
from portal.onboarding.models import RequestLink
from portal.onboarding.services import request_validate

DAY = timedelta(days=1)


@pytest.fixture
def tess(db) -> User:
    return User.objects.create_user("tess@brightwave.example", None, first_name="Tess")


@pytest.fixture
def olga(db) -> User:
    return User.objects.create_user("olga@other.example", None, first_name="Olga")


def _activation(user: User) -> tuple[str, ActivationLink]:
    return link_issue(ActivationLink, lifetime=DAY, revoke_others={"user": user}, user=user)


def test_a_token_is_256_random_bits_and_only_its_hash_is_stored(tess):
    raw, link = _activation(tess)
    assert len(raw) >= 43  # 32 bytes, URL-safe base64
    assert link.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    row = ActivationLink.objects.filter(pk=link.pk).values().get()
    assert all(raw not in str(value) for value in row.values())
    assert link.expires_at == link.created_at + DAY
    assert _activation(tess)[0] != raw


def test_a_new_link_revokes_the_owners_earlier_live_links_only(tess, olga):
    first_raw, first = _activation(tess)
    _, olgas = _activation(olga)
    second_raw, second = _activation(tess)
    first.refresh_from_db()
    olgas.refresh_from_db()
    assert first.revoked_at is not None and first.dead_because() == "revoked"
    assert olgas.is_live()
    assert link_open(ActivationLink, second_raw) == second
    with pytest.raises(LinkDead) as dead:
        link_open(ActivationLink, first_raw)
    assert dead.value.why == "revoked"
    assert str(dead.value) == DEAD_REASONS["revoked"]


def test_links_kept_when_others_are_not_revoked(submitted):
    first_raw, _ = link_issue(
        RequestLink, lifetime=DAY, revoke_others=None, request=submitted, purpose=RequestLink.Purpose.PROGRESS
    )
    link_issue(RequestLink, lifetime=DAY, revoke_others=None, request=submitted, purpose=RequestLink.Purpose.PROGRESS)
    assert link_open(RequestLink, first_raw).is_live()


def test_an_unknown_token_or_another_owners_link_is_unknown(tess, olga):
    raw, _ = _activation(tess)
    for token in ("", "made-up-token-that-nobody-was-sent", raw[:-1]):
        with pytest.raises(LinkUnknown):
            link_open(ActivationLink, token)
    with pytest.raises(LinkUnknown):
        link_open(ActivationLink.objects.filter(user=olga), raw)


def test_a_used_link_is_dead_and_says_so(tess):
    raw, link = _activation(tess)
    with transaction.atomic():
        link_use(link_open(ActivationLink, raw, lock=True))
    with pytest.raises(LinkDead) as dead:
        link_open(ActivationLink, raw)
    assert (dead.value.why, str(dead.value)) == ("used", DEAD_REASONS["used"])
    assert dead.value.link == link
    assert link_open(ActivationLink, raw, used_ok=True) == link  # for the page that thanks its user


def test_an_expired_link_is_dead_and_says_so(tess, time_machine):
    raw, link = _activation(tess)
    time_machine.move_to(link.expires_at - timedelta(seconds=1))
    assert link_open(ActivationLink, raw) == link
    time_machine.move_to(link.expires_at)
    with pytest.raises(LinkDead) as dead:
        link_open(ActivationLink, raw)
    assert (dead.value.why, str(dead.value)) == ("expired", DEAD_REASONS["expired"])


def test_a_signing_link_gives_its_own_reasons(vera, submitted):
    invitation = request_validate(request_id=submitted.pk, by=vera).agreements.get().invitations.get()
    raw, live = link_issue(
        SigningInvitation,
        lifetime=DAY,
        revoke_others=None,
        agreement=invitation.agreement,
        signer_email=invitation.signer_email,
    )
    link_revoke(live, revoked_reason="resent")
    live.refresh_from_db()
    assert live.revoked_reason == "resent"
    with pytest.raises(LinkDead) as dead:
        invitation_find(raw)
    assert str(dead.value) == "A newer link was sent: use the most recent e-mail." == dead_reason(live)


def test_revoking_a_queryset_leaves_used_links_used(tess):
    used_raw, used = _activation(tess)
    link_use(used)
    link_revoke(ActivationLink.objects.filter(user=tess))
    used.refresh_from_db()
    assert used.revoked_at is None and used.dead_because() == "used"


# --- the view decorator and the API helper -----------------------------------------------------------


def _get(view, token: str) -> HttpResponse:
    request = RequestFactory().get(f"/activate/{token}/")
    request.user = AnonymousUser()
    return view(request, token=token)


@link_view(ActivationLink, dead_template="agreements/link_dead.html", dead_context=lambda dead: {"invitation": None})
def _page(request, link, token):
    if request.GET.get("use"):
        link_use(link)
        raise LinkDead(link)
    return HttpResponse(f"hello {link.user.first_name}")


def test_the_view_decorator_answers_404_for_unknown_and_410_for_dead(tess):
    raw, link = _activation(tess)
    assert _get(_page, raw).content == b"hello Tess"
    unknown = _get(_page, "made-up-token")
    assert unknown.status_code == 404
    assert "We do not know this link" in unknown.content.decode()
    link_use(link)
    dead = _get(_page, raw)
    assert dead.status_code == 410
    assert DEAD_REASONS["used"] in dead.content.decode()


def test_a_link_that_dies_inside_the_view_answers_410(tess):
    raw, _ = _activation(tess)
    request = RequestFactory().get(f"/activate/{raw}/?use=1")
    request.user = AnonymousUser()
    assert _page(request, token=raw).status_code == 410


def test_the_view_decorator_takes_an_opener_of_request_and_token(tess, olga):
    raw, _ = _activation(tess)
    opened = link_view(
        lambda request, token: link_open(ActivationLink.objects.filter(user=olga), token),
        dead_template="agreements/link_dead.html",
    )(lambda request, link, token: HttpResponse("opened"))
    assert _get(opened, raw).status_code == 404


def test_the_api_helper_answers_404_and_410_with_the_given_details(tess):
    raw, link = _activation(tess)
    errors = link_http_errors(unknown="There is no such link.", dead="This link was used.")
    with pytest.raises(HttpError) as unknown, errors:
        link_open(ActivationLink, "nope")
    assert (unknown.value.status_code, str(unknown.value)) == (404, "There is no such link.")
    link_use(link)
    with pytest.raises(HttpError) as dead, link_http_errors(unknown="There is no such link."):
        link_open(ActivationLink, raw)
    assert (dead.value.status_code, str(dead.value)) == (410, DEAD_REASONS["used"])


def test_the_api_helper_decorates_a_route(tess):
    @link_http_errors(unknown="There is no such link.")
    def route(token: str) -> str:
        return link_open(ActivationLink, token).user.first_name

    raw, _ = _activation(tess)
    assert route(raw) == "Tess"
    assert route(raw) == "Tess"  # each call gets its own context
    with pytest.raises(HttpError):
        route("nope")


def test_the_link_model_says_why_it_is_dead(tess):
    _, link = _activation(tess)
    now = timezone.now()
    assert link.dead_because(now) == "" and link.is_live(now)
    assert link.dead_because(link.expires_at) == "expired"
