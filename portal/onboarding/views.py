from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.core.links import LinkDead, LinkUnknown, link_view
from portal.core.ratelimit import RateLimited, rate_limit, rate_limited_page
from portal.onboarding.forms import TenantRequestForm, initial_from_company
from portal.onboarding.models import RequestLink, TenantRequest
from portal.onboarding.pipeline import IllegalMove
from portal.onboarding.selectors import request_get_for, request_progress, tenant_of, timeline_for_customer
from portal.onboarding.services import (
    PrefixTaken,
    link_find,
    request_correct,
    request_submit,
    user_company,
)
from portal.onboarding.stages import Stage

THANKS_SALT = "onboarding.submitted"
THANKS_MAX_AGE = 24 * 3600
PREFIX_TAKEN = gettext_lazy("This name was taken a moment ago by another request: choose another name.")


def request_tenant(request: HttpRequest) -> HttpResponse:
    user = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        try:
            rate_limit(request, "submit", emails=_contact_emails(request))
        except RateLimited as limited:
            form = TenantRequestForm(initial=request.POST.dict())  # what was typed, not checked again
            return rate_limited_page(request, limited, "onboarding/request_form.html", {"form": form})
        form = TenantRequestForm(request.POST)
        if form.is_valid():
            try:
                tenant_request = request_submit(data=form.to_data(), user=user)
            except PrefixTaken:
                form.add_error("tenant_domain_prefix", PREFIX_TAKEN)
            else:
                return _to_thanks(tenant_request)
    else:
        company = user_company(user)
        form = TenantRequestForm(initial=initial_from_company(company) if company else {})
    return render(request, "onboarding/request_form.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
def check_field(request: HttpRequest) -> HttpResponse:
    """Live check of one field while the form is typed (htmx): the field's message, or a confirmation."""
    name = request.POST.get("_field", "")
    try:
        rate_limit(request, "prefix_check")
    except RateLimited as limited:
        context = {"errors": [str(limited)], "ok_message": ""}
        return rate_limited_page(request, limited, "onboarding/_field_check.html", context, flash=False)
    form = TenantRequestForm(request.POST, request_id=_correction_request_id(request))
    if name not in form.fields:
        return HttpResponse(status=400)
    form.is_valid()
    errors = form.errors.get(name)
    if errors and all(error.code == "required" for error in form.errors.as_data()[name]):
        errors = None  # a field merely left empty is said so at submit, not while the form is walked through
    ok_message = ""
    if not errors and name == "tenant_domain_prefix":
        ok_message = "✓ " + _("%(domain)s is available.") % {"domain": f"{form.cleaned_data[name]}.onmicrosoft.com"}
    return render(request, "onboarding/_field_check.html", {"errors": errors, "ok_message": ok_message})


def _contact_emails(request: HttpRequest) -> list[str]:
    return [request.POST.get("technical_email", ""), request.POST.get("commercial_email", "")]


def _correction_request_id(request: HttpRequest) -> int | None:
    raw = request.POST.get("_correction", "")
    if not raw:
        return None
    try:
        return link_find(raw=raw, purpose=RequestLink.Purpose.CORRECTION).request_id
    except (LinkUnknown, LinkDead):
        return None


def _to_thanks(tenant_request: TenantRequest) -> HttpResponse:
    """To the thank-you page, with the request's id signed in the URL (no session is created for a visitor)."""
    return redirect(f"{reverse('onboarding:submitted')}?r={signing.dumps(tenant_request.pk, salt=THANKS_SALT)}")


def submitted(request: HttpRequest) -> HttpResponse:
    try:
        pk = signing.loads(request.GET.get("r", ""), salt=THANKS_SALT, max_age=THANKS_MAX_AGE)
    except signing.BadSignature:
        return redirect("onboarding:request_tenant")
    tenant_request = TenantRequest.objects.select_related("company", "technical_contact").filter(pk=pk).first()
    if tenant_request is None:
        return redirect("onboarding:request_tenant")
    return render(request, "onboarding/submitted.html", {"req": tenant_request})


def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"/accounts/login/?next={request.path}")
    tenant_request = request_get_for(user=request.user, request_id=pk)
    return _request_page(request, tenant_request, full=True)


