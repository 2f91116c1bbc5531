"""What a company's members do in the portal."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.accounts.second_factor import has_second_factor
from portal.companies.forms import EDITABLE
from portal.companies.models import Company, Contact, Invitation, Membership, ProfileChange
from portal.companies.signals import CONTACTS, profile_changed
from portal.core.links import link_issue, link_open, link_revoke, link_use
from portal.core.sealed_box import open_text
from portal.core.text import CONTROL_REFUSED, control_characters_in
from portal.notifications.services import absolute_url, email_queue
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.timeline import timeline_append
from portal.provisioning.models import Tenant


def tenant_credentials_reveal(*, tenant_id: int, user: User) -> tuple[str, str] | None:
    """The tenant's initial admin credentials, once, to a user of the company; wiped as they are shown."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(pk=tenant_id, company__memberships__user=user).first()
        if tenant is None or not tenant.admin_secret:
            return None
        secret = open_text(bytes(tenant.admin_secret))
        tenant.admin_secret = None
        tenant.admin_secret_shown_at = timezone.now()
        tenant.save(update_fields=["admin_secret", "admin_secret_shown_at"])
        request = TenantRequest.objects.select_for_update().get(pk=tenant.request_id)
        timeline_append(
            request=request,
            kind=TimelineEntry.Kind.NOTE,
            actor=user,
            message="Initial admin credentials shown once to the technical contact, then wiped.",
        )
    return (tenant.admin_user, secret) if secret else None


class LastAdmin(Exception):
    """A company always keeps an administrator: the change would leave it none."""

    def __init__(self):
        super().__init__(_("A company always keeps an administrator: make someone else administrator first."))


def _membership_locked(company_id: int, member_id: int) -> Membership:
    """The membership, with its company's row locked: changes to one company's members happen one at a time, so two
    administrators demoting each other at once cannot leave the company without one."""
    Company.objects.select_for_update().get(pk=company_id)
    return Membership.objects.select_related("user").get(pk=member_id, company_id=company_id)


