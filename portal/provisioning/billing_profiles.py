"""The company profile is Microsoft's billing profile too: each tenant's customer at Microsoft keeps the company's
legal name, address and phone, and its billing contact, kept in step by a job after every change of the profile.

The portal is the source of truth for these fields, but someone may change the profile in Partner Center as well.
The job reads Microsoft's profile and compares it field by field with the values both sides last agreed on
(BillingProfileSync.synced):
- changed only in the portal: the portal's value is sent;
- changed only at Microsoft: Microsoft's value is kept, and staff see it as a difference;
- changed on both sides to different values: Microsoft's value is kept, and staff see a conflict.
Without values agreed on yet (the first sync) the portal's are sent. The update carries If-Match with the ETag it
was read with; when the profile changed in between (412), the job reads it again and decides once more.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.companies.models import Company, Contact
from portal.companies.signals import CONTACTS
from portal.companies.validation import phone_normalise
from portal.core.retry import backoff
from portal.core.timefmt import duration_words
from portal.core.timers import timer_set
from portal.onboarding import pipeline
from portal.onboarding.models import TimelineEntry
from portal.onboarding.timeline import timeline_append
from portal.provisioning.base import (
    BillingProfile,
    PreconditionFailed,
    Provisioner,
    ProvisionerError,
    ProvisionerUnavailable,
    get_provisioner,
)
from portal.provisioning.models import BillingProfileSync, Tenant
from portal.provisioning.tasks import sync_billing_profile

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=2)
# Partner Center's culture and language for the billing contact's language (Belgium's cultures, and English).
CULTURES = {"nl": ("nl-BE", "nl"), "fr": ("fr-BE", "fr"), "en": ("en-US", "en")}
# The company's fields that Microsoft's billing profile holds: a change of any other (VAT, website) is not sent.
# The contacts hold the billing contact (its name and e-mail).
SOURCE_FIELDS = frozenset(
    {"legal_name", "address_line1", "address_line2", "postal_code", "city", "country", "phone", CONTACTS}
)
FIELD_LABELS: dict[str, Promise] = {
    "companyName": gettext_lazy("Company name"),
    "firstName": gettext_lazy("Billing contact's first name"),
    "lastName": gettext_lazy("Billing contact's last name"),
    "email": gettext_lazy("Billing contact's e-mail"),
    "culture": gettext_lazy("Culture"),
    "language": gettext_lazy("Language"),
    "defaultAddress.addressLine1": gettext_lazy("Address line 1"),
    "defaultAddress.addressLine2": gettext_lazy("Address line 2"),
    "defaultAddress.postalCode": gettext_lazy("Postal code"),
    "defaultAddress.city": gettext_lazy("City"),
    "defaultAddress.country": gettext_lazy("Country"),
    "defaultAddress.firstName": gettext_lazy("Address: first name"),
    "defaultAddress.lastName": gettext_lazy("Address: last name"),
    "defaultAddress.phoneNumber": gettext_lazy("Phone"),
}


def billing_contact(company: Company) -> Contact | None:
    """The contact Microsoft bills: the company's first billing contact, else its commercial contact."""
    current = company.contacts.filter(removed_at=None).select_related("user").order_by("pk")
    return current.filter(kind=Contact.Kind.BILLING).first() or current.filter(kind=Contact.Kind.COMMERCIAL).first()


def _phone(company: Company) -> str:
    try:
        return phone_normalise(company.phone, company.country)
    except ValidationError:  # stored before the rules of today: Microsoft judges it
        return company.phone


def billing_profile_values(company: Company) -> dict[str, str]:
    """The billing profile as the portal sees the company, in Partner Center's field names."""
    contact = billing_contact(company)
    first, last, email = (contact.first_name, contact.last_name, contact.email) if contact else ("", "", "")
    # A contact keeps no language of its own; one with an account has the account's.
    language = contact.user.language if contact is not None and contact.user is not None else "en"
    culture, language = CULTURES.get(language, CULTURES["en"])
    return {
        "companyName": company.legal_name,
        "firstName": first,
        "lastName": last,
        "email": email,
        "culture": culture,
        "language": language,
        "defaultAddress.addressLine1": company.address_line1,
        "defaultAddress.addressLine2": company.address_line2,
        "defaultAddress.postalCode": company.postal_code,
        "defaultAddress.city": company.city,
        "defaultAddress.country": company.country.upper(),
        "defaultAddress.firstName": first,
        "defaultAddress.lastName": last,
        "defaultAddress.phoneNumber": _phone(company),
    }


