"""Every e-mail the portal sends passes axe-core (WCAG 2.2 AA) on a desktop and a phone, in every language.

Each kind under templates/emails/ is rendered by `email_render`, as the outbox renders it, with the context its
call site gives (every branch that shows text, once), then shown in Chromium at both widths and checked.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import lazy

from portal.accounts.models import User
from portal.agreements.models import Agreement
from portal.companies.models import Membership, ProfileChange
from portal.licences.models import ChangeRequest, Subscription
from portal.notifications.services import absolute_url, email_render
from portal.onboarding.emails import email_context
from portal.provisioning.models import Tenant
from tests.browsers import CHROMIUM, AccessibilityViolation, chromium_launch, html_page_check
from tests.conftest import unsaved_request

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (Python) is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM}"),
]

EMAILS = Path(settings.BASE_DIR) / "templates" / "emails"
LANGUAGES = [code for code, _name in settings.LANGUAGES]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
EXPIRES = datetime(2026, 3, 14, 16, 30, tzinfo=UTC)
INVALID = "«unset: %s»"
UNSET = INVALID.split("%s")[0]
LINK = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"  # a link token as long as the real ones
COMPANY = "Brightwave & Zonen BV"  # a name to escape in HTML, not in the subject
REASON = "The VAT number does not match the company's name.\nPlease check it with your accountant."


def kinds() -> list[str]:
    """Every kind of e-mail there is: one per templates/emails/<kind>-body.html."""
    return sorted(path.name.removesuffix("-body.html") for path in EMAILS.glob("*-body.html"))


def moment_read(moment: datetime):
    """A moment as the agreements' e-mails give it: written out in the e-mail's language when it is rendered."""
    return lazy(lambda: date_format(timezone.localtime(moment), "DATETIME_FORMAT"), str)()


def identity_change(status: str, requested_by: User) -> ProfileChange:
    """A change of Brightwave's legal identity, decided: `applied`, or `refused` with the staff's reason."""
    return ProfileChange(
        status=status,
        requested_by=requested_by,
        created_at=EXPIRES,
        reason="The VAT number belongs to another company.\nSend us the new company's registration.",
        changes={
            "legal_name": {"old": "Brightwave Analytics BV", "new": "Brightwave Group BV"},
            "registry_number": {"old": "", "new": "0403.170.701"},
        },
    )


def request_contexts() -> dict[str, list[dict]]:
    """The e-mails about Brightwave's tenant request, with the contexts their call sites build."""
    request = unsaved_request(COMPANY)
    tess, carl = request.technical_contact, request.commercial_contact
    tenant = Tenant(request=request, company=request.company, customer_id="c0ffee", domain=request.domain)
    agreement = Agreement(
        request=request, version="2026-01", signer_name="Carl Commerce", signer_email=carl.email, signed_at=EXPIRES
    )
    backoffice_url = absolute_url(f"/backoffice/requests/{request.pk}/")
    expiry = email_context(request, expires_at=moment_read(EXPIRES), backoffice_url=backoffice_url)
    provisioned = {
        "req": request,
        "company": request.company,
        "tenant": tenant,
        "technical": tess,
        "commercial": carl,
        "portal_url": absolute_url("/"),
    }
    return {
        "agreement-signed": [email_context(request, agreement=agreement)],
        "agreement-withdrawn": [email_context(request, recipient=carl, reason="Sent with the wrong company name.")],
        "contract": [
            email_context(
                request,
                recipient=carl,
                signing_url=absolute_url(f"/sign/{LINK}/"),
                expires_at=moment_read(EXPIRES),
                version="2026-01",
                resend=resend,
            )
            for resend in (False, True)
        ],
        "provisioning-failed": [
            {"req": request, "company": request.applicant, "reason": REASON, "backoffice_url": backoffice_url}
        ],
        "provisioning-started": [email_context(request, recipient=tess, agreement=agreement)],
        "registration-succeeded": [{**provisioned, "recipient": carl}],
        "request-changes": [
            email_context(
                request,
                recipient=tess,
                message=REASON,
                correction_url=absolute_url(f"/correct/{LINK}/"),
                expires_at=EXPIRES,
            )
        ],
        "request-confirmation": [
            email_context(request, recipient=tess, progress_url=absolute_url(f"/track/{LINK}/"), corrected=corrected)
            for corrected in (False, True)
        ],
        "request-rejected": [email_context(request, recipient=carl, reason=REASON)],
        "signature-code": [email_context(request, code="402913", valid_minutes=10)],
        "signature-declined": [
            email_context(request, reason=REASON, signer_email=carl.email, backoffice_url=backoffice_url)
        ],
        "signature-expired": [{**expiry, "recipient": carl, "for_staff": False}, {**expiry, "for_staff": True}],
        "signature-reminder": [
            email_context(request, recipient=carl, expires_at=moment_read(EXPIRES), last=last, number=number)
            for number, last in ((1, False), (2, True))
        ],
        "tenant-created": [{**provisioned, "recipient": tess}],
        "tenant-ready-activate": [
            {
                **provisioned,
                "recipient": tess,
                "activation_url": absolute_url(f"/activate/{LINK}/"),
                "expires_at": EXPIRES,
            }
        ],
    }


