"""The audit chain can be truncated or rewritten: `verify_audit` must catch every way of doing it.

Each request's timeline is chained by a keyed hash (the key is not in the database) and anchored by a head
recording its last entry, so an edited entry, entries removed from the end, a whole timeline removed, a
chain rewritten with recomputed plain SHA-256 hashes, and a forged head all fail the check.
"""

import hashlib
import importlib
import json
import threading

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from portal.onboarding import pipeline
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.services import request_ask_changes, request_record_vat_check, request_reject, request_submit
from portal.onboarding.timeline import timeline_append
from tests.conftest import contact, request_data

GENESIS = "0" * 64


def journey(request: TenantRequest, vera) -> TenantRequest:
    """A real timeline of four entries: submitted, VAT checked, changes asked, rejected."""
    request_record_vat_check(request_id=request.pk, result="confirmed", registered_name="BRIGHTWAVE ANALYTICS")
    request_ask_changes(request_id=request.pk, by=vera, message="Please give the registry number.")
    request_reject(request_id=request.pk, by=vera, reason="The company is not registered.")
    assert list(request.timeline.values_list("seq", flat=True)) == [1, 2, 3, 4]
    return request


@pytest.fixture
def rejected(submitted, vera) -> TenantRequest:
    return journey(submitted, vera)


@pytest.fixture
def other(db) -> TenantRequest:
    """Another company's request, untouched by the tampering."""
    return request_submit(
        data=request_data(
            legal_name="Other Corp NV",
            vat_number="BE0202239951",
            domain_prefix="othercorp",
            technical=contact("Olga", "Other", "IT", "+32470111222", "other.example"),
            commercial=contact("Otto", "Other", "CEO", "+32470333444", "other.example"),
        )
    )


def audit_fails(capsys, broken_in: int | None = None) -> list[str]:
    """Run verify_audit, expect exit 1, and return the lines it wrote about each break."""
    with pytest.raises(CommandError, match=f"broken in {broken_in or ''}") as failure:
        call_command("verify_audit")
    assert "entries checked" in str(failure.value)
    return capsys.readouterr().err.strip().splitlines()


def audit_passes(capsys, *args: str) -> str:
    call_command("verify_audit", *args)
    out = capsys.readouterr().out
    assert "Timeline intact" in out
    return out


