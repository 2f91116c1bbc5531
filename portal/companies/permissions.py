"""Who may do what in a company: one table, read by every page, API route and template that offers an action.

A company that is not the user's answers 404 (as if it did not exist); a role that may not act answers 403 and
says which roles may. Later areas (licences, help) add their actions to the same table.
"""

from enum import StrEnum

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from portal.accounts.models import User
from portal.accounts.second_factor import has_second_factor
from portal.companies.models import Company, Membership

Role = Membership.Role


class Action(StrEnum):
    VIEW = "company.view"  # the company, its tenants, contacts, members, agreements and requests
    EDIT_PROFILE = "company.edit_profile"  # address, phone, website
    REQUEST_IDENTITY_CHANGE = "company.request_identity_change"  # legal name, VAT number: staff decide
    MANAGE_CONTACTS = "contacts.manage"  # add, edit, remove contacts
    MANAGE_MEMBERS = "members.manage"  # invitations, roles, removal, the company's two-step rule
    CHANGE_LICENCES = "licences.change"  # buy, add or remove seats, cancel, auto-renew: technical waits for approval
    APPROVE_LICENCES = "licences.approve"  # approve or refuse a change a technical member asked for
    VIEW_PRICES = "licences.view_prices"  # prices and amounts; read-only members see seats and dates only


EVERY_ROLE = frozenset(Role)
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW: EVERY_ROLE,
    Action.EDIT_PROFILE: frozenset({Role.ADMIN, Role.BILLING}),
    Action.REQUEST_IDENTITY_CHANGE: frozenset({Role.ADMIN, Role.BILLING}),
    Action.MANAGE_CONTACTS: frozenset({Role.ADMIN}),
    Action.MANAGE_MEMBERS: frozenset({Role.ADMIN}),
    Action.CHANGE_LICENCES: frozenset({Role.ADMIN, Role.BILLING, Role.TECHNICAL}),
    Action.APPROVE_LICENCES: frozenset({Role.ADMIN, Role.BILLING}),
    Action.VIEW_PRICES: frozenset({Role.ADMIN, Role.BILLING, Role.TECHNICAL}),
}


class SecondFactorNeeded(Exception):
    """The company requires two-step sign-in and the user has no second factor yet: enrolment comes first."""

    def __init__(self, company: Company):
        self.company = company
        super().__init__(
            _(
                "%(company)s requires two-step sign-in for its members: set it up at /accounts/security/ "
                "(an authenticator app or a passkey), then try again."
            )
            % {"company": company.legal_name}
        )


class NotAllowed(Exception):
    """The user's role in the company may not do this: 403, saying which roles may."""

    def __init__(self, action: Action, role: Role):
        self.action, self.role = action, role
        allowed = f" {pgettext('between role names', 'or')} ".join(
            sorted(str(Role(r).label) for r in PERMISSIONS[action])
        )
        super().__init__(
            _("This needs the role %(roles)s in the company; yours is %(role)s.")
            % {"roles": allowed, "role": Role(role).label}
        )


def role_of(user: User, company_id: int) -> Role | None:
    """The user's role in the company, or None when the user is not one of its members."""
    if not user.is_authenticated:
        return None
    role = Membership.objects.filter(user=user, company_id=company_id).values_list("role", flat=True).first()
    return Role(role) if role else None


def can(role: Role | None, action: Action) -> bool:
    return role is not None and role in PERMISSIONS[action]


def company_for(user: User, company_id: int, action: Action = Action.VIEW) -> tuple[Company, Role]:
    """The company and the user's role in it, if the role may do `action`: Http404 when the company is not the
    user's (also for staff, who work in the back-office), SecondFactorNeeded when the company requires two-step
    sign-in and the user has no second factor, NotAllowed when the role may not."""
    membership = (
        Membership.objects.select_related("company").filter(user=user, company_id=company_id).first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404(_("No such company."))
    company, role = membership.company, Role(membership.role)
    if company.require_mfa and not has_second_factor(user):
        raise SecondFactorNeeded(company)
    if not can(role, action):
        raise NotAllowed(action, role)
    return company, role


def allowed_actions(role: Role | None) -> dict[str, bool]:
    """For templates: {"edit_profile": True, …}, so that a button shows only where it works."""
    return {action.name.lower(): can(role, action) for action in Action}
