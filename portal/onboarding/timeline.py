"""The request's timeline: append-only, each entry chained to the previous one by a keyed hash (HMAC-SHA256).

A head per request records the last entry's number and hash under a keyed MAC, so an entry removed from the
end, a whole timeline removed, or a chain rewritten with recomputed hashes all show when the timeline is verified.
"""

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from operator import attrgetter

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from portal.accounts.models import User
from portal.onboarding.models import TenantRequest, TimelineEntry, TimelineHead

GENESIS = "0" * 64
FIRST_ENTRY_WITHIN = timedelta(minutes=5)


def actor_label(user: User | None, fallback: str = "System") -> str:
    if user is None:
        return fallback
    return f"{user.get_full_name()} <{user.email}>" if user.get_full_name() != user.email else user.email


def timeline_append(
    *,
    request: TenantRequest,
    kind: str,
    message: str,
    actor: User | None = None,
    actor_name: str = "",
    from_stage: str = "",
    to_stage: str = "",
    data: dict | None = None,
    first: bool = False,
) -> TimelineEntry:
    """Append one entry and move the head. The caller holds the request's row lock, so entries are numbered in order.

    `first`: the caller created the request in this transaction, so it has neither entries nor head to read.
    """
    assert transaction.get_connection().in_atomic_block, "timeline_append needs the request's row lock"
    head, last = (None, None) if first else _head_and_last(request)
    if head is not None and head.is_authentic() and (last is None or head.seq >= last["seq"]):
        # The chain continues from the head, not from what is left: entries removed from the end stay missing.
        seq, prev_hash, rebuilt_at = head.seq + 1, head.hash, head.rebuilt_at
    elif head is None and last is None:
        # A request gets its first entry as it is stored; an older one with neither entries nor head lost them.
        seq, prev_hash = 1, GENESIS
        rebuilt_at = 1 if request.created_at < timezone.now() - FIRST_ENTRY_WITHIN else None
    else:
        # The head is missing, forged, or behind the entries: continue from the last entry and say so for good.
        seq = (last["seq"] if last else 0) + 1
        prev_hash = last["hash"] if last else GENESIS
        rebuilt_at = seq
    entry = TimelineEntry(
        request=request,
        seq=seq,
        kind=kind,
        actor=actor,
        actor_label=actor_name or actor_label(actor),
        from_stage=from_stage,
        to_stage=to_stage,
        message=message,
        data=data or {},
        prev_hash=prev_hash,
    )
    entry.hash = entry.compute_hash()
    entry.save()
    _head_move(head, request=request, entry=entry, rebuilt_at=rebuilt_at)
    return entry


def _head_and_last(request: TenantRequest) -> tuple[TimelineHead | None, dict | None]:
    """The request's head and its last entry's number and hash, in one statement while the head exists."""
    entries = TimelineEntry.objects.filter(request=request).order_by("-seq")
    newest = TimelineEntry.objects.filter(request=OuterRef("request")).order_by("-seq")
    head = (
        TimelineHead.objects.filter(request=request)
        .annotate(last_seq=Subquery(newest.values("seq")[:1]), last_hash=Subquery(newest.values("hash")[:1]))
        .first()
    )
    if head is None:
        last = entries.values("seq", "hash").first()
        return None, None if last is None else {"seq": last["seq"], "hash": last["hash"]}
    last_seq, last_hash = getattr(head, "last_seq"), getattr(head, "last_hash")  # noqa: B009  (annotations)
    return head, None if last_seq is None else {"seq": last_seq, "hash": last_hash}


def _head_move(
    head: TimelineHead | None, *, request: TenantRequest, entry: TimelineEntry, rebuilt_at: int | None
) -> None:
    new = head is None
    head = head or TimelineHead(request=request)
    head.seq, head.hash, head.rebuilt_at = entry.seq, entry.hash, rebuilt_at
    head.mac = head.compute_mac()
    if new:
        head.save(force_insert=True)
    else:
        head.save(update_fields=["seq", "hash", "rebuilt_at", "mac"])


