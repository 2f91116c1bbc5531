"""The one place where a licence change request is created and changes status.

Who may ask, and whether an approval is needed, is the permission table's (`portal.companies.permissions`): a
role that may change licences asks and the change is approved at once; a role that may only request it (the
technical contact) waits for an administrator or billing member, unless the company auto-approves below an
amount. Each kind has a checker (refuses what New Commerce does not allow, before any call to Microsoft) and a
submitter (the call to Microsoft), named in `KINDS`; the worker submits with the change's one `MS-RequestId`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.companies.models import Company, Membership
from portal.core.retry import backoff
from portal.core.timers import timer_set
from portal.licences.models import ChangeRequest, LicenceEvent, LicencePolicy, Subscription
from portal.licences.tasks import submit_change
from portal.provisioning.base import ProvisionerError

Status = ChangeRequest.Status
Kind = ChangeRequest.Kind
Role = Membership.Role

MOVES: dict[str, frozenset[str]] = {
    Status.PENDING_APPROVAL: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset({Status.SUBMITTING}),
    Status.SUBMITTING: frozenset({Status.SUCCEEDED, Status.FAILED}),
    Status.FAILED: frozenset({Status.APPROVED}),  # staff send it again, with the same MS-RequestId
    Status.SUCCEEDED: frozenset(),
    Status.REJECTED: frozenset(),
}
# What each kind needs, by dotted path so that each lives beside its subject: `check(change)` raises
# `ChangeRefused` for what New Commerce does not allow now; `submit(change)` calls Microsoft and returns a line
# for the timeline, raising ProvisionerError for a refusal (permanent) or an outage (retried).
KINDS: dict[str, dict[str, str]] = {}
RETRY_FIRST, RETRY_CAP, RETRY_MAX = timedelta(seconds=30), timedelta(hours=1), 8


class ChangeRefused(Exception):
    """A change New Commerce does not allow (or the catalogue does not offer), with what is still possible."""

    def __init__(self, message: str, *, possible: list[str] | None = None, status: int = 409):
        self.possible = possible or []
        self.status = status
        super().__init__(message)


class IllegalChangeMove(Exception):
    def __init__(self, change: ChangeRequest, to: str):
        super().__init__(
            _("Change #%(number)s is %(status)s: it cannot become %(to)s.")
            % {"number": change.pk, "status": change.get_status_display(), "to": Status(to).label}
        )


def kind_register(kind: str, *, check: str, submit: str) -> None:
    KINDS[kind] = {"check": check, "submit": submit}


def _kind(kind: str, part: str) -> Callable[[ChangeRequest], Any]:
    if kind not in KINDS:
        raise ChangeRefused(_("This change cannot be made from the portal yet."), status=422)
    return import_string(KINDS[kind][part])


def event_add(change: ChangeRequest, message: str, *, by: User | None = None) -> LicenceEvent:
    """A line on the company's licence timeline (in English, as the request timeline is)."""
    return LicenceEvent.objects.create(
        company=change.company, change=change, subscription=change.subscription, actor=by, message=str(message)
    )


def change_locked(change_id: int) -> ChangeRequest:
    return (
        ChangeRequest.objects.select_for_update(of=("self",))
        .select_related("company", "subscription")
        .get(pk=change_id)
    )


def change_move(change: ChangeRequest, *, to: str, by: User | None = None, why: str = "") -> None:
    """Move a change the caller has locked, and record it on the company's licence timeline."""
    if to not in MOVES[change.status]:
        raise IllegalChangeMove(change, to)
    change.status = to
    fields = ["status"]
    if to in (Status.APPROVED, Status.REJECTED) and by is not None:
        change.decided_by, change.decided_at = by, timezone.now()
        fields += ["decided_by", "decided_at"]
    if to in (Status.SUCCEEDED, Status.FAILED):
        change.finished_at = timezone.now()
        fields.append("finished_at")
    change.save(update_fields=fields)
    with translation.override(None):  # the timeline keeps its English words
        event_add(change, why or f"{change.get_kind_display()} #{change.pk}: {Status(to).label}", by=by)


def needs_approval(*, company: Company, role: str, amount: Decimal | None) -> bool:
    """A technical member's change waits for approval, unless the company auto-approves below its amount."""
    if role in (Role.ADMIN, Role.BILLING):
        return False
    policy = LicencePolicy.objects.filter(company=company).first()
    limit = policy.auto_approve_below if policy else None
    return limit is None or amount is None or amount >= limit


