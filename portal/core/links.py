"""Every link e-mailed for one use (signing, correction, progress, activation, two-step set-up; invitations and
password reset as they come) is issued and opened here. A token nobody was sent answers 404; a link used, expired
or withdrawn answers 410 and says why. Tokens are 256 random bits of which only the SHA-256 is stored."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja.errors import HttpError

from portal.core.models import OneTimeLink
from portal.core.tokens import token_hash, token_new

# Marked here, translated when a link is found dead (the texts stay plain, for comparisons).
DEAD_REASONS = {
    "used": gettext_noop("This link was already used."),
    "revoked": gettext_noop("This link was withdrawn, or a newer one was sent."),
    "expired": gettext_noop("This link has expired."),
}
UNKNOWN_TEMPLATE = "onboarding/link_unknown.html"


class LinkUnknown(Exception):
    """Nobody was sent a link with this token (or not this kind of link): 404."""


class LinkDead(Exception):
    """The link was used, expired or withdrawn: 410, with the reason the page shows."""

    def __init__(self, link: OneTimeLink, reason: str = ""):
        self.link = link
        self.why = link.dead_because()  # "used", "revoked", "expired"; "" when the link is live but its step is over
        super().__init__(
            reason or (_(DEAD_REASONS[self.why]) if self.why in DEAD_REASONS else _("This link can no longer be used."))
        )


def link_issue[L: OneTimeLink](
    model: type[L], *, lifetime: timedelta, revoke_others: dict[str, Any] | None, **fields: Any
) -> tuple[str, L]:
    """A new link: the raw token for the e-mail, and the stored link. `revoke_others` names the owner (and purpose)
    whose earlier live links die with this one, None when they stay. Call inside the transaction that e-mails it."""
    if revoke_others is not None:
        link_revoke(model._default_manager.filter(**revoke_others))
    now = timezone.now()
    raw, hashed = token_new()
    link = model._default_manager.create(token_hash=hashed, created_at=now, expires_at=now + lifetime, **fields)
    return raw, link


def link_open[L: OneTimeLink](
    links: type[L] | QuerySet[L],
    raw: str,
    *,
    lock: bool = False,
    used_ok: bool = False,
    reason: Callable[[L], str] | None = None,
) -> L:
    """The live link behind a token among `links` (a model, or a queryset narrowing owner and purpose): LinkUnknown
    if none, LinkDead (in `reason`'s words, or the plain ones) if used, expired or withdrawn. `lock` holds its row
    until the transaction ends; `used_ok` also opens a used link, for the page that thanks its user."""
    queryset = links if isinstance(links, QuerySet) else links._default_manager.all()
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    try:
        link = queryset.get(token_hash=token_hash(raw or ""))
    except queryset.model.DoesNotExist:
        raise LinkUnknown() from None
    if link.is_live() or (used_ok and link.used_at):
        return link
    raise LinkDead(link, reason(link) if reason else "")


def link_use(link: OneTimeLink) -> None:
    """The link's one use: from now on it opens nothing. The caller opened it with `lock`."""
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])


def link_revoke(links: OneTimeLink | QuerySet, **why: Any) -> None:
    """Withdraw a link, or every live link of a queryset; `why` sets fields that record the reason."""
    now = timezone.now()
    if isinstance(links, QuerySet):
        links.filter(used_at=None, revoked_at=None).update(revoked_at=now, **why)
        return
    links.revoked_at = now
    for field, value in why.items():
        setattr(links, field, value)
    links.save(update_fields=["revoked_at", *why])


Opener = type[OneTimeLink] | QuerySet | Callable[[HttpRequest, str], OneTimeLink | None]
View = Callable[..., HttpResponse]


def link_view(
    opener: Opener,
    *,
    dead_template: str,
    dead_context: dict[str, Any] | Callable[[LinkDead], dict[str, Any]] | None = None,
    unknown_template: str = UNKNOWN_TEMPLATE,
) -> Callable[[View], View]:
    """A page reached by an e-mailed link, called as `view(request, link, token)`. `opener` is a model or queryset,
    or a function of the request and the token (None: the view opens the link itself, through a service). An unknown token renders `unknown_template` with 404; a dead link,
    found on opening or by a service the view calls, `dead_template` with 410, `reason`, `link` and `dead_context`."""

    def open_link(request: HttpRequest, token: str) -> OneTimeLink | None:
        if isinstance(opener, QuerySet | type):
            return link_open(opener, token)
        return opener(request, token)

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, open_link(request, token), token, **kwargs)
            except LinkUnknown:
                return render(request, unknown_template, status=404)
            except LinkDead as dead:
                extra = dead_context(dead) if callable(dead_context) else dead_context or {}
                return render(request, dead_template, {"reason": str(dead), "link": dead.link, **extra}, status=410)

        return wrapper

    return decorate


@contextmanager
def link_http_errors(*, unknown: str, dead: str = "") -> Iterator[None]:
    """An API route (as decorator) or block (as `with`) that opens a link: an unknown token answers 404 with
    `unknown`, a used, expired or withdrawn link 410 with `dead`, or else the link's own reason."""
    try:
        yield
    except LinkUnknown:
        raise HttpError(404, unknown) from None
    except LinkDead as error:
        raise HttpError(410, dead or str(error)) from None