@dataclass
class Merge:
    """What one sync decides: the portal's values to send, and where each field now stands."""

    send: dict[str, str] = field(default_factory=dict)
    synced: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, dict[str, str]] = field(default_factory=dict)
    differences: dict[str, dict[str, str]] = field(default_factory=dict)


def billing_profile_merge(*, portal: dict[str, str], microsoft: dict[str, str], synced: dict[str, str]) -> Merge:
    """Field by field against the values last agreed on: send what changed only in the portal, keep the rest."""
    merge = Merge()
    for name, ours in portal.items():
        theirs, agreed = microsoft.get(name, ""), synced.get(name)
        if ours == theirs:
            merge.synced[name] = ours
        elif agreed is None or theirs == agreed:
            merge.send[name] = merge.synced[name] = ours
        elif ours == agreed:
            merge.differences[name] = {"portal": ours, "microsoft": theirs}
            merge.synced[name] = agreed
        else:
            merge.conflicts[name] = {"portal": ours, "microsoft": theirs, "synced": agreed}
            merge.synced[name] = agreed
    return merge


@dataclass(frozen=True)
class FieldState:
    label: str
    portal: str
    microsoft: str
    kind: str  # "conflict" (changed on both sides) or "difference" (changed only at Microsoft)


@dataclass(frozen=True)
class SyncState:
    """What staff see of a tenant's billing profile at Microsoft."""

    status: str  # BillingProfileSync.Status, or "never" before the first sync
    status_label: str
    synced_at: datetime | None
    last_error: str
    fields: list[FieldState]


def billing_profile_state(tenant: Tenant) -> SyncState:
    """For the back-office; reads tenant.billing_profile_sync (select it with the tenant)."""
    record: BillingProfileSync | None = getattr(tenant, "billing_profile_sync", None)
    if record is None:
        return SyncState("never", _("Not synced yet"), None, "", [])
    fields = [
        FieldState(str(FIELD_LABELS.get(name, name)), values["portal"], values["microsoft"], kind)
        for kind, found in (("conflict", record.conflicts), ("difference", record.differences))
        for name, values in found.items()
    ]
    return SyncState(record.status, str(record.get_status_display()), record.synced_at, record.last_error, fields)


def billing_profile_changed(sender: type, *, company: Company, fields: list[str], **kwargs: object) -> None:
    """Receiver of companies.signals.profile_changed: every tenant of the company at Microsoft gets the change."""
    if not SOURCE_FIELDS.intersection(fields):
        return
    for tenant_id in Tenant.objects.filter(company=company).values_list("pk", flat=True):
        sync_billing_profile.enqueue(tenant_id=tenant_id)


def billing_profile_push(*, request_id: int, by: User) -> Tenant:
    """Staff send the company's billing profile to Microsoft again (after fixing what was refused, say)."""
    with transaction.atomic():
        request = pipeline.request_locked(request_id)
        tenant = Tenant.objects.filter(request=request).first()
        if tenant is None:
            raise ValueError(_("This request has no tenant at Microsoft yet: there is no billing profile to push."))
        timeline_append(
            request=request,
            kind=TimelineEntry.Kind.NOTE,
            actor=by,
            message="The company's billing profile is being pushed to Microsoft again.",
        )
        sync_billing_profile.enqueue(tenant_id=tenant.pk)
    return tenant