@dataclass(frozen=True)
class Asked:
    kind: str
    payload: dict[str, Any]
    subscription: Subscription | None = None
    amount: Decimal | None = None
    currency: str = ""
    acknowledged_text: str = ""


def change_request_create(*, company: Company, by: User, role: str, asked: Asked) -> ChangeRequest:
    """Record a change the member asked for (after its kind's check), approved at once or waiting for approval."""
    with transaction.atomic():
        change = ChangeRequest(
            company=company,
            subscription=asked.subscription,
            kind=asked.kind,
            payload=asked.payload,
            amount=asked.amount,
            currency=asked.currency,
            acknowledged_text=asked.acknowledged_text,
            acknowledged_at=timezone.now() if asked.acknowledged_text else None,
            requested_by=by,
            status=Status.PENDING_APPROVAL,
        )
        _kind(asked.kind, "check")(change)
        change.save()
        with translation.override(None):  # the timeline keeps its English words
            event_add(change, f"{change.get_kind_display()} #{change.pk} asked by {by.email}", by=by)
        if not needs_approval(company=company, role=role, amount=asked.amount):
            change_move(change, to=Status.APPROVED, by=by, why=f"{change.get_kind_display()} #{change.pk} approved")
            change_submit(change)
    return change


def change_decide(*, change_id: int, company: Company, by: User, approve: bool, reason: str = "") -> ChangeRequest:
    """An administrator or billing member approves (it is checked again, then submitted) or refuses a change."""
    with transaction.atomic():
        change = change_locked(change_id)
        if change.company_id != company.pk:
            raise ChangeRequest.DoesNotExist
        if approve:
            _kind(change.kind, "check")(change)  # what was allowed when asked may no longer be
            change_move(change, to=Status.APPROVED, by=by)
            change_submit(change)
        else:
            change.error = reason
            change.save(update_fields=["error"])
            change_move(change, to=Status.REJECTED, by=by, why=f"#{change.pk} refused: {reason}".strip(": "))
    return change


def change_submit(change: ChangeRequest) -> None:
    """Queue the submission, when the transaction that approved the change commits."""
    transaction.on_commit(lambda: submit_change.enqueue(change_id=change.pk))


def change_retry(*, change_id: int, by: User) -> ChangeRequest:
    """Staff send a failed change again: the same MS-RequestId, so Microsoft cannot apply it twice."""
    with transaction.atomic():
        change = change_locked(change_id)
        change_move(change, to=Status.APPROVED, by=by, why=f"#{change.pk} sent again by staff")
        change.error = ""
        change.save(update_fields=["error"])
        change_submit(change)
    return change


def change_run(*, change_id: int) -> str:
    """The worker's job: submit an approved change; an outage waits and retries, a refusal fails it."""
    with transaction.atomic():
        change = change_locked(change_id)
        if change.status == Status.APPROVED:
            change_move(change, to=Status.SUBMITTING, why=f"#{change.pk} sent to Microsoft")
            change.submitted_at = timezone.now()
        elif change.status != Status.SUBMITTING:
            return f"nothing to do: {change.status}"
        change.attempts += 1
        change.save(update_fields=["submitted_at", "attempts"])
    try:
        line = _kind(change.kind, "submit")(change)
    except ProvisionerError as error:
        return _failed(change, error)
    with transaction.atomic():
        change = change_locked(change_id)
        change_move(change, to=Status.SUCCEEDED, why=str(line))
    return "succeeded"


def _failed(change: ChangeRequest, error: ProvisionerError) -> str:
    with transaction.atomic():
        change = change_locked(change.pk)
        if not error.permanent and change.attempts < RETRY_MAX:
            wait = max(
                backoff(change.attempts, first=RETRY_FIRST, cap=RETRY_CAP).total_seconds(), error.retry_after or 0
            )
            timer_set(submit_change, at=timezone.now() + timedelta(seconds=wait), change_id=change.pk)
            event_add(change, f"#{change.pk}: Microsoft did not answer ({error}); trying again")
            return "retry"
        change.error = str(error)
        change.save(update_fields=["error"])
        change_move(change, to=Status.FAILED, why=f"#{change.pk} failed: {error}")
    return "failed"
