from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST
from django_stubs_ext import StrOrPromise

from portal.accounts.decorators import staff_required
from portal.accounts.lockout import lockout_lift, lockouts_current
from portal.accounts.services import activation_resend
from portal.agreements.documents import LanguageMissing, agreement_pdf, version_languages
from portal.agreements.models import Agreement
from portal.agreements.services import agreement_resend, agreement_withdraw
from portal.agreements.views import pdf_response
from portal.companies.models import ProfileChange
from portal.companies.services import IdentityChangeRefused, identity_change_accept, identity_change_refuse
from portal.core.timefmt import duration_words
from portal.onboarding.models import TenantRequest
from portal.onboarding.pipeline import IllegalMove, can_move
from portal.onboarding.selectors import request_checks, request_progress, staff_request_rows, stage_counts
from portal.onboarding.services import request_ask_changes, request_reject, request_validate
from portal.onboarding.stages import Stage
from portal.provisioning.billing_profiles import billing_profile_push, billing_profile_state
from portal.provisioning.models import BillingProfileSync, Tenant
from portal.provisioning.services import provisioning_cancel, provisioning_retry

PAGE_SIZE = 50
STAGE_LABELS = dict(Stage.choices)


@dataclass(frozen=True)
class Tab:
    label: str
    count: int
    url: str
    css_class: str  # "active" on the tab shown


@dataclass(frozen=True)
class Row:
    """One request of the staff list, as the template shows it."""

    number: int
    url: str
    company: str
    vat_number: str
    domain: str
    technical_contact: str
    stage: str
    stage_label: str
    waited: str
    billing_conflict: bool  # Microsoft's billing profile and the company disagree on a field changed on both sides


@dataclass(frozen=True)
class Pager:
    label: str
    newer_url: str  # "" on the first page
    older_url: str  # "" on the last page


