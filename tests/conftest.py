"""Shared fixtures: the people of the journey, a real SMTP server, and the worker."""

import email
import email.policy
import re
import socket
import threading
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.utils import timezone

from config.env import parse_email_url
from portal.accounts.models import User
from portal.agreements.documents import sha256
from portal.agreements.models import Agreement, SigningInvitation
from portal.agreements.services import Signature, agreement_sign, signing_code_send
from portal.companies.models import COMPANY_DETAILS, Company, Contact, Membership
from portal.core.ratelimit import LIMITS
from portal.onboarding.forms import ContactData, RequestData
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from tests.fake_partner_center import fake_partner_center  # noqa: F401 (the fixture, for every test module)


@dataclass
class Inbox:
    """What a real SMTP server on 127.0.0.1 received."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server in the test process; the portal sends to it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {"default": parse_email_url(f"smtp://127.0.0.1:{port}?timeout=5")}
    settings.MAIL_CAPTURED = False
    inbox.controller = controller  # type: ignore[attr-defined]
    yield inbox
    if controller._thread is not None:  # a test may have stopped it to take the server down
        controller.stop()


def run_worker() -> None:
    """Run every job that is due now, as `manage.py run_worker --once` does."""
    call_command("run_worker", once=True, verbosity=0)


@pytest.fixture
def worker(transactional_db):
    """The worker runs jobs in their own transactions, so tests that use it run outside a test transaction."""
    return run_worker


def contact(first: str, last: str, title: str, phone: str, domain: str = "brightwave.example") -> ContactData:
    return ContactData(first, last, f"{first.lower()}@{domain}", phone, title)


def request_data(**overrides) -> RequestData:
    """Brightwave's request: Tess is the technical contact, Carl the commercial one."""
    values = dict(
        legal_name="Brightwave Analytics BV",
        vat_number="BE0403170701",
        registry_number="0403.170.701",
        address_line1="Korenmarkt 1",
        address_line2="",
        postal_code="9000",
        city="Gent",
        country="BE",
        phone="+3292345678",
        website="https://brightwave.example",
        domain_prefix="brightwave",
        display_name="Brightwave",
        tenant_country="BE",
        technical=contact("Tess", "Tech", "IT manager", "+32478123456"),
        commercial=contact("Carl", "Commerce", "CEO", "+32478654321"),
    )
    values.update(overrides)
    return RequestData(**values)


def form_post(**overrides) -> dict:
    """The request form as a browser posts it."""
    data = {
        "company_legal_name": "Brightwave Analytics BV",
        "company_vat_number": "BE 0403.170.701",
        "company_address_line1": "Korenmarkt 1",
        "company_address_line2": "",
        "company_postal_code": "9000",
        "company_city": "Gent",
        "company_country": "BE",
        "company_phone": "09 234 56 78",
        "company_website": "brightwave.example",
        "tenant_domain_prefix": "brightwave",
        "tenant_display_name": "Brightwave",
        "tenant_country": "BE",
        "technical_first_name": "Tess",
        "technical_last_name": "Tech",
        "technical_email": "tess@brightwave.example",
        "technical_phone": "0478 12 34 56",
        "technical_job_title": "IT manager",
        "commercial_first_name": "Carl",
        "commercial_last_name": "Commerce",
        "commercial_email": "carl@brightwave.example",
        "commercial_phone": "+32 478 65 43 21",
        "commercial_job_title": "CEO",
        "accept_terms": "on",
    }
    data.update(overrides)
    return data


def api_body(**overrides) -> dict:
    """The same request as the JSON API takes it."""
    body = {
        "company": {
            "legal_name": "Brightwave Analytics BV",
            "vat_number": "BE0403170701",
            "address": {"line1": "Korenmarkt 1", "line2": "", "postal_code": "9000", "city": "Gent", "country": "BE"},
            "phone": "+3292345678",
            "website": "",
        },
        "tenant": {"domain_prefix": "brightwave", "display_name": "Brightwave", "country": "BE"},
        "technical_contact": {
            "first_name": "Tess",
            "last_name": "Tech",
            "email": "tess@brightwave.example",
            "phone": "+32478123456",
            "job_title": "IT manager",
        },
        "commercial_contact": {
            "first_name": "Carl",
            "last_name": "Commerce",
            "email": "carl@brightwave.example",
            "phone": "+32478654321",
            "job_title": "CEO",
        },
        "accept_terms": True,
    }
    body.update(overrides)
    return body


