"""Who hears that a licence change waits for approval: the members whose role may approve it."""

from django.urls import reverse

from portal.companies.models import Membership
from portal.companies.permissions import Action, can
from portal.licences.models import ChangeRequest
from portal.notifications.services import absolute_url, email_queue


def approvers_tell(change: ChangeRequest) -> None:
    """A technical member's change waits: its company's administrators and billing members hear of it."""
    roles = [role for role in Membership.Role if can(role, Action.APPROVE_LICENCES)]
    approvers = Membership.objects.filter(company=change.company, role__in=roles).select_related("user")
    by_language: dict[str, list[str]] = {}
    for membership in approvers:
        by_language.setdefault(membership.user.language, []).append(membership.user.email)
    for language, emails in sorted(by_language.items()):
        email_queue(
            template="licence-approval-needed",
            language=language,
            to=emails,
            context={
                "company": change.company,
                "change": change,
                "by": change.requested_by,
                "approvals_url": absolute_url(reverse("licence_approvals", args=[change.company_id])),
            },
        )