def account_contexts() -> dict[str, list[dict]]:
    """The e-mails about people's accounts and companies, with the contexts their call sites build."""
    company = unsaved_request(COMPANY).company
    tess = User(email="tess@brightwave.example", first_name="Tess", last_name="Tech")
    vera = User(email="vera@reseller.example", first_name="Vera", last_name="Validator", is_staff=True)
    return {
        "activation-link": [
            {"user": tess, "activation_url": absolute_url(f"/activate/{LINK}/"), "expires_at": EXPIRES}
        ],
        "device-removed": [{"user": tess, "device": "Pixel 8 (authenticator app)"}],
        "identity-change-decided": [
            {"change": identity_change(status, tess), "company": company, "company_url": absolute_url("/companies/7/")}
            for status in (ProfileChange.Status.APPLIED, ProfileChange.Status.REFUSED)
        ],
        "invitation": [
            {
                "company": company,
                "by": tess,
                "role": Membership.Role.BILLING.label,
                "invitation_url": absolute_url(f"/invitations/{LINK}/"),
                "expires_at": EXPIRES,
            }
        ],
        "mfa-enrolment": [
            {"user": tess, "enrolment_url": absolute_url(f"/enrol/{LINK}/"), "expires_at": EXPIRES, "by": by}
            for by in (None, vera)
        ],
        "password-changed": [{"user": tess, "how": how} for how in ("reset", "change")],
        "password-reset": [{"user": tess, "reset_url": absolute_url(f"/reset/{LINK}/"), "expires_at": EXPIRES}],
        "recovery-codes": [
            {"user": tess, "how": "new"},
            {"user": tess, "how": "used", "left": 1},
            {"user": tess, "how": "used", "left": 7},
        ],
        "two-step-required": [
            {
                "company": company,
                "by": tess,
                "has_device": has_device,
                "security_url": absolute_url("/accounts/security/"),
            }
            for has_device in (True, False)
        ],
    }


def licence_contexts() -> dict[str, list[dict]]:
    """The licence e-mails: a purchase placed at Microsoft, and a change waiting for approval."""
    company = unsaved_request(COMPANY).company
    bill = User(email="bill@brightwave.example", first_name="Bill")
    tess = User(email="tess@brightwave.example", first_name="Tess")
    commitment = "12 months, billed monthly; seats can be removed only within 7 days of being added."
    change = ChangeRequest(pk=12, kind="purchase", requested_by=tess, acknowledged_text=commitment)
    subscription = Subscription(friendly_name="Microsoft 365 Business Basic", quantity=5)
    return {
        "licence-purchased": [
            {
                "user": bill,
                "company": company,
                "change": change,
                "subscriptions": [subscription],
                "orders_url": absolute_url("/c/7/orders/"),
            }
        ],
        "licence-approval-needed": [
            {"company": company, "change": change, "by": tess, "approvals_url": absolute_url("/c/7/approvals/")}
        ],
        **notice_contexts(),
    }


