"""Reads of tenant requests, always through who is asking."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, QuerySet, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Concat, Trim
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from portal.accounts.decorators import staff_is_verified
from portal.accounts.models import User
from portal.companies.validation import vat_normalise
from portal.onboarding.domains import prefix_availability
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.stages import CLOSED_STAGES, PROGRESS_STEPS, Stage


def requests_visible_to(user: User) -> QuerySet[TenantRequest]:
    """Staff see every request; a customer sees only its companies' requests."""
    requests = TenantRequest.objects.select_related("company", "technical_contact", "commercial_contact", "tenant")
    if not user.is_authenticated:
        return requests.none()
    if user.is_staff:
        return requests if staff_is_verified(user) else requests.none()
    return requests.filter(company__memberships__user=user)


def tenant_of(request: TenantRequest):
    """The tenant created for the request, once it is completed (read with the request by `requests_visible_to`)."""
    return getattr(request, "tenant", None) if request.stage == Stage.COMPLETED else None


def request_get_for(*, user: User, request_id: int) -> TenantRequest:
    """The request, or 404: another company's request is indistinguishable from a missing one."""
    try:
        return requests_visible_to(user).get(pk=request_id)
    except TenantRequest.DoesNotExist:
        raise Http404(_("No such request.")) from None


def stage_counts() -> dict[str, int]:
    counts = dict(TenantRequest.objects.values_list("stage").annotate(n=Count("pk")).values_list("stage", "n"))
    return {stage.value: counts.get(stage.value, 0) for stage in Stage}


def staff_requests(*, stage: str | None = None, query: str = "") -> QuerySet[TenantRequest]:
    requests = TenantRequest.objects.select_related("company", "technical_contact").order_by("stage_changed_at", "pk")
    if stage:
        requests = requests.filter(stage=stage)
    if query:
        requests = (
            requests.filter(company_snapshot__legal_name__icontains=query)
            | requests.filter(domain_prefix__icontains=query.lower())
            | requests.filter(company_snapshot__vat_number__icontains=query.replace(" ", "").upper())
        )
    return requests


def staff_request_rows(*, stage: str | None = None, query: str = "") -> QuerySet[TenantRequest, Any]:
    """The staff list's columns as plain values, read in one query; the company as the request states it."""
    return staff_requests(stage=stage, query=query).values(
        "pk",
        "domain_prefix",
        "stage",
        "stage_changed_at",
        legal_name=Coalesce(KT("company_snapshot__legal_name"), Value(""), output_field=TextField()),
        vat_number=Coalesce(KT("company_snapshot__vat_number"), Value(""), output_field=TextField()),
        technical_contact_name=Trim(
            Concat(F("technical_contact__first_name"), Value(" "), F("technical_contact__last_name"))
        ),
    )


@dataclass(frozen=True)
class Check:
    label: str
    ok: bool | None  # None: could not be decided
    detail: str

    @property
    def state(self) -> str:
        return "unknown" if self.ok is None else "ok" if self.ok else "bad"


def request_checks(request: TenantRequest) -> list[Check]:
    """What staff look at before validating: VAT, VIES, the prefix, duplicates of the company."""
    company = request.applicant
    try:
        vat = vat_normalise(company.vat_number, company.country)
        vat_check = Check(
            _("VAT number"),
            True,
            _("%(number)s is well-formed for %(country)s.") % {"number": vat.number, "country": company.country},
        )
    except Exception as error:  # a stored number that no longer passes: show why
        vat_check = Check(_("VAT number"), False, " ".join(getattr(error, "messages", [str(error)])))
    vies_answers: dict[str, bool] = {
        TenantRequest.VatCheck.CONFIRMED: True,
        TenantRequest.VatCheck.NOT_FOUND: False,
    }
    vies = vies_answers.get(request.vat_check)
    vies_detail = (
        _("%(check)s: registered as “%(name)s”")
        % {"check": request.get_vat_check_display(), "name": request.vat_registered_name}
        if request.vat_registered_name
        else str(request.get_vat_check_display())
    )
    checks = [vat_check, Check("VIES", vies, vies_detail)]
    if company.registry_number:
        checks.append(Check(_("Registry number"), True, f"KBO/BCE {company.registry_number}"))
    if request.stage in (Stage.TO_VALIDATE, Stage.CHANGES_REQUESTED):
        checks.append(_tenant_name_check(request))
    duplicates = (
        TenantRequest.objects.filter(company_snapshot__vat_number=company.vat_number)
        .exclude(pk=request.pk)
        .values_list("pk", "stage")
    )
    dupes = [f"#{pk} ({Stage(stage).label})" for pk, stage in duplicates]
    checks.append(
        Check(
            _("Other requests of this company"),
            None if dupes else True,
            _("Same VAT number: %(requests)s") % {"requests": ", ".join(dupes)}
            if dupes
            else _("None with this VAT number."),
        )
    )
    return checks


