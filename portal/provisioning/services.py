"""Step 6: the tenant is created at Microsoft, and the right people get access and are told."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.accounts.services import activation_link_new, activation_url
from portal.agreements.models import Agreement
from portal.companies.models import Membership
from portal.core.retry import backoff
from portal.core.sealed_box import seal_text
from portal.core.text import text_checked
from portal.core.timers import timer_set
from portal.notifications.services import absolute_url, email_queue, email_queue_staff
from portal.onboarding import pipeline
from portal.onboarding.domains import prefix_availability
from portal.onboarding.models import TenantRequest, TimelineEntry
from portal.onboarding.stages import Stage
from portal.onboarding.timeline import timeline_append
from portal.provisioning.base import (
    Address,
    AgreementSigner,
    Customer,
    CustomerProfile,
    ProvisionerError,
    ProvisionerUnavailable,
    get_provisioner,
)
from portal.provisioning.models import Tenant
from portal.provisioning.tasks import provision_tenant

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=2)
WORKING_ON_IT = "We are creating your tenant. This usually takes a few minutes; we e-mail you when it is ready."


def idempotency_key(request: TenantRequest) -> str:
    """Names one attempt of the tenant's creation; Partner Center's MS-RequestId derives from it.

    Stable while jobs repeat the attempt after passing failures, so that Microsoft deduplicates the calls. Each
    staff retry after Provisioning Failed starts a new attempt: Microsoft answers a repeated request id with its
    first answer, and would replay the refusal staff just fixed. A second tenant is still never created: the
    customer is looked up by its domain first, and Microsoft refuses a domain that exists.
    """
    staff_retries = request.timeline.filter(
        kind=TimelineEntry.Kind.STAGE, from_stage=Stage.PROVISIONING_FAILED, to_stage=Stage.PROVISIONING
    ).count()
    return f"tenant-request-{request.pk}-{request.domain_prefix}" + (f"-retry-{staff_retries}" if staff_retries else "")


def provisioning_start(*, request: TenantRequest) -> None:
    """Enqueue the tenant's creation; call inside the transaction that moves the request to Provisioning."""
    provision_tenant.enqueue(request_id=request.pk)


def _profile(request: TenantRequest) -> CustomerProfile:
    company, billing = request.applicant, request.commercial_contact
    return CustomerProfile(
        domain_prefix=request.domain_prefix,
        company_name=company.legal_name,
        registration_number=company.vat_number,
        email=billing.email,
        first_name=billing.first_name,
        last_name=billing.last_name,
        phone=billing.phone,
        culture=settings.PROVISIONING_CULTURE,
        language=settings.PROVISIONING_LANGUAGE,
        address=Address(
            company.address_line1, company.address_line2, company.postal_code, company.city, company.country
        ),
    )


def _signer(request: TenantRequest) -> AgreementSigner:
    agreement = request.agreements.filter(status=Agreement.Status.SIGNED).order_by("-signed_at").first()
    contact = request.commercial_contact
    first, _, last = (agreement.signer_name if agreement else contact.full_name).partition(" ")
    return AgreementSigner(
        first_name=first or contact.first_name,
        last_name=last or contact.last_name,
        email=agreement.signer_email if agreement else contact.email,
        phone=contact.phone,
        signed_at=(agreement.signed_at if agreement else None) or timezone.now(),
    )


def tenant_provision(*, request_id: int) -> str:
    """One attempt: find or create the customer, record the agreement, then complete in one transaction."""
    request = TenantRequest.objects.select_related("company", "technical_contact", "commercial_contact").get(
        pk=request_id
    )
    if request.stage != Stage.PROVISIONING:
        return "not provisioning"
    if Tenant.objects.filter(request=request).exists():
        return "already created"
    provisioner = get_provisioner()
    try:
        key = idempotency_key(request)
        customer = provisioner.customer_find(domain_prefix=request.domain_prefix)
        if customer is None:
            customer = provisioner.create_customer(profile=_profile(request), idempotency_key=key)
        if Tenant.objects.filter(customer_id=customer.id).exclude(request=request).exists():
            raise ProvisionerError(
                _("%(domain)s already belongs to another of our customers: choose another tenant name.")
                % {"domain": customer.domain},
                code="domain_taken",
            )
        provisioner.accept_customer_agreement(customer_id=customer.id, signer=_signer(request), idempotency_key=key)
        _complete(request_id, customer)
    except ProvisionerError as error:
        return _attempt_failed(request_id, error)
    except Exception as error:  # a bug or a database hiccup must not leave the request silently stuck
        logger.exception("Provisioning of request %s failed unexpectedly", request_id)
        return _attempt_failed(request_id, ProvisionerUnavailable(f"Unexpected error: {type(error).__name__}: {error}"))
    return "completed"