def billing_profile_sync(*, tenant_id: int) -> str:
    """One attempt to bring the tenant's billing profile at Microsoft in step with the company."""
    tenant = Tenant.objects.select_related("company").filter(pk=tenant_id).first()
    if tenant is None:
        return "no tenant"
    try:
        return _sync(get_provisioner(), tenant)
    except ProvisionerError as error:
        return _sync_failed(tenant, error)
    except Exception as error:  # a bug or a database hiccup must not leave staff thinking the profile is in step
        logger.exception("Billing profile sync of tenant %s failed unexpectedly", tenant_id)
        return _sync_failed(tenant, ProvisionerUnavailable(f"Unexpected error: {type(error).__name__}: {error}"))


def _sync(provisioner: Provisioner, tenant: Tenant) -> str:
    record = BillingProfileSync.objects.filter(tenant=tenant).first()
    portal, synced = billing_profile_values(tenant.company), (record.synced if record else {})
    try:
        return _sync_once(provisioner, tenant, portal, synced)
    except PreconditionFailed:  # changed at Microsoft between our read and our update: decide once more
        logger.info("The billing profile of tenant %s changed at Microsoft meanwhile; reading it again", tenant.pk)
        return _sync_once(provisioner, tenant, portal, synced)


def _sync_once(provisioner: Provisioner, tenant: Tenant, portal: dict[str, str], synced: dict[str, str]) -> str:
    current = provisioner.billing_profile_get(customer_id=tenant.customer_id)
    merge = billing_profile_merge(portal=portal, microsoft=current.values(), synced=synced)
    if merge.send:
        current = provisioner.billing_profile_update(
            customer_id=tenant.customer_id, profile=current.with_values(merge.send), etag=current.etag
        )
    return _synced(tenant, merge, current)


def _labels(fields: dict) -> str:
    """The fields' names for the timeline, which keeps its English words."""
    with translation.override(None):
        return ", ".join(str(FIELD_LABELS.get(name, name)).lower() for name in fields)


def _synced(tenant: Tenant, merge: Merge, profile: BillingProfile) -> str:
    status = BillingProfileSync.Status.CONFLICT if merge.conflicts else BillingProfileSync.Status.OK
    now = timezone.now()
    with transaction.atomic():
        request = pipeline.request_locked(tenant.request_id)
        BillingProfileSync.objects.update_or_create(
            tenant=tenant,
            defaults={
                "synced": merge.synced,
                "etag": profile.etag,
                "synced_at": now,
                "status": status,
                "conflicts": merge.conflicts,
                "differences": merge.differences,
                "last_error": "",
                "attempts": 0,
                "updated_at": now,
            },
        )
        notes = []
        if merge.send:
            notes.append(f"Microsoft's billing profile now has the portal's {_labels(merge.send)}.")
        if merge.conflicts:
            notes.append(f"Changed both in the portal and at Microsoft, Microsoft's kept: {_labels(merge.conflicts)}.")
        if notes:
            timeline_append(
                request=request,
                kind=TimelineEntry.Kind.NOTE,
                message=" ".join(notes),
                data={"sent": sorted(merge.send), "conflicts": sorted(merge.conflicts)},
            )
    return status


def _sync_failed(tenant: Tenant, error: ProvisionerError) -> str:
    with transaction.atomic():
        record, _created = BillingProfileSync.objects.select_for_update().get_or_create(tenant=tenant)
        record.attempts += 1
        message = error.message
        if not error.permanent and record.attempts < settings.PROVISIONING_MAX_ATTEMPTS:
            wait = max(
                backoff(record.attempts, first=BACKOFF_FIRST, cap=BACKOFF_MAX),
                timedelta(seconds=error.retry_after or 0),
            )
            timer_set(
                sync_billing_profile,
                at=timezone.now() + wait,
                key=f"billing-profile-sync:{tenant.pk}",
                tenant_id=tenant.pk,
            )
            message += " " + _("Next try in %(wait)s.") % {"wait": duration_words(wait)}
        record.status = BillingProfileSync.Status.FAILED
        record.last_error = message
        record.updated_at = timezone.now()
        record.save(update_fields=["attempts", "status", "last_error", "updated_at"])
    logger.warning("Billing profile sync of tenant %s failed: %s", tenant.pk, message)
    return "failed"
