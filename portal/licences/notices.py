"""Renewal notices: annual and three-year subscriptions are announced 30 and 7 days before they renew, and a
removal window about to close is said while seats can still be removed. Monthly subscriptions renew every month
and get none. Each notice goes once (`RenewalNotice` is unique per subscription, kind and date), to the company's
administrators and billing members, each in their own language.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation

from portal.companies.models import Membership
from portal.core.timers import timer_set
from portal.licences.models import RenewalNotice, Subscription
from portal.licences.subscriptions import (
    NOTICES_KEY,
    date_words,
    moment_words,
    next_notices_run,
    removal_until,
    seats_added_at,
    seats_removable,
    term_words,
)
from portal.licences.tasks import renewal_notices
from portal.notifications.services import absolute_url, email_queue

Kind = RenewalNotice.Kind
NOTICE_DAYS = {Kind.DAYS_30: timedelta(days=30), Kind.DAYS_7: timedelta(days=7)}
WINDOW_CLOSING_WITHIN = timedelta(hours=48)  # the daily run says so at least once before the window closes
RECIPIENT_ROLES = (Membership.Role.ADMIN, Membership.Role.BILLING)


def notices_due(
    subscription: Subscription, now: datetime, *, added_at: datetime | None = None
) -> list[tuple[str, datetime]]:
    """The (kind, date) notices this subscription is due now; none for monthly terms."""
    if subscription.term_duration not in ("P1Y", "P3Y") or subscription.status != "active":
        return []
    due: list[tuple[str, datetime]] = []
    end = subscription.commitment_end
    if end is not None and end > now:
        left = end - now
        if NOTICE_DAYS[Kind.DAYS_7] < left <= NOTICE_DAYS[Kind.DAYS_30]:
            due.append((Kind.DAYS_30, end))
        elif left <= NOTICE_DAYS[Kind.DAYS_7]:
            due.append((Kind.DAYS_7, end))
    closes = removal_until(subscription, now, added_at=added_at)
    if (
        closes is not None
        and closes - now <= WINDOW_CLOSING_WITHIN
        and seats_removable(subscription, now, added_at=added_at)
    ):
        due.append((Kind.WINDOW_CLOSING, closes))
    return due


def renewal_notices_send() -> str:
    """The daily job: queue every notice due now, once each; then set the next run."""
    now = timezone.now()
    timer_set(renewal_notices, at=next_notices_run(now), key=NOTICES_KEY)  # first: nothing below stops it
    subscriptions = list(
        Subscription.objects.filter(status="active", term_duration__in=["P1Y", "P3Y"]).select_related("company")
    )
    added = seats_added_at(subscriptions)
    sent = 0
    for subscription in subscriptions:
        for kind, when in notices_due(subscription, now, added_at=added.get(subscription.pk)):
            sent += notice_send(subscription, kind=kind, when=when, now=now, added_at=added.get(subscription.pk))
    return f"{sent} renewal notices"


def notice_send(
    subscription: Subscription, *, kind: str, when: datetime, now: datetime, added_at: datetime | None
) -> int:
    """One notice to each administrator and billing member; nothing if it was sent already."""
    members = list(
        subscription.company.memberships.filter(role__in=RECIPIENT_ROLES, user__is_active=True).select_related("user")
    )
    try:
        with transaction.atomic():
            RenewalNotice.objects.create(subscription=subscription, kind=kind, term_end=when)
            for member in members:
                _queue(subscription, member, kind=kind, when=when, now=now, added_at=added_at)
    except IntegrityError:  # sent already
        return 0
    return len(members)


def _queue(
    subscription: Subscription, member: Membership, *, kind: str, when: datetime, now: datetime, added_at
) -> None:
    language = member.user.language
    with translation.override(language):
        context = {
            "user": member.user,
            "company": subscription.company,
            "subscription": subscription,
            "title": subscription.friendly_name,
            "seats": subscription.quantity,
            "term": term_words(subscription.term_duration, subscription.billing_cycle),
            "renews": date_words(subscription.commitment_end),
            "auto_renew": subscription.auto_renew,
            "closes": moment_words(when),
            "removable": seats_removable(subscription, now, added_at=added_at),
            "days": 30 if kind == Kind.DAYS_30 else 7,
            "url": absolute_url(reverse("licences:detail", args=[subscription.company_id, subscription.pk])),
        }
    template = "licence-window-closing" if kind == Kind.WINDOW_CLOSING else "licence-renewal"
    email_queue(template=template, to=[member.user.email], context=context, language=language)
