"""The timeline's hash chain keyed (HMAC-SHA256 under AUDIT_KEY) and anchored by a head per request.

Chains that verify under the old unkeyed SHA-256 rule are re-hashed with the key; a chain already broken keeps
its old hashes, so it still reports as broken. Every request with entries gets a head on its last entry.
The hashing rules are copied here as they are today, so later changes to the models do not change this step.
"""

import hashlib
import hmac
import json

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GENESIS = "0" * 64
BATCH = 200


def _payload(entry) -> dict:
    return {
        "request": entry.request_id,
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "kind": entry.kind,
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "from": entry.from_stage,
        "to": entry.to_stage,
        "message": entry.message,
        "data": entry.data,
        "prev": entry.prev_hash,
    }


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def _keyed(purpose: str, payload: dict) -> str:
    message = purpose.encode() + b"\n" + _canonical(payload)
    return hmac.new(settings.AUDIT_KEY.encode(), message, hashlib.sha256).hexdigest()


def unkeyed_hash(entry) -> str:
    return hashlib.sha256(_canonical(_payload(entry))).hexdigest()


def keyed_hash(entry) -> str:
    return _keyed("timeline-entry", _payload(entry))


def head_mac(request_id: int, seq: int, hash_: str) -> str:
    return _keyed("timeline-head", {"request": request_id, "seq": seq, "hash": hash_, "rebuilt_at": None})


def _intact(chain: list, rule) -> bool:
    prev = GENESIS
    for expected_seq, entry in enumerate(chain, start=1):
        if entry.seq != expected_seq or entry.prev_hash != prev or rule(entry) != entry.hash:
            return False
        prev = entry.hash
    return True


def _rehash(chain: list, rule) -> None:
    prev = GENESIS
    for entry in chain:
        entry.prev_hash = prev
        entry.hash = rule(entry)
        prev = entry.hash


def _chains(apps):
    """Each request's entries in order, a batch of requests at a time (no cursor open while rows change)."""
    TimelineEntry = apps.get_model("onboarding", "TimelineEntry")
    request_ids = sorted(set(TimelineEntry.objects.values_list("request_id", flat=True)))
    for start in range(0, len(request_ids), BATCH):
        batch = request_ids[start : start + BATCH]
        chains: dict[int, list] = {}
        for entry in TimelineEntry.objects.filter(request_id__in=batch).order_by("request_id", "seq"):
            chains.setdefault(entry.request_id, []).append(entry)
        yield from chains.items()


def key_and_anchor(apps, schema_editor):
    TimelineEntry = apps.get_model("onboarding", "TimelineEntry")
    TimelineHead = apps.get_model("onboarding", "TimelineHead")
    for request_id, chain in _chains(apps):
        if _intact(chain, unkeyed_hash):
            _rehash(chain, keyed_hash)
            TimelineEntry.objects.bulk_update(chain, ["prev_hash", "hash"])
        last = chain[-1]
        TimelineHead.objects.create(
            request_id=request_id, seq=last.seq, hash=last.hash, mac=head_mac(request_id, last.seq, last.hash)
        )


def unkey(apps, schema_editor):
    """Back to unkeyed hashes for the chains that verify with the key; the heads go with their table."""
    TimelineEntry = apps.get_model("onboarding", "TimelineEntry")
    for _request_id, chain in _chains(apps):
        if _intact(chain, keyed_hash):
            _rehash(chain, unkeyed_hash)
            TimelineEntry.objects.bulk_update(chain, ["prev_hash", "hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0002_tenantrequest_provisioning_attempts_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="TimelineHead",
            fields=[
                (
                    "request",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="timeline_head",
                        serialize=False,
                        to="onboarding.tenantrequest",
                    ),
                ),
                ("seq", models.PositiveIntegerField()),
                ("hash", models.CharField(max_length=64)),
                (
                    "rebuilt_at",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="The entry appended when this head was missing or did not verify; kept for good.",
                        null=True,
                    ),
                ),
                ("mac", models.CharField(max_length=64)),
            ],
        ),
        migrations.RunPython(key_and_anchor, unkey),
    ]
