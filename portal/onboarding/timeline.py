"""The request's timeline: append-only, each entry chained to the previous one by its hash."""

from dataclasses import dataclass

from django.db import transaction

from portal.accounts.models import User
from portal.onboarding.models import TenantRequest, TimelineEntry

GENESIS = "0" * 64


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
) -> TimelineEntry:
    """Append one entry. The caller holds the request's row lock, so entries are numbered in order."""
    assert transaction.get_connection().in_atomic_block, "timeline_append needs the request's row lock"
    last = TimelineEntry.objects.filter(request=request).order_by("-seq").values("seq", "hash").first()
    entry = TimelineEntry(
        request=request,
        seq=(last["seq"] + 1) if last else 1,
        kind=kind,
        actor=actor,
        actor_label=actor_name or actor_label(actor),
        from_stage=from_stage,
        to_stage=to_stage,
        message=message,
        data=data or {},
        prev_hash=last["hash"] if last else GENESIS,
    )
    entry.hash = entry.compute_hash()
    entry.save()
    return entry


@dataclass(frozen=True)
class ChainBreak:
    request_id: int
    seq: int
    reason: str


def timeline_verify(*, request_ids: list[int] | None = None) -> tuple[int, list[ChainBreak]]:
    """Recompute every chain; returns how many entries were checked and where a chain breaks."""
    entries = TimelineEntry.objects.order_by("request_id", "seq")
    if request_ids is not None:
        entries = entries.filter(request_id__in=request_ids)
    breaks: list[ChainBreak] = []
    checked = 0
    current_request, prev_hash, expected_seq = None, GENESIS, 1
    for entry in entries.iterator(chunk_size=2000):
        if entry.request_id != current_request:
            current_request, prev_hash, expected_seq = entry.request_id, GENESIS, 1
        checked += 1
        if entry.seq != expected_seq:
            breaks.append(ChainBreak(entry.request_id, entry.seq, f"entry {expected_seq} is missing"))
        if entry.prev_hash != prev_hash:
            breaks.append(ChainBreak(entry.request_id, entry.seq, "does not follow the entry before it"))
        if entry.compute_hash() != entry.hash:
            breaks.append(ChainBreak(entry.request_id, entry.seq, "was changed after it was written"))
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    return checked, breaks