def _admins_left_without(membership: Membership) -> int:
    return (
        Membership.objects.filter(company_id=membership.company_id, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
    )


def member_role_change(*, company_id: int, member_id: int, role: str) -> Membership:
    """Give a member another role; LastAdmin when it would leave the company without an administrator.
    Membership.DoesNotExist when the member is not the company's."""
    with transaction.atomic():
        membership = _membership_locked(company_id, member_id)
        demoted = membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN
        if demoted and not _admins_left_without(membership):
            raise LastAdmin()
        membership.role = Membership.Role(role)
        membership.save(update_fields=["role"])
    return membership


def member_remove(*, company_id: int, member_id: int) -> Membership:
    """Take a member's access to the company away (the account stays); LastAdmin for the last administrator."""
    with transaction.atomic():
        membership = _membership_locked(company_id, member_id)
        if membership.role == Membership.Role.ADMIN and not _admins_left_without(membership):
            raise LastAdmin()
        membership.delete()
    return membership


def company_profile_update(*, company_id: int, changes: dict[str, str]) -> Company:
    """Address, phone and website, as checked by CompanyProfileForm; nothing else of the company changes here."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        changed = [field for field, value in changes.items() if getattr(company, field) != value]
        for field in changed:
            setattr(company, field, changes[field])
        if changed:
            company.save(update_fields=changed)
            transaction.on_commit(lambda: profile_changed.send(sender=Company, company=company, fields=changed))
    return company


class TwoStepRuleRefused(Exception):
    """The administrator turning the company's two-step rule on has no second factor of their own yet."""


OWN_SECOND_FACTOR_FIRST = gettext_lazy(
    "Set up your own two-step sign-in first (an authenticator app or a passkey, at /accounts/security/): "
    "the rule would shut you out too."
)


def two_step_rule_set(*, company_id: int, on: bool, by: User) -> Company:
    """The company's rule that every member signs in with a second factor; members hear of it when it comes on."""
    if on and not has_second_factor(by):
        raise TwoStepRuleRefused(str(OWN_SECOND_FACTOR_FIRST))
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        if company.require_mfa == on:
            return company
        company.require_mfa = on
        company.save(update_fields=["require_mfa"])
        if on:
            security_url = absolute_url(reverse("accounts:security"))
            for member in company.memberships.select_related("user").exclude(user=by):
                email_queue(
                    template="two-step-required",
                    language=member.user.language,
                    to=[member.user.email],
                    context={
                        "company": company,
                        "by": by,
                        "has_device": has_second_factor(member.user),
                        "security_url": security_url,
                    },
                )
    return company


class AlreadyMember(Exception):
    def __init__(self, email: str):
        super().__init__(_("%(email)s already has access to the company.") % {"email": email})


class NotTheInvitee(Exception):
    """Signed in as another account than the one invited."""

    def __init__(self, invitation: Invitation):
        super().__init__(
            _("This invitation is for %(email)s: sign out, then sign in as %(email)s to accept it.")
            % {"email": invitation.email}
        )


class InviteeHasAnAccount(Exception):
    """The invited address already signs in: its owner accepts after signing in."""


def invitation_send(*, company_id: int, email: str, role: str, by: User) -> Invitation:
    """E-mail an invitation to join the company with `role`; an earlier one to the same address dies."""
    email = email.strip().lower()
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        if Membership.objects.filter(company=company, user__email__iexact=email).exists():
            raise AlreadyMember(email)
        raw, invitation = link_issue(
            Invitation,
            lifetime=settings.INVITATION_EXPIRES_AFTER,
            revoke_others={"company": company, "email": email},
            company=company,
            email=email,
            role=Membership.Role(role),
            invited_by=by,
        )
        email_queue(
            template="invitation",
            language=translation.get_language(),
            to=[email],
            context={
                "company": company,
                "by": by,
                "role": Membership.Role(role).label,
                "invitation_url": absolute_url(reverse("invitation", args=[raw])),
                "expires_at": invitation.expires_at,
            },
        )
    return invitation


def invitation_find(raw: str, *, lock: bool = False) -> Invitation:
    """LinkUnknown for an unknown token; LinkDead for a used, expired, replaced or revoked invitation."""
    return link_open(Invitation.objects.select_related("company", "invited_by"), raw, lock=lock)


def invitation_revoke(*, company_id: int, invitation_id: int) -> None:
    """Withdraw a pending invitation; Invitation.DoesNotExist when it is not this company's."""
    link_revoke(Invitation.objects.get(pk=invitation_id, company_id=company_id))


def _join(invitation: Invitation, user: User) -> Membership:
    membership, _created = Membership.objects.get_or_create(
        user=user, company=invitation.company, defaults={"role": invitation.role}
    )
    link_use(invitation)
    return membership


def invitation_accept(*, raw: str, user: User) -> Membership:
    """The signed-in account takes the invitation: only the account with the invited e-mail address may."""
    with transaction.atomic():
        invitation = invitation_find(raw, lock=True)
        if user.email.lower() != invitation.email:
            raise NotTheInvitee(invitation)
        return _join(invitation, user)


def invitation_accept_new(*, raw: str, first_name: str, last_name: str, password: str) -> User:
    """A person without an account yet: the account is made for the invited address, with this password."""
    with transaction.atomic():
        invitation = invitation_find(raw, lock=True)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise InviteeHasAnAccount()
        user = User(
            email=invitation.email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            language=translation.get_language() or "en",  # the page they joined on
        )
        if control_characters_in(password):
            raise ValidationError(_(CONTROL_REFUSED), code="control_character")
        validate_password(password, user)
        user.set_password(password)
        user.save()
        _join(invitation, user)
    return user


class ContactRefused(Exception):
    """The change would break a rule of the company's contacts: the message says which."""


KEPT_KINDS = (Contact.Kind.TECHNICAL, Contact.Kind.COMMERCIAL)
# Why a change that leaves the company without one of KEPT_KINDS is refused.
KIND_KEPT = {
    Contact.Kind.TECHNICAL: gettext_lazy(
        "The company keeps a technical contact: make another contact technical first."
    ),
    Contact.Kind.COMMERCIAL: gettext_lazy(
        "The company keeps a commercial contact: make another contact commercial first."
    ),
}


def contacts_current(company: Company):
    return company.contacts.filter(removed_at=None).order_by("last_name", "first_name")


def _kept_kinds_check(company: Company, without: Contact) -> None:
    """The company keeps a technical and a commercial contact: refuse a change that leaves it without one."""
    for kind in KEPT_KINDS:
        if without.kind == kind and not contacts_current(company).filter(kind=kind).exclude(pk=without.pk).exists():
            raise ContactRefused(str(KIND_KEPT[kind]))


def _contacts_changed(company: Company) -> None:
    """The billing contact Microsoft keeps is one of these: say so once the change is committed."""
    transaction.on_commit(lambda: profile_changed.send(sender=Company, company=company, fields=[CONTACTS]))


def contact_add(*, company_id: int, fields: dict[str, str]) -> Contact:
    """A new contact (or a removed one with this address, back with these details)."""
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        existing = company.contacts.filter(email__iexact=fields["email"]).first()
        if existing is not None and existing.removed_at is None:
            raise ContactRefused(_("%(email)s is already a contact of the company.") % {"email": fields["email"]})
        if existing is not None:
            for field, value in fields.items():
                setattr(existing, field, value)
            existing.removed_at = None
            existing.save()
            contact = existing
        else:
            contact = Contact.objects.create(company=company, **fields)
        _contacts_changed(company)
    return contact


def contact_update(*, company_id: int, contact_id: int, fields: dict[str, str]) -> Contact:
    """Contact.DoesNotExist when it is not a current contact of the company."""
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        contact = contacts_current(company).get(pk=contact_id)
        if fields.get("kind", contact.kind) != contact.kind:
            _kept_kinds_check(company, contact)
        email = fields.get("email", contact.email)
        if email.lower() != contact.email.lower() and company.contacts.filter(email__iexact=email).exists():
            raise ContactRefused(_("%(email)s is already a contact of the company.") % {"email": email})
        for field, value in fields.items():
            setattr(contact, field, value)
        contact.save(update_fields=list(fields))
        _contacts_changed(company)
    return contact


def contact_remove(*, company_id: int, contact_id: int) -> Contact:
    """The contact leaves the company's list; the requests that name it keep it."""
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        contact = contacts_current(company).get(pk=contact_id)
        _kept_kinds_check(company, contact)
        contact.removed_at = timezone.now()
        contact.save(update_fields=["removed_at"])
        _contacts_changed(company)
    return contact


class IdentityChangeRefused(Exception):
    """A legal-identity change that cannot be asked for or decided as it stands (the message says why)."""


def identity_change_request(*, company_id: int, changes: dict[str, dict[str, str]], by: User) -> ProfileChange:
    """A member asks for a new legal name or VAT number (checked by IdentityChangeForm); staff decide."""
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company_id)
        if company.profile_changes.filter(status=ProfileChange.Status.PENDING).exists():
            raise IdentityChangeRefused(
                _(
                    "A change of the legal name or VAT number is already waiting for the reseller: withdraw it first "
                    "to ask for another."
                )
            )
        return ProfileChange.objects.create(company=company, changes=changes, requested_by=by)