@staff_required
def pipeline(request: HttpRequest) -> HttpResponse:
    """Requests by stage, oldest wait first, with how long each has waited."""
    stage = request.GET.get("stage") or Stage.TO_VALIDATE
    if stage not in Stage.values and stage != "all":
        stage = Stage.TO_VALIDATE
    query = request.GET.get("q", "").replace("\x00", "").strip()
    rows = staff_request_rows(stage=None if stage == "all" else stage, query=query).annotate(
        billing_conflict=Exists(
            BillingProfileSync.objects.filter(tenant__request=OuterRef("pk"), status=BillingProfileSync.Status.CONFLICT)
        )
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = stage_counts()
    tabs = [Tab(str(s.label), counts[s.value], f"?stage={s.value}", _active(s.value == stage)) for s in Stage]
    tabs.append(
        Tab(pgettext("requests of every stage", "All"), sum(counts.values()), "?stage=all", _active(stage == "all"))
    )
    return render(
        request,
        "backoffice/pipeline.html",
        {
            "tabs": tabs,
            "stage": stage,
            "q": query,
            "rows": _rows(page),
            "pager": _pager(page, stage, query),
            "identity_changes_waiting": ProfileChange.objects.filter(status=ProfileChange.Status.PENDING).count(),
        },
    )


def _active(shown: bool) -> str:
    return "active" if shown else ""


def _rows(page: Page) -> list[Row]:
    # Every row links to its request page: the URL is reversed once, each row appends its number.
    request_urls = reverse("backoffice:request", kwargs={"pk": 0}).removesuffix("0/")
    now = timezone.now()
    return [
        Row(
            number=r["pk"],
            url=f"{request_urls}{r['pk']}/",
            company=r["legal_name"],
            vat_number=r["vat_number"],
            domain=f"{r['domain_prefix']}.onmicrosoft.com",
            technical_contact=r["technical_contact_name"],
            stage=r["stage"],
            stage_label=str(STAGE_LABELS[r["stage"]]),
            waited=duration_words(now - r["stage_changed_at"]),
            billing_conflict=r["billing_conflict"],
        )
        for r in page.object_list
    ]


def _pager(page: Page, stage: str, query: str) -> Pager | None:
    if not page.has_other_pages():
        return None
    here = urlencode({"stage": stage, "q": query})
    return Pager(
        label=_("Page %(number)s of %(count)s") % {"number": page.number, "count": page.paginator.num_pages},
        newer_url=f"?{here}&page={page.previous_page_number()}" if page.has_previous() else "",
        older_url=f"?{here}&page={page.next_page_number()}" if page.has_next() else "",
    )


@staff_required
def request_page(request: HttpRequest, pk: int) -> HttpResponse:
    tenant_request = get_object_or_404(
        TenantRequest.objects.select_related("company", "technical_contact", "commercial_contact"), pk=pk
    )
    entries = list(tenant_request.timeline.select_related("actor").order_by("seq"))
    tenant = Tenant.objects.select_related("billing_profile_sync").filter(request=tenant_request).first()
    stage = tenant_request.stage
    decisions = {
        "awaiting_signature": stage == Stage.AWAITING_SIGNATURE,
        "can_validate": can_move(tenant_request, Stage.AWAITING_SIGNATURE),
        "can_reject": can_move(tenant_request, Stage.REJECTED),
        "can_ask_changes": can_move(tenant_request, Stage.CHANGES_REQUESTED),
        "provisioning_failed": stage == Stage.PROVISIONING_FAILED,
    }
    sent_language = tenant_request.agreements.filter(status=Agreement.Status.SENT).values_list("language", flat=True)
    return render(
        request,
        "backoffice/request.html",
        {
            "req": tenant_request,
            "checks": request_checks(tenant_request),
            "steps": request_progress(tenant_request, entries),
            "entries": entries,
            "emails": tenant_request.emails.order_by("created_at"),
            "agreements": tenant_request.agreements.prefetch_related("invitations").defer("pdf", "signed_pdf", "html"),
            **decisions,
            "no_decision_due": not any(decisions.values()),
            "provisioning_retrying": stage == Stage.PROVISIONING and bool(tenant_request.provisioning_error),
            "completed": stage == Stage.COMPLETED,
            "billing_profile": billing_profile_state(tenant) if tenant else None,
            "languages": settings.LANGUAGES,
            "sendable_languages": version_languages(settings.AGREEMENT_VERSION),
            "sent_language": sent_language.first() or tenant_request.language,
            "waited": duration_words(timezone.now() - tenant_request.stage_changed_at),
        },
    )


def _act(request: HttpRequest, pk: int, action, success: StrOrPromise, **kwargs) -> HttpResponse:
    try:
        action(request_id=pk, by=request.user, **kwargs)
    except IllegalMove as error:
        messages.error(request, str(error))
    except ValueError as error:
        messages.error(request, str(error))
    except TenantRequest.DoesNotExist:
        messages.error(request, _("This request does not exist."))
        return redirect("backoffice:pipeline")
    else:
        messages.success(request, success)
    return redirect("backoffice:request", pk=pk)


def _decision(action, success: StrOrPromise, *, field: str = ""):
    """A staff decision on a request: POST only; the service is called with the form's one field, if any."""

    @staff_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return _act(request, pk, action, success, **({field: request.POST.get(field, "")} if field else {}))

    return view


validate = _decision(
    request_validate, gettext_lazy("Validated: the request now awaits the signature of the agreement.")
)
reject = _decision(request_reject, gettext_lazy("Rejected: both contacts are told why."), field="reason")
ask_changes = _decision(
    request_ask_changes,
    gettext_lazy("Changes requested: the technical contact gets a link to correct the request."),
    field="message",
)
resend = _decision(
    agreement_resend,
    gettext_lazy("A new signing link was sent; the previous one no longer works."),
    field="language",
)
withdraw = _decision(
    agreement_withdraw, gettext_lazy("Agreement withdrawn: the request is back at To Validate."), field="reason"
)
provisioning_retry_view = _decision(provisioning_retry, gettext_lazy("Provisioning restarted."), field="domain_prefix")
provisioning_cancel_view = _decision(provisioning_cancel, gettext_lazy("Request cancelled."), field="reason")
billing_profile_push_view = _decision(
    billing_profile_push,
    gettext_lazy("The company's billing profile is on its way to Microsoft: this page shows the outcome."),
)


@staff_required
def agreement_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The agreement this request would receive, rendered now from the current template version."""
    tenant_request = get_object_or_404(
        TenantRequest.objects.select_related("company", "technical_contact", "commercial_contact"), pk=pk
    )
    try:
        pdf = agreement_pdf(request=tenant_request, version=settings.AGREEMENT_VERSION)
    except LanguageMissing as missing:
        messages.error(request, str(missing))
        return redirect("backoffice:request", pk=pk)
    return pdf_response(pdf, f"preview-{tenant_request.pk}.pdf")


@staff_required
def agreement_document(request: HttpRequest, pk: int, agreement_id: int, kind: str) -> HttpResponse:
    agreement = get_object_or_404(Agreement, pk=agreement_id, request_id=pk)
    if kind == "signed":
        if not agreement.signed_pdf:
            raise Http404("Not signed.")
        return pdf_response(bytes(agreement.signed_pdf), agreement.signed_filename, inline=False)
    return pdf_response(bytes(agreement.pdf), agreement.filename, inline=False)


@staff_required
@require_POST
def activation_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    tenant_request = get_object_or_404(TenantRequest.objects.select_related("technical_contact"), pk=pk)
    activation_resend(email=tenant_request.technical_contact.email)
    messages.success(
        request, _("If the technical contact has not set a password yet, a new activation link is on its way.")
    )
    return redirect("backoffice:request", pk=pk)


@staff_required
def lockouts(request: HttpRequest) -> HttpResponse:
    """Accounts locked after failed sign-ins, with an unlock for each (a customer on the phone, say)."""
    limits = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "account_failure_limit": settings.AXES_ACCOUNT_FAILURE_LIMIT,
    }
    return render(request, "backoffice/lockouts.html", {"lockouts": lockouts_current(), **limits})


@staff_required
@require_POST
def lockout_unlock(request: HttpRequest) -> HttpResponse:
    email = request.POST.get("email", "")
    if lockout_lift(email=email):
        messages.success(request, _("%(email)s can sign in again.") % {"email": email})
    else:
        messages.info(request, _("%(email)s was not locked.") % {"email": email})
    return redirect("backoffice:lockouts")


@staff_required
def identity_changes(request: HttpRequest) -> HttpResponse:
    """Customers' requests for a new legal name or VAT number, oldest first, and the latest decisions."""
    changes = ProfileChange.objects.select_related("company", "requested_by", "decided_by")
    context = {
        "pending": list(changes.filter(status=ProfileChange.Status.PENDING).order_by("created_at")),
        "decided": list(changes.exclude(status=ProfileChange.Status.PENDING).order_by("-decided_at")[:20]),
    }
    return render(request, "backoffice/identity_changes.html", context)


def _identity_decision(action, success: StrOrPromise, *, field: str = ""):
    """A staff decision on a change of legal identity: POST only; the service gets the form's one field, if any."""

    @staff_required
    @require_POST
    def view(request: HttpRequest, change_id: int) -> HttpResponse:
        try:
            action(change_id=change_id, by=request.user, **({field: request.POST.get(field, "")} if field else {}))
        except ProfileChange.DoesNotExist:
            raise Http404("No such change.") from None
        except IdentityChangeRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, success)
        return redirect("backoffice:identity_changes")

    return view


identity_change_accept_view = _identity_decision(
    identity_change_accept,
    gettext_lazy(
        "Accepted: the company's record is changed, the customer is told, Microsoft's billing profile follows."
    ),
)
identity_change_refuse_view = _identity_decision(
    identity_change_refuse, gettext_lazy("Refused: the customer is told why."), field="reason"
)
