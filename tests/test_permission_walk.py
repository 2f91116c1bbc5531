"""The permission table walked over HTTP: every action for every role, in the pages and in the API; and every
company URL and API resource of a company that is not the user's answers 404, whatever its method."""

import json
import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from portal.accounts.models import User
from portal.api.api import api
from portal.catalog.services import catalog_sync
from portal.companies.models import Company, Contact, Membership
from portal.companies.permissions import PERMISSIONS, Action, Role
from portal.companies.services import identity_change_request, invitation_send
from portal.licences.models import Subscription
from portal.licences.purchase import purchase_request
from portal.provisioning.models import Tenant
from portal.provisioning.simulated_catalog import LICENCES

pytestmark = pytest.mark.django_db

NEW_CONTACT = {
    "first_name": "Nora",
    "last_name": "New",
    "email": "nora@brightwave.example",
    "phone": "+32 470 12 34 56",
    "job_title": "Finance",
    "kind": "billing",
}
PROFILE = {
    "address_line1": "Kortrijksesteenweg 1",
    "address_line2": "",
    "postal_code": "9000",
    "city": "Gent",
    "country": "BE",
    "phone": "+32 9 222 33 44",
    "website": "https://brightwave.example",
}
IDENTITY = {"legal_name": "Brightwave Data BV", "vat_number": "BE0202239951"}
BASIC = next(licence for licence in LICENCES if licence.product_id == "CFQ7TTC0LH18").catalog_item_id
PURCHASE = {
    "kind": "purchase",
    "catalog_item_id": BASIC,
    "quantity": 2,
    "term_duration": "P1Y",
    "billing_cycle": "monthly",
    "acknowledged": True,
}


@dataclass(frozen=True)
class Attempt:
    """One way to do an action: a page (form post or page view) or an API call; ids are filled in per company."""

    action: Action
    method: str
    path: str
    body: dict | None = None

    @property
    def in_api(self) -> bool:
        return self.path.startswith("/api/")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ATTEMPTS = [
    Attempt(Action.VIEW, "GET", "/c/{company}/"),
    Attempt(Action.VIEW, "GET", "/api/v1/companies/{company}"),
    Attempt(Action.VIEW, "GET", "/api/v1/companies/{company}/contacts"),
    Attempt(Action.VIEW, "GET", "/api/v1/companies/{company}/members"),
    Attempt(Action.VIEW, "GET", "/api/v1/companies/{company}/agreements"),
    Attempt(Action.EDIT_PROFILE, "GET", "/c/{company}/profile/"),
    Attempt(Action.EDIT_PROFILE, "POST", "/c/{company}/profile/", PROFILE),
    Attempt(Action.EDIT_PROFILE, "PATCH", "/api/v1/companies/{company}", {"phone": "+32 9 222 33 44"}),
    Attempt(Action.REQUEST_IDENTITY_CHANGE, "GET", "/c/{company}/identity/"),
    Attempt(Action.REQUEST_IDENTITY_CHANGE, "POST", "/c/{company}/identity/", IDENTITY),
    Attempt(Action.REQUEST_IDENTITY_CHANGE, "POST", "/api/v1/companies/{company}/profile-changes", IDENTITY),
    Attempt(Action.MANAGE_CONTACTS, "GET", "/c/{company}/contacts/new/"),
    Attempt(Action.MANAGE_CONTACTS, "POST", "/c/{company}/contacts/new/", NEW_CONTACT),
    Attempt(
        Action.MANAGE_CONTACTS, "POST", "/c/{company}/contacts/{contact}/", {**NEW_CONTACT, "email": "x@b.example"}
    ),
    Attempt(Action.MANAGE_CONTACTS, "POST", "/c/{company}/contacts/{contact}/remove/"),
    Attempt(Action.MANAGE_CONTACTS, "POST", "/api/v1/companies/{company}/contacts", NEW_CONTACT),
    Attempt(Action.MANAGE_CONTACTS, "PATCH", "/api/v1/companies/{company}/contacts/{contact}", {"job_title": "CFO"}),
    Attempt(Action.MANAGE_CONTACTS, "DELETE", "/api/v1/companies/{company}/contacts/{contact}"),
    Attempt(Action.MANAGE_MEMBERS, "POST", "/c/{company}/members/{member}/role/", {"role": "readonly"}),
    Attempt(Action.MANAGE_MEMBERS, "POST", "/c/{company}/members/{member}/remove/"),
    Attempt(Action.MANAGE_MEMBERS, "POST", "/c/{company}/invitations/", {"email": "ivy@b.example", "role": "billing"}),
    Attempt(Action.MANAGE_MEMBERS, "POST", "/c/{company}/invitations/{invitation}/revoke/"),
    Attempt(Action.MANAGE_MEMBERS, "PATCH", "/api/v1/companies/{company}/members/{member}", {"role": "readonly"}),
    Attempt(Action.MANAGE_MEMBERS, "DELETE", "/api/v1/companies/{company}/members/{member}"),
    Attempt(
        Action.MANAGE_MEMBERS,
        "POST",
        "/api/v1/companies/{company}/invitations",
        {"email": "ivy@b.example", "role": "billing"},
    ),
    Attempt(Action.MANAGE_MEMBERS, "DELETE", "/api/v1/companies/{company}/invitations/{invitation}"),
    Attempt(Action.MANAGE_MEMBERS, "POST", "/c/{company}/two-step/", {}),
    Attempt(Action.MANAGE_MEMBERS, "PATCH", "/api/v1/companies/{company}", {"require_mfa": False}),
    # Licences
    Attempt(Action.CHANGE_LICENCES, "GET", "/c/{company}/cart/"),
    Attempt(Action.CHANGE_LICENCES, "POST", "/api/v1/companies/{company}/change-requests", PURCHASE),
    Attempt(Action.APPROVE_LICENCES, "GET", "/c/{company}/approvals/"),
    Attempt(Action.APPROVE_LICENCES, "POST", "/c/{company}/approvals/{licence_change}/", {"approve": "1"}),
    Attempt(Action.APPROVE_LICENCES, "POST", "/api/v1/companies/{company}/change-requests/{licence_change}/approve"),
    Attempt(Action.VIEW_PRICES, "GET", "/c/{company}/prices/"),
    Attempt(Action.VIEW_PRICES, "GET", "/api/v1/companies/{company}/prices"),
    # Licences: subscriptions
    Attempt(Action.VIEW, "GET", "/c/{company}/licences/"),
    Attempt(Action.VIEW, "GET", "/c/{company}/licences/{subscription}/"),
    Attempt(Action.VIEW, "GET", "/api/v1/companies/{company}/subscriptions"),
    Attempt(
        Action.CHANGE_LICENCES,
        "POST",
        "/c/{company}/licences/{subscription}/",
        {"action": "auto_renew", "auto_renew": "off"},
    ),
]


