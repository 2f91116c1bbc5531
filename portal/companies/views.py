from collections.abc import Callable
from functools import wraps
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.forms import SignInForm
from portal.accounts.models import User
from portal.accounts.recent_auth import recent_auth_required
from portal.accounts.second_factor import second_factor_required
from portal.agreements.models import Agreement
from portal.agreements.views import pdf_response
from portal.companies.forms import (
    CONTACT_FIELDS,
    EDITABLE,
    CompanyProfileForm,
    ContactForm,
    IdentityChangeForm,
    InviteForm,
    NewAccountForm,
)
from portal.companies.models import Company, Contact, Invitation, Membership, ProfileChange
from portal.companies.permissions import Action, NotAllowed, Role, SecondFactorNeeded, allowed_actions, company_for
from portal.companies.services import (
    AlreadyMember,
    ContactRefused,
    IdentityChangeRefused,
    InviteeHasAnAccount,
    LastAdmin,
    NotTheInvitee,
    TwoStepRuleRefused,
    company_profile_update,
    contact_add,
    contact_remove,
    contact_update,
    contacts_current,
    identity_change_request,
    identity_change_withdraw,
    invitation_accept,
    invitation_accept_new,
    invitation_find,
    invitation_revoke,
    invitation_send,
    member_remove,
    member_role_change,
    tenant_credentials_reveal,
    two_step_rule_set,
)
from portal.core.links import link_view
from portal.onboarding.selectors import requests_visible_to
from portal.provisioning.models import Tenant


def home(request: HttpRequest) -> HttpResponse:
    """The portal's front page: sign-in for visitors, the company and its requests for customers."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "home.html", {"form": SignInForm(request)})
    companies = list(user.companies.prefetch_related("tenants")) if not user.is_staff else []
    requests = list(requests_visible_to(user).order_by("-created_at")[:20]) if not user.is_staff else []
    two_step = second_factor_required(user)
    return render(request, "home.html", {"companies": companies, "requests": requests, "two_step": two_step})


@login_required
@require_POST
def tenant_admin_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The tenant's initial admin account, shown once to a user of the company, then wiped."""
    assert isinstance(request.user, User)  # login_required
    company_id = Tenant.objects.filter(pk=pk).values_list("company_id", flat=True).first()
    try:
        if company_id is not None:
            company_for(request.user, company_id)
    except SecondFactorNeeded as needed:
        return _enrolment_first(request, needed)
    except Http404:
        pass  # not the user's: the same answer as for a tenant without credentials
    credentials = tenant_credentials_reveal(tenant_id=pk, user=request.user)
    if credentials is None:
        messages.info(request, _("There is no administrator account to show: it was already shown once."))
        return redirect("home")
    response = render(request, "tenant_admin.html", {"admin_user": credentials[0], "admin_password": credentials[1]})
    response["Cache-Control"] = "no-store"
    return response


CompanyView = Callable[..., HttpResponse]


def _enrolment_first(request: HttpRequest, needed: SecondFactorNeeded) -> HttpResponse:
    """The company requires two-step sign-in: to the security page, and back here (or to the company) after."""
    messages.warning(
        request,
        _("%(company)s requires two-step sign-in: add an authenticator app or a passkey to open its pages.")
        % {"company": needed.company.legal_name},
    )
    back = request.get_full_path() if request.method == "GET" else reverse("company", args=[needed.company.pk])
    return redirect(f"{reverse('accounts:security')}?next={quote(back)}")


def company_view(action: Action = Action.VIEW) -> Callable[[CompanyView], CompanyView]:
    """A page of one company, called as `view(request, company, role, …)`: 404 when the company is not the user's,
    403 saying which roles may when the user's role may not do `action`."""

    def decorate(view: CompanyView) -> CompanyView:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, company_id: int, *args, **kwargs) -> HttpResponse:
            assert isinstance(request.user, User)  # login_required
            try:
                company, role = company_for(request.user, company_id, action)
            except NotAllowed as refused:
                return render(request, "companies/not_allowed.html", {"reason": str(refused)}, status=403)
            except SecondFactorNeeded as needed:
                return _enrolment_first(request, needed)
            if request.user.last_company_id != company.pk:  # sign-in lands here next time
                User.objects.filter(pk=request.user.pk).update(last_company=company)
            return view(request, company, role, *args, **kwargs)

        return wrapper

    return decorate


