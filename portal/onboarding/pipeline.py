"""The one place where a request changes stage."""

from django.db.models import Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.agreements.models import Agreement, SigningInvitation
from portal.core.links import link_revoke
from portal.onboarding.models import RequestLink, TenantRequest, TimelineEntry
from portal.onboarding.stages import MOVES, Stage
from portal.onboarding.timeline import timeline_append


class IllegalMove(Exception):
    """A move the pipeline does not allow from the request's current stage."""

    def __init__(self, request: TenantRequest, to: Stage):
        self.request = request
        self.to = to
        here = Stage(request.stage)
        message = _("Request #%(number)s is %(stage)s: it cannot move to %(to)s.") % {
            "number": request.pk,
            "stage": here.label,
            "to": to.label,
        }
        if MOVES[here]:
            message += " " + _("From %(stage)s it can go to: %(stages)s.") % {
                "stage": here.label,
                "stages": ", ".join(sorted(str(s.label) for s in MOVES[here])),
            }
        super().__init__(message)


def request_locked(request_id: int | Subquery) -> TenantRequest:
    """The request, row-locked until the transaction ends, with what pages and e-mails show of it."""
    return (
        TenantRequest.objects.select_for_update()
        .select_related("company", "technical_contact", "commercial_contact")
        .get(pk=request_id)
    )


def can_move(request: TenantRequest, to: Stage) -> bool:
    return to in MOVES[Stage(request.stage)]


def move(
    request: TenantRequest,
    *,
    to: Stage,
    by: User | None,
    why: str = "",
    by_name: str = "",
    data: dict | None = None,
) -> TimelineEntry:
    """Move a request that the caller has locked (select_for_update) and record it on the timeline."""
    if not can_move(request, to):
        raise IllegalMove(request, to)
    from_stage = request.stage
    request.stage = to
    request.stage_changed_at = timezone.now()
    request.save(update_fields=["stage", "stage_changed_at"])
    _links_close(request, leaving=Stage(from_stage))
    if not why:
        with translation.override(None):  # the timeline keeps its English words
            why = f"{Stage(from_stage).label} → {to.label}"
    return timeline_append(
        request=request,
        kind=TimelineEntry.Kind.STAGE,
        actor=by,
        actor_name=by_name,
        from_stage=from_stage,
        to_stage=to,
        message=why,
        data=data,
    )


def _links_close(request: TenantRequest, *, leaving: Stage) -> None:
    """A link e-mailed for a stage dies when the request leaves that stage, whatever the move."""
    if leaving == Stage.CHANGES_REQUESTED:
        link_revoke(RequestLink.objects.filter(request=request, purpose=RequestLink.Purpose.CORRECTION))
    if leaving == Stage.AWAITING_SIGNATURE:
        link_revoke(SigningInvitation.objects.filter(agreement__request=request), revoked_reason="withdrawn")
        Agreement.objects.filter(request=request, status=Agreement.Status.SENT).update(
            status=Agreement.Status.WITHDRAWN
        )