@dataclass
class World:
    """Brightwave with a member of the role under test, a second admin, an extra contact, member and invitation."""

    company: Company
    user: User
    ids: dict[str, int]


def brightwave(submitted, role: Role) -> World:
    company = submitted.company
    user = User.objects.create_user("walker@brightwave.example", "Walker-walks-2026", first_name="Walker")
    Membership.objects.create(user=user, company=company, role=role)
    admin = User.objects.create_user("ada@brightwave.example", "Ada-administers-2026", first_name="Ada")
    Membership.objects.create(user=admin, company=company, role=Role.ADMIN)
    mia = User.objects.create_user("mia@brightwave.example", "Mia-member-2026", first_name="Mia")
    member = Membership.objects.create(user=mia, company=company, role=Role.TECHNICAL)
    contact = Contact.objects.create(
        company=company, first_name="Cleo", last_name="Extra", email="cleo@brightwave.example", phone="+3292223344"
    )
    invitation = invitation_send(company_id=company.pk, email="ian@brightwave.example", role="technical", by=admin)
    # Licences: a tenant, the (simulated) catalogue, and a purchase Mia asked for, waiting for approval
    Tenant.objects.create(
        request=submitted, company=company, customer_id="walk-customer", domain="walk.onmicrosoft.com"
    )
    catalog_sync(country="BE")
    waiting = purchase_request(
        company=company, by=mia, role=Role.TECHNICAL, asked=PURCHASE, acknowledged_text="12 months, billed monthly"
    )
    ids = {"member": member.pk, "contact": contact.pk, "invitation": invitation.pk, "licence_change": waiting.pk}
    ids["subscription"] = subscription_of(submitted).pk
    return World(company, user, ids)


def subscription_of(request) -> Subscription:
    """An active subscription of the request's company, on a tenant of its own."""
    tenant = Tenant.objects.filter(company=request.company).first() or Tenant.objects.create(
        request=request, company=request.company, customer_id=f"walk-{request.pk}", domain=f"walk{request.pk}.example"
    )
    return Subscription.objects.create(
        company=request.company,
        tenant=tenant,
        pc_id=f"walk-sub-{request.pk}",
        catalog_item_id="CFQ7TTC0LH18:0001:CFQ7TTC0K5DM",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        friendly_name="Microsoft 365 Business Basic",
        quantity=5,
        status="active",
        term_duration="P1Y",
        billing_cycle="monthly",
    )