@pytest.fixture
def vera(db) -> User:
    """Vera the validator: reseller staff."""
    return User.objects.create_user(
        "vera@reseller.example", "Vera-validates-2026", is_staff=True, first_name="Vera", last_name="Validator"
    )


@pytest.fixture
def submitted(db):
    """Brightwave's request, just submitted (To Validate)."""
    return request_submit(data=request_data())


@pytest.fixture
def tess_user(submitted) -> User:
    """Tess with portal access to Brightwave."""
    user = User.objects.create_user("tess@brightwave.example", "Tess-manages-2026", first_name="Tess")
    Membership.objects.create(user=user, company=submitted.company)
    return user


@pytest.fixture
def other_company_user(db) -> User:
    """Olga, a customer of another company: must never see Brightwave's data."""
    other = request_submit(
        data=request_data(
            legal_name="Other Corp NV",
            vat_number="BE0202239951",
            domain_prefix="othercorp",
            technical=contact("Olga", "Other", "IT", "+32470111222", "other.example"),
            commercial=contact("Otto", "Other", "CEO", "+32470333444", "other.example"),
        )
    )
    user = User.objects.create_user("olga@other.example", "Olga-elsewhere-2026")
    Membership.objects.create(user=user, company=other.company)
    return user


@pytest.fixture(autouse=True)
def _rate_limits_out_of_reach(settings):
    """Tests of other things submit and check freely; tests/test_rate_limits.py sets the limits it tests."""
    for names in LIMITS.values():
        for name in filter(None, names):
            setattr(settings, name, "100000/h")


@pytest.fixture(autouse=True)
def _development_seal(settings):
    """Tests seal with the self-signed development certificate (made once under var/)."""
    settings.SEAL_ALLOW_DEV_CERT = True


CARL = "carl@brightwave.example"


def signing_token(inbox) -> str:
    """The token of the newest signing link e-mailed to Carl."""
    contract = [m for m in inbox.to(CARL) if "please sign online" in str(m["Subject"])][-1]
    text = contract.get_body(("plain",)).get_content()
    return re.search(r"/sign/([A-Za-z0-9_\-]+)/", text).group(1)


def latest_code(inbox) -> str:
    message = [m for m in inbox.to(CARL) if str(m["Subject"]).startswith("Your signing code")][-1]
    return re.search(r"(\d{6})", str(message["Subject"])).group(1)


@pytest.fixture
def awaiting(smtp_server, worker, vera):
    """Brightwave's request, validated by Vera: the contract is in Carl's mailbox."""
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    return request


def sign(request, inbox, worker):
    """Carl signs the agreement of a validated request, as the signing page does."""
    token = signing_token(inbox)
    signing_code_send(raw=token)
    worker()
    agreement_sign(
        raw=token, signature=Signature("Carl Commerce", "CEO", True, latest_code(inbox), "127.0.0.1", "test")
    )


@pytest.fixture
def signed(smtp_server, worker, vera):
    """Brightwave's agreement, signed: the request is at Provisioning, its job queued."""
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    sign(request, smtp_server, worker)
    request.refresh_from_db()
    assert request.stage == "provisioning"
    return request


def unsaved_request(legal_name: str = "Brightwave Analytics BV") -> TenantRequest:
    """Brightwave's request as objects only: documents are typeset and sealed without a database."""
    data = request_data(legal_name=legal_name)
    company = Company(**{field: getattr(data, field) for field in COMPANY_DETAILS})
    tess, carl = (Contact(company=company, **asdict(person)) for person in (data.technical, data.commercial))
    return TenantRequest(
        pk=41,
        company=company,
        company_snapshot=company.details(),
        technical_contact=tess,
        commercial_contact=carl,
        domain_prefix=data.domain_prefix,
        display_name=data.display_name,
        tenant_country=data.tenant_country,
    )


def unsaved_signature(request, pdf: bytes, signer_name: str = "Carl Commerce") -> tuple[Agreement, SigningInvitation]:
    """Carl's signature of that request's agreement, as the signing page records it, without a database."""
    now = timezone.now()
    agreement = Agreement(
        request=request,
        version="2026-01",
        pdf=pdf,
        sha256=sha256(pdf),
        signed_at=now,
        signer_name=signer_name,
        signer_title="CEO",
        signer_email="carl@brightwave.example",
        signer_ip="127.0.0.1",
        signer_user_agent="pytest",
        consent_text=f"I sign for {request.applicant.legal_name}.",
        consent_version="2026-01",
    )
    invitation = SigningInvitation(
        agreement=agreement, created_at=now, expires_at=now, first_opened_at=now, code_sent_at=now, code_verified_at=now
    )
    return agreement, invitation