# How long Microsoft's answer about a tenant name serves the staff page: reloads, several staff on one request and
# the page after each decision ask Microsoft once. A check that could not be made is tried again sooner.
NAME_CHECK_KEPT_FOR = 300
NAME_CHECK_FAILURE_KEPT_FOR = 30


def _tenant_name_check(request: TenantRequest) -> Check:
    """Is the request's tenant name still free at Microsoft, from the cache when it was asked lately."""
    # The stage's time is in the key: a corrected request (maybe with a new name) is checked afresh. The check is
    # kept in the words of the staff member's language.
    key = (
        f"staff-tenant-name:{request.pk}:{request.domain_prefix}:{request.stage_changed_at.isoformat()}"
        f":{get_language()}"
    )
    check = cache.get(key)
    if check is None:
        availability = prefix_availability(request.domain_prefix, exclude_request_id=request.pk)
        if availability.problem:
            check = Check(
                _("Tenant name"),
                None,
                _("Not checked with Microsoft: %(problem)s") % {"problem": availability.problem.message},
            )
        else:
            check = Check(
                _("Tenant name"),
                availability.available,
                availability.reason or _("%(domain)s is free.") % {"domain": request.domain},
            )
        cache.set(key, check, NAME_CHECK_KEPT_FOR if availability.checked else NAME_CHECK_FAILURE_KEPT_FOR)
    return check


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    state: str  # done, current, todo
    at: datetime | None


def request_progress(request: TenantRequest, entries: list[TimelineEntry]) -> list[Step]:
    """The article's steps with their dates, read from the timeline."""
    reached: dict[str, datetime] = {"submitted": request.created_at}
    for entry in entries:
        if entry.kind == TimelineEntry.Kind.EMAIL and entry.data.get("template") == "request-confirmation":
            reached.setdefault("confirmation", entry.at)
        if entry.kind == TimelineEntry.Kind.STAGE:
            if entry.to_stage == Stage.AWAITING_SIGNATURE:
                reached["validation"] = entry.at
            elif entry.to_stage == Stage.TO_VALIDATE and entry.from_stage:
                for later in ("validation", "contract", "signed"):
                    reached.pop(later, None)
            elif entry.to_stage == Stage.PROVISIONING and "signed" not in reached:
                reached["signed"] = entry.at
            elif entry.to_stage == Stage.COMPLETED:
                reached["provisioning"] = reached["access"] = entry.at
        if entry.kind == TimelineEntry.Kind.EMAIL and entry.data.get("template") == "contract":
            reached["contract"] = entry.at
    steps, current_given = [], False
    closed = request.stage in CLOSED_STAGES
    for key, label in PROGRESS_STEPS:
        if key in reached:
            steps.append(Step(key, str(label), "done", reached[key]))
        elif not current_given and not closed:
            steps.append(Step(key, str(label), "current", None))
            current_given = True
        else:
            steps.append(Step(key, str(label), "todo", None))
    return steps


@dataclass(frozen=True)
class PublicEntry:
    seq: int
    at: datetime
    kind: str
    actor_label: str
    message: str
    from_stage: str
    to_stage: str


CUSTOMER_WORDING: dict[str, Promise] = {
    Stage.PROVISIONING_FAILED: gettext_lazy(
        "We are working on the creation of your tenant; our team has been alerted."
    ),
}


def timeline_for_customer(entries: list[TimelineEntry]) -> list[PublicEntry]:
    """What the company sees of its timeline: stage changes and e-mails, in customer words; staff notes stay inside."""
    public = []
    for entry in entries:
        if entry.kind == TimelineEntry.Kind.NOTE:
            continue
        message = (
            str(CUSTOMER_WORDING.get(entry.to_stage, entry.message))
            if entry.kind == TimelineEntry.Kind.STAGE
            else entry.message
        )
        actor = entry.actor_label if not (entry.actor and entry.actor.is_staff) else _("Our team")
        public.append(PublicEntry(entry.seq, entry.at, entry.kind, actor, message, entry.from_stage, entry.to_stage))
    return public