def send(client: Client, method: str, path: str, body: dict | None):
    """A page's GET or form POST, or an API call with a JSON body."""
    if method == "GET":
        return client.get(path)
    if path.startswith("/api/"):
        return client.generic(method, path, json.dumps(body or {}), content_type="application/json")
    return client.post(path, body or {})


def test_every_action_has_a_page_and_an_api_route_in_the_walk():
    for action in Action:
        ways = {attempt.in_api for attempt in ATTEMPTS if attempt.action == action}
        assert ways == {True, False}, f"{action}: the walk needs a page and an API route for it"


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_the_permission_table_decides_every_action_for_every_role_in_pages_and_api(attempt, role, submitted):
    world = brightwave(submitted, role)
    client = Client()
    client.force_login(world.user)
    path = attempt.path.format(company=world.company.pk, **world.ids)
    answer = send(client, attempt.method, path, attempt.body)
    if role in PERMISSIONS[attempt.action]:
        assert answer.status_code < 400, (role, str(attempt), answer.status_code, answer.content[:500])
    else:
        assert answer.status_code == 403, (role, str(attempt), answer.status_code, answer.content[:500])
        text = answer.json()["detail"] if attempt.in_api else answer.content.decode()
        assert "This needs the role" in text and f"yours is {role.label}" in text


def company_routes() -> list[str]:
    """Every route of the URLconf with a company id in it, as a path template."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and "<int:company_id>" in route and not route.startswith("/api/"):
                found.append(route)

    walk(get_resolver().url_patterns, "/")
    return found


def api_company_routes() -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document with a company id in its path."""
    paths = api.get_openapi_schema()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if "{company_id}" in path
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


PARAMETER = re.compile(r"<(?:int:)?(\w+)_id>|\{(\w+)_id\}")


def fill(template: str, ids: dict[str, int]) -> str:
    """The route with each `<int:x_id>` (page) or `{x_id}` (API) replaced by ids["x"]."""

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        assert name in ids, f"{template}: the 404 walk needs an id of the company's {name}s"
        return str(ids[name])

    return PARAMETER.sub(value, template)


def ways_in(template: str, ids: dict[str, int], olgas_company: int) -> set[str]:
    """Brightwave's URL; and, where the route names an object, Brightwave's object under Olga's company id."""
    paths = {fill(template, ids)}
    if len(PARAMETER.findall(template)) > 1:
        paths.add(fill(template, {**ids, "company": olgas_company}))
    return paths


@pytest.fixture
def two_companies(signed, worker, other_company_user):
    """Brightwave, signed (so it has an agreement), with every kind of object; Olga's company beside it."""
    company = signed.company
    admin = User.objects.create_user("ada@brightwave.example", "Ada-administers-2026", first_name="Ada")
    member = Membership.objects.create(user=admin, company=company, role=Role.ADMIN)
    invitation = invitation_send(company_id=company.pk, email="ian@brightwave.example", role="technical", by=admin)
    change = identity_change_request(company_id=company.pk, changes={"legal_name": {"old": "A", "new": "B"}}, by=admin)
    ids = {
        "change": change.pk,
        "company": company.pk,
        "member": member.pk,
        "contact": company.contacts.first().pk,
        "invitation": invitation.pk,
        "agreement": signed.agreements.get().pk,
        "subscription": subscription_of(signed).pk,
    }
    olgas = Membership.objects.get(user=other_company_user)
    Membership.objects.filter(pk=olgas.pk).update(role=Role.ADMIN)  # she may do everything, in her own company
    return ids, other_company_user, olgas.company_id


def test_another_companys_every_url_and_api_resource_answers_404(two_companies):
    ids, olga, olgas_company = two_companies
    client = Client()
    client.force_login(olga)
    pages, operations = company_routes(), api_company_routes()
    assert len(pages) >= 10 and len(operations) >= 12, (pages, operations)

    tried = 0
    for template in pages:
        for path in ways_in(template, ids, olgas_company):
            answers = {method: send(client, method, path, {"role": "admin"}).status_code for method in ("GET", "POST")}
            # 405 says only that the route takes no such method, for every company alike.
            assert set(answers.values()) <= {404, 405} and 404 in answers.values(), (path, answers)
            tried += 1
    for method, template in operations:
        for path in ways_in(template, ids, olgas_company):
            answer = send(client, method, path, {**NEW_CONTACT, "email": "o@other.example", "role": "admin"})
            assert answer.status_code == 404, (method, path, answer.status_code, answer.content[:300])
            assert answer.json()["detail"].startswith("No such"), (method, path, answer.json())
            tried += 1
    assert tried >= 30