def notice_contexts() -> dict[str, list[dict]]:
    """The renewal notices (portal.licences.notices), with auto-renew on and off, and a removal window closing."""
    company = unsaved_request(COMPANY).company
    ada = User(email="ada@brightwave.example", first_name="Ada", language="en")
    base = {
        "user": ada,
        "company": company,
        "title": "Microsoft 365 E3",
        "seats": 12,
        "term": "12 months, billed monthly",
        "renews": "3 January 2027",
        "closes": "10 December 2026, 14:30",
        "removable": 3,
        "url": absolute_url("/c/7/licences/3/"),
    }
    return {
        "licence-renewal": [
            {**base, "auto_renew": auto_renew, "days": days} for auto_renew, days in ((True, 30), (False, 7))
        ],
        "licence-window-closing": [{**base, "auto_renew": True, "days": 7}],
    }


def contexts(kind: str) -> list[dict]:
    """The contexts `kind` is rendered with: what its call site in portal/ passes, once per branch with text."""
    return {**request_contexts(), **account_contexts(), **licence_contexts()}.get(kind, [])


@pytest.fixture(scope="module")
def pages():
    """One Chromium, one context and page per width, for the whole module."""
    with sync_api.sync_playwright() as playwright:
        chromium = chromium_launch(playwright)
        try:
            opened = {}
            for name, viewport in VIEWPORTS.items():
                context = chromium.new_context(viewport=viewport)
                context.set_default_timeout(15_000)
                opened[name] = context.new_page()
            yield opened
        finally:
            chromium.close()


@pytest.fixture
def strict_templates(settings):
    """A variable the context lacks shows as `INVALID` instead of nothing: the contexts are checked complete."""
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"], "string_if_invalid": INVALID}}
    ]


def rendered(language: str) -> list[tuple[str, str, str]]:
    """(name, subject, HTML) of every kind in every variant, in `language`."""
    emails = []
    for kind in kinds():
        for number, context in enumerate(contexts(kind), start=1):
            subject, _text, html = email_render(template=kind, context=context, language=language)
            emails.append((f"{kind} #{number} ({language})", subject, html))
    return emails


def email_problems(page, html: str, subject: str, language: str, name: str) -> list[str]:
    """What is wrong with one e-mail in one page: axe-core's report, a title that is not the subject, a wrong lang.

    Every e-mail is checked before the test fails, so that one run lists them all.
    """
    try:
        html_page_check(page, html, name)
    except AccessibilityViolation as violation:
        return [str(violation)]
    problems = []
    if page.title() != subject:
        problems.append(f"{name}: the title is {page.title()!r}, the subject {subject!r}")
    lang = page.evaluate("() => document.documentElement.lang")
    if lang != language:
        problems.append(f"{name}: <html lang={lang!r}>, the e-mail is in {language!r}")
    return problems


def test_every_kind_has_a_context():
    """A new kind of e-mail is checked only once this module knows what its call site passes."""
    assert [kind for kind in kinds() if not contexts(kind)] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_email_is_accessible(pages, strict_templates, language):
    """Each e-mail, complete, has no axe-core violation at either width, its subject as title, its language as lang."""
    emails = rendered(language)
    assert [name for name, subject, html in emails if UNSET in subject + html] == []
    failures = []
    for name, subject, html in emails:
        for width, page in pages.items():
            failures += email_problems(page, html, subject, language, f"{name} on a {width}")
    assert not failures, "\n\n".join(failures)


PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
DEFECTS = {
    # The small print in a grey of 2.2:1 against the white card.
    "color-contrast": ("color:#667085;", "color:#b0b0b0;"),
    # A logo in the header that says nothing to a screen reader.
    "image-alt": ("Customer Portal</td>", f'Customer Portal <img src="{PIXEL}" width="32" height="32"></td>'),
}


@pytest.mark.parametrize("rule", DEFECTS)
def test_the_check_fails_on_an_email_with_a_violation(pages, rule):
    """The check is not blind: a real e-mail given one known defect fails it, and the report names the rule."""
    _subject, _text, html = email_render(template="password-reset", context=contexts("password-reset")[0])
    html_page_check(pages["phone"], html, "password-reset as sent")
    found, defect = DEFECTS[rule]
    assert found in html
    with pytest.raises(AccessibilityViolation, match=rf"- {rule} \("):
        html_page_check(pages["phone"], html.replace(found, defect), f"password-reset with a {rule} defect")