@dataclass(frozen=True)
class ChainBreak:
    request_id: int
    seq: int | None  # None: the break concerns the request's timeline as a whole
    reason: str


def timeline_verify(*, request_ids: list[int] | None = None) -> tuple[int, list[ChainBreak]]:
    """Recompute every request's chain and check it against its head.

    Returns how many entries were checked and where a chain breaks. Reads one snapshot of the database,
    so an entry appended meanwhile is not mistaken for a head out of step with its chain.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(request_ids)


def _verify(request_ids: list[int] | None) -> tuple[int, list[ChainBreak]]:
    requests = (
        TenantRequest.objects.order_by("pk")
        .select_related("timeline_head")
        .only("pk", "timeline_head__seq", "timeline_head__hash", "timeline_head__rebuilt_at", "timeline_head__mac")
    )
    entries = TimelineEntry.objects.order_by("request_id", "seq")
    if request_ids is not None:
        requests = requests.filter(pk__in=request_ids)
        entries = entries.filter(request_id__in=request_ids)
    # Both streams are ordered by request: walk them side by side, one request's chain at a time.
    chains = groupby(entries.iterator(chunk_size=2000), key=attrgetter("request_id"))
    pending = next(chains, None)
    breaks: list[ChainBreak] = []
    checked = 0
    for request in requests.iterator(chunk_size=2000):
        while pending is not None and pending[0] < request.pk:  # entries of no request: the foreign key forbids them
            pending = next(chains, None)
        chain: Iterable[TimelineEntry] = ()
        if pending is not None and pending[0] == request.pk:
            chain, pending = pending[1], None
        count, found = _chain_check(request.pk, chain, getattr(request, "timeline_head", None))
        checked += count
        breaks += found
        if pending is None:
            pending = next(chains, None)
    return checked, breaks


def _chain_check(
    request_id: int, entries: Iterable[TimelineEntry], head: TimelineHead | None
) -> tuple[int, list[ChainBreak]]:
    breaks: list[ChainBreak] = []
    count, prev_hash, expected_seq = 0, GENESIS, 1
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            breaks.append(ChainBreak(request_id, entry.seq, f"entry {expected_seq} is missing"))
        if entry.prev_hash != prev_hash:
            breaks.append(ChainBreak(request_id, entry.seq, "does not follow the entry before it"))
        if not hmac.compare_digest(entry.compute_hash(), entry.hash):
            breaks.append(ChainBreak(request_id, entry.seq, _why_hash_differs(entry)))
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    return count, breaks + _head_check(request_id, head, expected_seq - 1, prev_hash)


def _why_hash_differs(entry: TimelineEntry) -> str:
    if entry.compute_unkeyed_hash() == entry.hash:
        return "carries an unkeyed hash: rewritten, or from a chain already broken when hashes became keyed"
    return "was changed after it was written"


def _head_check(request_id: int, head: TimelineHead | None, last_seq: int, last_hash: str) -> list[ChainBreak]:
    if head is None:
        if last_seq == 0:
            return [ChainBreak(request_id, None, "has no timeline: its entries and their head were removed")]
        return [ChainBreak(request_id, None, f"has no timeline head: entries after {last_seq} may have been removed")]
    if not head.is_authentic():
        return [ChainBreak(request_id, None, "its timeline head was changed")]
    breaks = []
    if head.seq > last_seq:
        where = "the whole timeline is missing" if last_seq == 0 else f"the timeline ends at entry {last_seq}"
        breaks.append(ChainBreak(request_id, last_seq + 1, f"is missing: {where}, its head says {head.seq}"))
    elif head.seq < last_seq:
        breaks.append(ChainBreak(request_id, head.seq + 1, f"is past the timeline head, which says {head.seq}"))
    elif head.hash != last_hash:
        breaks.append(ChainBreak(request_id, last_seq, "is not the entry the timeline head recorded"))
    if head.rebuilt_at is not None:
        breaks.append(
            ChainBreak(
                request_id,
                head.rebuilt_at,
                "was appended when the timeline head was missing or changed: entries before it may have been removed",
            )
        )
    return breaks