def identity_change_withdraw(*, company_id: int, change_id: int) -> ProfileChange:
    with transaction.atomic():
        change = ProfileChange.objects.select_for_update().get(pk=change_id, company_id=company_id)
        if change.status != ProfileChange.Status.PENDING:
            raise IdentityChangeRefused(
                _("This change is no longer waiting: %(status)s.") % {"status": change.get_status_display().lower()}
            )
        change.status = ProfileChange.Status.WITHDRAWN
        change.decided_at = timezone.now()
        change.save(update_fields=["status", "decided_at"])
    return change


def _identity_change_decided(change: ProfileChange) -> None:
    if change.requested_by is not None:
        email_queue(
            template="identity-change-decided",
            language=change.requested_by.language,
            to=[change.requested_by.email],
            context={
                "change": change,
                "company": change.company,
                "company_url": absolute_url(reverse("company", args=[change.company_id])),
            },
        )


def _pending_locked(change_id: int) -> ProfileChange:
    change = (
        ProfileChange.objects.select_for_update(of=("self",))
        .select_related("company", "requested_by")
        .get(pk=change_id)
    )
    if change.status != ProfileChange.Status.PENDING:
        raise IdentityChangeRefused(
            _("This change was already decided: %(status)s.") % {"status": change.get_status_display().lower()}
        )
    return change


def identity_change_accept(*, change_id: int, by: User) -> ProfileChange:
    """Staff accept: the company takes the new values, if its current ones are still those the member saw; the
    requester is told, and Microsoft's billing profile follows (profile_changed)."""
    with transaction.atomic():
        change = _pending_locked(change_id)
        company = Company.objects.select_for_update().get(pk=change.company_id)
        moved = [field for field, value in change.changes.items() if getattr(company, field) != value["old"]]
        if moved:
            raise IdentityChangeRefused(
                _("The company's details changed since this was asked for: refuse it and let the customer ask again.")
            )
        for field, value in change.changes.items():
            setattr(company, field, value["new"])
        fields = list(change.changes)
        company.save(update_fields=fields)
        change.company = company
        change.status, change.decided_by, change.decided_at = ProfileChange.Status.APPLIED, by, timezone.now()
        change.save(update_fields=["status", "decided_by", "decided_at"])
        _identity_change_decided(change)
        transaction.on_commit(lambda: profile_changed.send(sender=Company, company=company, fields=fields))
    return change


def identity_change_refuse(*, change_id: int, by: User, reason: str) -> ProfileChange:
    """Staff refuse, saying why: the requester reads the reason."""
    reason = reason.strip()
    if not reason:
        raise IdentityChangeRefused(_("Say why the change is refused: the customer reads it."))
    if control_characters_in(reason, multiline=True):
        raise IdentityChangeRefused(_(CONTROL_REFUSED))
    with transaction.atomic():
        change = _pending_locked(change_id)
        change.status, change.decided_by, change.decided_at = ProfileChange.Status.REFUSED, by, timezone.now()
        change.reason = reason
        change.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        _identity_change_decided(change)
    return change