@company_view()
def company_page(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """The company: its card, tenants, signed agreements, team, contacts and requests."""
    members = list(company.memberships.select_related("user").order_by("user__email"))
    member_emails = {member.user.email.lower() for member in members}
    context = {
        "company": company,
        "role": role,
        "allowed": allowed_actions(role),
        "roles": Role.choices,
        "tenants": list(company.tenants.order_by("created_at")),
        "agreements": list(
            Agreement.objects.filter(request__company=company, status=Agreement.Status.SIGNED)
            .defer("pdf", "signed_pdf", "html")
            .order_by("-signed_at")
        ),
        "members": members,
        "contacts": [(contact, contact.email.lower() in member_emails) for contact in contacts_current(company)],
        "invitations": list(
            company.invitations.filter(used_at=None, revoked_at=None, expires_at__gt=timezone.now()).order_by("email")
        ),
        "invite_form": InviteForm(initial={"role": Role.TECHNICAL}),
        "requests": list(company.tenant_requests.order_by("-created_at")),
        "identity_pending": company.profile_changes.filter(status=ProfileChange.Status.PENDING).first(),
    }
    return render(request, "companies/company.html", context)


@company_view()
def signed_agreement(request: HttpRequest, company: Company, role: Role, agreement_id: int) -> HttpResponse:
    agreement = (
        Agreement.objects.filter(pk=agreement_id, request__company=company, status=Agreement.Status.SIGNED)
        .only("pk", "request_id", "version", "signed_pdf")
        .first()
    )
    if agreement is None or not agreement.signed_pdf:
        raise Http404("No such signed agreement.")
    return pdf_response(bytes(agreement.signed_pdf), agreement.signed_filename, inline=False)


class _Nothing(Exception):
    """Never raised: for a change that no rule refuses."""


def _change_done(
    request: HttpRequest,
    change: Callable[[], object],
    done: str,
    *,
    missing: type[Exception],
    what: str,
    refused: type[Exception] = _Nothing,
) -> None:
    """Run a change of the company's: 404 when its object is not the company's, the rule's reason when one refuses
    it, else `done` as the page's message."""
    try:
        change()
    except missing:
        raise Http404(f"No such {what}.") from None
    except refused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, done)


def _member_change(request: HttpRequest, company: Company, change: Callable[[], Membership], done: str) -> HttpResponse:
    _change_done(request, change, done, missing=Membership.DoesNotExist, what="member", refused=LastAdmin)
    return redirect("company", company_id=company.pk)


@require_POST
@company_view(Action.MANAGE_MEMBERS)
@recent_auth_required
def member_role(request: HttpRequest, company: Company, role: Role, member_id: int) -> HttpResponse:
    new_role = request.POST.get("role", "")
    if new_role not in Role.values:
        messages.error(request, _("Choose one of the roles offered."))
        return redirect("company", company_id=company.pk)
    return _member_change(
        request,
        company,
        lambda: member_role_change(company_id=company.pk, member_id=member_id, role=new_role),
        _("The role is now %(role)s.") % {"role": Role(new_role).label},
    )


@require_POST
@company_view(Action.MANAGE_MEMBERS)
@recent_auth_required
def member_remove_view(request: HttpRequest, company: Company, role: Role, member_id: int) -> HttpResponse:
    return _member_change(
        request,
        company,
        lambda: member_remove(company_id=company.pk, member_id=member_id),
        _("The member no longer has access to the company."),
    )


@require_POST
@company_view(Action.MANAGE_MEMBERS)
@recent_auth_required
def two_step_rule(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """An administrator requires two-step sign-in of every member, or stops requiring it."""
    assert isinstance(request.user, User)
    on = request.POST.get("require_mfa") == "on"
    try:
        two_step_rule_set(company_id=company.pk, on=on, by=request.user)
    except TwoStepRuleRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            _("Every member now needs two-step sign-in to open the company's pages; they were told by e-mail.")
            if on
            else _("Two-step sign-in is no longer required of the company's members."),
        )
    return redirect("company", company_id=company.pk)