def _attempt_failed(request_id: int, error: ProvisionerError) -> str:
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        if request.stage != Stage.PROVISIONING:
            return "not provisioning"
        request.provisioning_attempts += 1
        request.provisioning_error = error.message
        request.save(update_fields=["provisioning_attempts", "provisioning_error"])
        # Permanent errors include our credentials refused (an expired or revoked refresh token, a 401 or 403):
        # waiting renews no consent and fixes no permission, so retrying alone would hold the request for hours
        # before anyone hears of it. Provisioning Failed e-mails staff the reason now; their retry, once the
        # credential is fixed, starts a new attempt and nothing is lost.
        if not error.permanent and request.provisioning_attempts < settings.PROVISIONING_MAX_ATTEMPTS:
            wait = max(
                backoff(request.provisioning_attempts, first=BACKOFF_FIRST, cap=BACKOFF_MAX),
                timedelta(seconds=error.retry_after or 0),
            )
            timer_set(
                provision_tenant, at=timezone.now() + wait, key=f"provision-tenant:{request.pk}", request_id=request.pk
            )
            timeline_append(
                request=request,
                kind=TimelineEntry.Kind.NOTE,
                message=f"Provisioning attempt {request.provisioning_attempts} did not succeed ({error.message}); next try in {int(wait.total_seconds())} s.",
                data={"code": error.code},
            )
            return "retry"
        why = (
            error.message
            if error.permanent
            else f"{error.message} (gave up after {request.provisioning_attempts} attempts)"
        )
        pipeline.move(
            request,
            to=Stage.PROVISIONING_FAILED,
            by=None,
            by_name="System (provisioning)",
            why=f"Provisioning failed: {why}",
            data={"code": error.code},
        )
        email_queue_staff(
            template="provisioning-failed",
            request=request,
            context={
                "req": request,
                "company": request.applicant,
                "reason": why,
                "backoffice_url": absolute_url(reverse("backoffice:request", args=[request.pk])),
            },
        )
    logger.warning("Provisioning of request %s failed: %s", request_id, why)
    return "failed"


def _complete(request_id: int, customer: Customer) -> None:
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        if request.stage != Stage.PROVISIONING or Tenant.objects.filter(request=request).exists():
            return
        now = timezone.now()
        tenant = Tenant.objects.create(
            request=request,
            company=request.company,
            customer_id=customer.id,
            domain=customer.domain,
            agreement_accepted_at=now,
            admin_user=customer.admin_user,
            admin_secret=seal_text(customer.admin_password) if customer.admin_password else None,
        )
        request.provisioning_error = ""
        request.save(update_fields=["provisioning_error"])
        timeline_append(
            request=request,
            kind=TimelineEntry.Kind.NOTE,
            message=f"Tenant {tenant.domain} created at Microsoft (customer {tenant.customer_id}); Microsoft Customer Agreement acceptance recorded.",
            data={"customer_id": tenant.customer_id},
        )
        _access_grant(request, tenant)
        pipeline.move(
            request,
            to=Stage.COMPLETED,
            by=None,
            by_name="System (provisioning)",
            why=f"Registration completed: {tenant.domain} is ready.",
        )


def _access_grant(request: TenantRequest, tenant: Tenant) -> None:
    """A new technical contact gets an activation link; one with access gets only "tenant created"."""
    contact, company = request.technical_contact, request.company
    user = User.objects.filter(email__iexact=contact.email).first()
    has_access = user is not None and user.is_active and user.has_usable_password()
    if user is None:
        user = User.objects.create_user(
            contact.email, None, first_name=contact.first_name, last_name=contact.last_name, language=request.language
        )
    Membership.objects.get_or_create(user=user, company=company, defaults={"role": Membership.Role.ADMIN})
    if contact.user_id != user.pk:
        contact.user = user
        contact.save(update_fields=["user"])
    context = {
        "req": request,
        "company": company,
        "tenant": tenant,
        "technical": contact,
        "commercial": request.commercial_contact,
        "portal_url": absolute_url("/"),
    }
    if has_access:
        email_queue(
            template="tenant-created",
            language=request.language,
            to=[contact.email],
            request=request,
            context={**context, "recipient": contact},
        )
    else:
        raw, link = activation_link_new(user=user)
        email_queue(
            template="tenant-ready-activate",
            language=request.language,
            to=[contact.email],
            request=request,
            context={
                **context,
                "recipient": contact,
                "activation_url": activation_url(raw),
                "expires_at": link.expires_at,
            },
        )
    email_queue(
        template="registration-succeeded",
        language=request.language,
        to=[request.commercial_contact.email],
        request=request,
        context={**context, "recipient": request.commercial_contact},
    )


def provisioning_retry(*, request_id: int, by: User, domain_prefix: str = "") -> TenantRequest:
    """Staff fixed what Microsoft refused (e.g. the tenant name) and try again."""
    new_prefix = text_checked(domain_prefix).strip().lower()
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        changes = {}
        if new_prefix and new_prefix != request.domain_prefix:
            availability = prefix_availability(new_prefix, exclude_request_id=request.pk)
            if availability.problem and availability.problem.permanent:
                raise ValueError(
                    _("Not retried: %(domain)s could not be checked with Microsoft.")
                    % {"domain": f"{availability.prefix}.onmicrosoft.com"}
                    + f" {availability.problem.message}"
                )
            if not availability.available and availability.checked:
                raise ValueError(availability.reason)
            changes = {"domain_prefix": [request.domain_prefix, availability.prefix]}
            request.domain_prefix = availability.prefix
        request.provisioning_attempts = 0
        try:
            with transaction.atomic():
                request.save(update_fields=["domain_prefix", "provisioning_attempts"])
        except IntegrityError:
            raise ValueError(
                _("%(domain)s was just taken by another request: choose another name.") % {"domain": request.domain}
            ) from None
        why = "Provisioning retried" + (f" with the tenant name {request.domain}" if changes else "")
        pipeline.move(request, to=Stage.PROVISIONING, by=by, why=why + ".", data=changes)
        provisioning_start(request=request)
    return request


def provisioning_cancel(*, request_id: int, by: User, reason: str) -> TenantRequest:
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        reason = text_checked(reason.strip(), multiline=True) or "by staff"
        pipeline.move(request, to=Stage.CANCELLED, by=by, why=f"Cancelled: {reason}")
    return request