# What the customer's request page says above the progress, by stage (none for the others).
CALLOUTS = {
    Stage.REJECTED: "onboarding/callouts/rejected.html",
    Stage.CHANGES_REQUESTED: "onboarding/callouts/changes_requested.html",
    Stage.PROVISIONING: "onboarding/callouts/provisioning.html",
    Stage.PROVISIONING_FAILED: "onboarding/callouts/provisioning.html",
    Stage.COMPLETED: "onboarding/callouts/completed.html",
}


def _request_page(request: HttpRequest, tenant_request: TenantRequest, *, full: bool) -> HttpResponse:
    entries = list(tenant_request.timeline.select_related("actor").order_by("seq"))
    stage = Stage(tenant_request.stage)
    tenant = tenant_of(tenant_request)
    return render(
        request,
        "onboarding/request_detail.html",
        {
            "req": tenant_request,
            "steps": request_progress(tenant_request, entries),
            "entries": (entries if request.user.is_staff else timeline_for_customer(entries))
            if full
            else [e for e in timeline_for_customer(entries) if e.kind == "stage"],
            "full": full,
            "tenant": tenant,
            "callout": CALLOUTS.get(stage) if stage != Stage.COMPLETED or tenant else None,
        },
    )


def _request_link(purpose: str):
    """A page of a link e-mailed about a request: 404 for an unknown token, 410 for a used, expired or withdrawn link."""
    return link_view(
        lambda request, token: link_find(raw=token, purpose=purpose),
        dead_template="onboarding/link_dead.html",
        dead_context={"what": purpose},
    )


@_request_link(RequestLink.Purpose.PROGRESS)
def track(request: HttpRequest, link: RequestLink, token: str) -> HttpResponse:
    """The progress link from the confirmation e-mail: the steps, read only, no sign-in needed."""
    return _request_page(request, link.request, full=False)


@_request_link(RequestLink.Purpose.CORRECTION)
def correct(request: HttpRequest, link: RequestLink, token: str) -> HttpResponse:
    """The correction link from the "changes requested" e-mail: the request pre-filled, sent back once."""
    tenant_request = link.request
    message = (
        tenant_request.timeline.filter(to_stage="changes_requested")
        .order_by("-seq")
        .values_list("data", flat=True)
        .first()
    )
    if request.method == "POST":
        try:
            rate_limit(request, "submit", emails=_contact_emails(request))
        except RateLimited as limited:
            form = TenantRequestForm(initial=request.POST.dict(), request_id=tenant_request.pk)
            staff_message = (message or {}).get("message", "")
            context = {"form": form, "correction": token, "req": tenant_request, "staff_message": staff_message}
            return rate_limited_page(request, limited, "onboarding/request_form.html", context)
        form = TenantRequestForm(request.POST, request_id=tenant_request.pk)
        if form.is_valid():
            try:
                request_correct(raw_token=token, data=form.to_data())
            except PrefixTaken:
                form.add_error("tenant_domain_prefix", PREFIX_TAKEN)
            except IllegalMove:
                raise LinkDead(link) from None
            else:
                messages.success(request, _("Thank you: your corrected request is back with our team."))
                return _to_thanks(tenant_request)
    else:
        initial = initial_from_company(
            tenant_request.applicant,
            technical=tenant_request.technical_contact,
            commercial=tenant_request.commercial_contact,
        )
        initial.update(
            tenant_domain_prefix=tenant_request.domain_prefix,
            tenant_display_name=tenant_request.display_name,
            tenant_country=tenant_request.tenant_country,
            language=tenant_request.language,
        )
        form = TenantRequestForm(initial=initial, request_id=tenant_request.pk)
    return render(
        request,
        "onboarding/request_form.html",
        {"form": form, "correction": token, "req": tenant_request, "staff_message": (message or {}).get("message", "")},
        status=400 if form.errors else 200,
    )