@company_view(Action.EDIT_PROFILE)
def company_profile(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """Administrators and billing members keep the address, phone and website up to date."""
    form = CompanyProfileForm(request.POST or None, initial={field: getattr(company, field) for field in EDITABLE})
    if request.method == "POST" and form.is_valid():
        company_profile_update(company_id=company.pk, changes={field: form.cleaned_data[field] for field in EDITABLE})
        messages.success(request, _("The company's details are saved."))
        return redirect("company", company_id=company.pk)
    return render(
        request, "companies/profile.html", {"company": company, "form": form}, status=400 if form.errors else 200
    )


@company_view(Action.REQUEST_IDENTITY_CHANGE)
def identity(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """Administrators and billing members ask for a new legal name or VAT number; the reseller decides."""
    assert isinstance(request.user, User)
    changes = list(company.profile_changes.select_related("requested_by")[:10])
    pending = next((change for change in changes if change.status == ProfileChange.Status.PENDING), None)
    form = IdentityChangeForm(
        request.POST or None,
        company=company,
        initial={"legal_name": company.legal_name, "vat_number": company.vat_number},
    )
    if request.method == "POST" and pending is None and form.is_valid():
        try:
            identity_change_request(company_id=company.pk, changes=form.changes(), by=request.user)
        except IdentityChangeRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, _("Your request is with the reseller: you will hear of the decision by e-mail."))
        return redirect("company", company_id=company.pk)
    context = {
        "company": company,
        "form": form,
        "pending": pending,
        "decided": [change for change in changes if change is not pending],
    }
    return render(request, "companies/identity.html", context, status=400 if form.errors else 200)


@require_POST
@company_view(Action.REQUEST_IDENTITY_CHANGE)
def identity_change_withdraw_view(request: HttpRequest, company: Company, role: Role, change_id: int) -> HttpResponse:
    _change_done(
        request,
        lambda: identity_change_withdraw(company_id=company.pk, change_id=change_id),
        _("Withdrawn: the company's legal name and VAT number stay as they are."),
        missing=ProfileChange.DoesNotExist,
        what="change of this company",
        refused=IdentityChangeRefused,
    )
    return redirect("identity_change", company_id=company.pk)


@require_POST
@company_view(Action.MANAGE_MEMBERS)
def invite(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    """An administrator invites an e-mail address with a role."""
    assert isinstance(request.user, User)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect("company", company_id=company.pk)
    try:
        invitation_send(company_id=company.pk, by=request.user, **form.cleaned_data)
    except AlreadyMember as known:
        messages.error(request, str(known))
    else:
        messages.success(
            request, _("Invitation e-mailed to %(email)s: it works for 7 days.") % {"email": form.cleaned_data["email"]}
        )
    return redirect("company", company_id=company.pk)


@require_POST
@company_view(Action.MANAGE_MEMBERS)
def invitation_revoke_view(request: HttpRequest, company: Company, role: Role, invitation_id: int) -> HttpResponse:
    _change_done(
        request,
        lambda: invitation_revoke(company_id=company.pk, invitation_id=invitation_id),
        _("The invitation is withdrawn: its link no longer works."),
        missing=Invitation.DoesNotExist,
        what="invitation",
    )
    return redirect("company", company_id=company.pk)


@link_view(lambda request, token: invitation_find(token), dead_template="companies/invitation_dead.html")
def invitation(request: HttpRequest, link: Invitation, token: str) -> HttpResponse:
    """The e-mailed invitation: the invited account accepts it signed in; a new person makes an account."""
    user = request.user
    context = {"invitation": link, "role": Role(link.role).label}
    if user.is_authenticated:
        assert isinstance(user, User)
        if request.method == "POST":
            try:
                invitation_accept(raw=token, user=user)
            except NotTheInvitee as other:
                return render(request, "companies/invitation.html", {**context, "refusal": str(other)}, status=403)
            messages.success(request, _("Welcome to %(company)s.") % {"company": link.company.legal_name})
            return redirect("company", company_id=link.company_id)
        if user.email.lower() != link.email:
            refusal = str(NotTheInvitee(link))
            return render(request, "companies/invitation.html", {**context, "refusal": refusal}, status=403)
        return render(request, "companies/invitation.html", context)
    if User.objects.filter(email__iexact=link.email).exists():
        return render(request, "companies/invitation.html", {**context, "sign_in": True})
    form = NewAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = invitation_accept_new(
                raw=token,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as error:
            form.add_error("password1", error)
        except InviteeHasAnAccount:
            return redirect(request.path)
        else:
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to %(company)s.") % {"company": link.company.legal_name})
            return redirect("company", company_id=link.company_id)
    return render(request, "companies/invitation.html", {**context, "form": form}, status=400 if form.errors else 200)


def _contact_page(request: HttpRequest, company: Company, form: ContactForm, contact: Contact | None) -> HttpResponse:
    context = {"company": company, "form": form, "contact": contact}
    return render(request, "companies/contact.html", context, status=400 if form.errors else 200)


@company_view(Action.MANAGE_CONTACTS)
def contact_new(request: HttpRequest, company: Company, role: Role) -> HttpResponse:
    form = ContactForm(request.POST or None, country=company.country, initial={"kind": Contact.Kind.OTHER})
    if request.method == "POST" and form.is_valid():
        try:
            contact_add(company_id=company.pk, fields={f: form.cleaned_data[f] for f in CONTACT_FIELDS})
        except ContactRefused as refused:
            form.add_error("email", str(refused))
        else:
            messages.success(request, _("The contact is added."))
            return redirect("company", company_id=company.pk)
    return _contact_page(request, company, form, None)


@company_view(Action.MANAGE_CONTACTS)
def contact_edit(request: HttpRequest, company: Company, role: Role, contact_id: int) -> HttpResponse:
    contact = contacts_current(company).filter(pk=contact_id).first()
    if contact is None:
        raise Http404("No such contact.")
    initial = {field: getattr(contact, field) for field in CONTACT_FIELDS}
    form = ContactForm(request.POST or None, country=company.country, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            contact_update(
                company_id=company.pk, contact_id=contact.pk, fields={f: form.cleaned_data[f] for f in CONTACT_FIELDS}
            )
        except ContactRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, _("The contact is saved."))
            return redirect("company", company_id=company.pk)
    return _contact_page(request, company, form, contact)


@require_POST
@company_view(Action.MANAGE_CONTACTS)
def contact_remove_view(request: HttpRequest, company: Company, role: Role, contact_id: int) -> HttpResponse:
    _change_done(
        request,
        lambda: contact_remove(company_id=company.pk, contact_id=contact_id),
        _("The contact is removed from the list."),
        missing=Contact.DoesNotExist,
        what="contact",
        refused=ContactRefused,
    )
    return redirect("company", company_id=company.pk)