def sql_delete_entries(request: TenantRequest, *, from_seq: int = 1) -> None:
    """What someone with database access does: the model itself refuses delete()."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TimelineEntry._meta.db_table} WHERE request_id = %s AND seq >= %s",
            [request.pk, from_seq],
        )


def plain_sha256(entry: TimelineEntry) -> str:
    """The chain's old rule, as an attacker would recompute it: SHA-256 over the entry and the previous hash."""
    payload = {
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
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def rewrite_with_plain_sha256(request: TenantRequest, *, from_seq: int, **changes) -> None:
    """Edit one entry, then recompute its hash and every later one's with the old unkeyed rule."""
    if changes:
        TimelineEntry.objects.filter(request=request, seq=from_seq).update(**changes)
    entries = list(TimelineEntry.objects.filter(request=request).order_by("seq"))
    prev = GENESIS
    for entry in entries:
        if entry.seq >= from_seq:
            entry.prev_hash = prev
            entry.hash = plain_sha256(entry)
            TimelineEntry.objects.filter(pk=entry.pk).update(prev_hash=entry.prev_hash, hash=entry.hash)
        prev = entry.hash


# The audit chain can be truncated or rewritten: each way is caught.


def test_audit_chain_rewritten_an_edited_entry_is_caught(rejected, other, capsys):
    """An entry edited in place, and the last entry edited with its plain SHA-256 hash recomputed."""
    TimelineEntry.objects.filter(request=rejected, seq=3).update(message="Nothing was asked.")
    assert audit_fails(capsys, 1) == [f"request #{rejected.pk}, entry 3: was changed after it was written"]

    last = TimelineEntry.objects.get(request=rejected, seq=4)
    last.message = "Validated."
    TimelineEntry.objects.filter(pk=last.pk).update(message=last.message, hash=plain_sha256(last))
    lines = audit_fails(capsys, 3)
    assert f"request #{rejected.pk}, entry 4: carries an unkeyed hash" in "\n".join(lines)
    assert f"request #{rejected.pk}, entry 4: is not the entry the timeline head recorded" in lines
    audit_passes(capsys, "--request", str(other.pk))


def test_audit_chain_truncated_a_deleted_last_entry_is_caught(rejected, other, capsys):
    sql_delete_entries(rejected, from_seq=4)
    assert audit_fails(capsys, 1) == [
        f"request #{rejected.pk}, entry 4: is missing: the timeline ends at entry 3, its head says 4"
    ]

    TimelineEntry.objects.filter(request=rejected, seq=3)._raw_delete(connection.alias)
    assert audit_fails(capsys, 1) == [
        f"request #{rejected.pk}, entry 3: is missing: the timeline ends at entry 2, its head says 4"
    ]


def test_audit_chain_truncated_a_deleted_whole_timeline_is_caught(rejected, other, capsys):
    sql_delete_entries(rejected)
    assert audit_fails(capsys, 1) == [
        f"request #{rejected.pk}, entry 1: is missing: the whole timeline is missing, its head says 4"
    ]
    with connection.cursor() as cursor:  # the head too: a request is never without its first entry
        cursor.execute("DELETE FROM onboarding_timelinehead WHERE request_id = %s", [rejected.pk])
    assert audit_fails(capsys, 1) == [
        f"request #{rejected.pk}: has no timeline: its entries and their head were removed"
    ]
    audit_passes(capsys, "--request", str(other.pk))


def test_audit_chain_rewritten_with_recomputed_unkeyed_hashes_is_caught(rejected, other, capsys):
    """The attacker knows the old algorithm and recomputes every hash from the edited entry on."""
    rewrite_with_plain_sha256(rejected, from_seq=3, message="Changes requested: nothing.")
    lines = audit_fails(capsys)
    assert [line.split(":")[0] for line in lines] == [
        f"request #{rejected.pk}, entry 3",
        f"request #{rejected.pk}, entry 4",
        f"request #{rejected.pk}, entry 4",
    ]
    assert "carries an unkeyed hash" in lines[0] and "carries an unkeyed hash" in lines[1]
    assert "is not the entry the timeline head recorded" in lines[2]


def test_audit_chain_truncated_behind_a_forged_head_is_caught(rejected, capsys):
    """Entries removed and the head moved back to match: without the key its MAC cannot be made."""
    from portal.onboarding.models import TimelineHead

    third = TimelineEntry.objects.get(request=rejected, seq=3)
    sql_delete_entries(rejected, from_seq=4)
    TimelineHead.objects.filter(request=rejected).update(seq=3, hash=third.hash)
    assert audit_fails(capsys, 1) == [f"request #{rejected.pk}: its timeline head was changed"]


def test_audit_chain_truncated_stays_caught_after_new_entries(rejected, capsys):
    """A later entry continues from the head, so what was removed before it stays missing."""
    sql_delete_entries(rejected, from_seq=3)
    request_record_vat_check(request_id=rejected.pk, result="confirmed")
    assert list(rejected.timeline.values_list("seq", flat=True)) == [1, 2, 5]
    lines = audit_fails(capsys, 2)
    assert lines == [
        f"request #{rejected.pk}, entry 5: entry 3 is missing",
        f"request #{rejected.pk}, entry 5: does not follow the entry before it",
    ]


def test_audit_chain_truncated_with_its_head_removed_stays_caught_after_new_entries(rejected, capsys):
    sql_delete_entries(rejected, from_seq=4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM onboarding_timelinehead WHERE request_id = %s", [rejected.pk])
    assert audit_fails(capsys, 1) == [
        f"request #{rejected.pk}: has no timeline head: entries after 3 may have been removed"
    ]
    request_record_vat_check(request_id=rejected.pk, result="confirmed")
    assert audit_fails(capsys, 1) == [
        f"request #{rejected.pk}, entry 4: was appended when the timeline head was missing or changed: "
        "entries before it may have been removed"
    ]


def test_audit_chain_a_clean_journey_still_verifies(rejected, other, capsys):
    assert audit_passes(capsys).strip() == "Timeline intact: 5 entries checked."
    assert audit_passes(capsys, "--request", str(rejected.pk)).strip() == "Timeline intact: 4 entries checked."


def test_audit_chain_hashes_need_the_key(rejected, settings, capsys):
    """Entries are keyed: under another key the same chain no longer verifies."""
    settings.AUDIT_KEY = "another key"
    lines = audit_fails(capsys)
    assert f"request #{rejected.pk}, entry 1: was changed after it was written" in lines
    assert f"request #{rejected.pk}: its timeline head was changed" in lines


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_are_numbered_in_order_by_the_request_lock(capsys):
    request = request_submit(data=request_data())
    writers = 6
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def note(n: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                locked = pipeline.request_locked(request.pk)
                timeline_append(request=locked, kind=TimelineEntry.Kind.NOTE, message=f"Note {n}")
        except BaseException as error:  # reported below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=note, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert list(request.timeline.values_list("seq", flat=True)) == list(range(1, writers + 2))
    assert audit_passes(capsys).strip() == f"Timeline intact: {writers + 1} entries checked."


def test_existing_chains_are_keyed_and_anchored_and_a_broken_one_stays_broken(rejected, other, capsys):
    """The data migration: intact unkeyed chains are re-keyed with a head; a broken one keeps its old hashes."""
    from portal.onboarding.models import TimelineHead

    migration = importlib.import_module("portal.onboarding.migrations.0002_timeline_keyed_anchor")
    for request in (rejected, other):  # the chains as they were written before hashes were keyed
        TimelineHead.objects.filter(request=request)._raw_delete(connection.alias)
        rewrite_with_plain_sha256(request, from_seq=1)
    TimelineEntry.objects.filter(request=rejected, seq=2).update(message="VAT number: whatever.")
    broken_hashes = list(rejected.timeline.values_list("hash", flat=True))

    migration.key_and_anchor(apps, None)

    assert list(rejected.timeline.values_list("hash", flat=True)) == broken_hashes
    assert TimelineHead.objects.filter(request__in=[rejected, other]).count() == 2
    audit_passes(capsys, "--request", str(other.pk))
    lines = audit_fails(capsys)
    assert f"request #{rejected.pk}, entry 2: was changed after it was written" in lines
    assert all(line.startswith(f"request #{rejected.pk}, entry ") for line in lines)
