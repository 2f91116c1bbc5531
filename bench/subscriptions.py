"""The licences page of a company with many subscriptions: its query count at 10 and 1,000, and its throughput."""

from datetime import timedelta

import aiohttp
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.data import HOST, requests_seed
from bench.load import Browser, read
from portal.accounts.models import User
from portal.companies.models import Membership
from portal.licences.models import Subscription
from portal.onboarding.models import TenantRequest
from portal.provisioning.models import Tenant

CUSTOMER_EMAIL = "ada@bench-licences.example"
SEEDED = 1000


def subscriptions_seed(count: int) -> str:
    """A company with a tenant, an administrator and `count` subscriptions (their windows open); its page's path."""
    tenant = Tenant.objects.filter(domain="benchlicences.onmicrosoft.com").first()
    if tenant is None:
        requests_seed(1, start=99_000)
        request = TenantRequest.objects.order_by("-pk").first()
        assert request is not None
        tenant = Tenant.objects.create(
            request=request,
            company=request.company,
            customer_id="bench-licences",
            domain="benchlicences.onmicrosoft.com",
        )
        user = User.objects.create_user(CUSTOMER_EMAIL, None, first_name="Ada")
        Membership.objects.create(user=user, company=request.company, role=Membership.Role.ADMIN)
    now = timezone.now()
    start = Subscription.objects.filter(tenant=tenant).count()
    Subscription.objects.bulk_create(
        [
            Subscription(
                company_id=tenant.company_id,
                tenant=tenant,
                pc_id=f"bench-sub-{n:05d}",
                catalog_item_id="CFQ7TTC0LFLX:0001:CFQ7TTC0K5DM",
                product_id="CFQ7TTC0LFLX",
                sku_id="0001",
                friendly_name=f"Microsoft 365 E3 #{n:05d}",
                quantity=10 + n % 50,
                status="active",
                term_duration=("P1M", "P1Y", "P3Y")[n % 3],
                billing_cycle="monthly" if n % 3 < 2 else "annual",
                effective_start=now - timedelta(days=n % 10),
                commitment_end=now + timedelta(days=300 - n % 200),
                cancellation_allowed_until=now + timedelta(days=7 - n % 10),
                refundable_quantity=n % 5,
                refund_options=[{"type": "Full", "expiresAfter": "P7D"}],
            )
            for n in range(start, count)
        ],
        batch_size=500,
    )
    connection.close()
    return f"/c/{tenant.company_id}/licences/"


def page_queries(path: str) -> dict:
    """Queries of the licences page, signed in as the company's administrator (test client, force_login)."""
    client = Client(SERVER_NAME=HOST)
    client.force_login(User.objects.get(email=CUSTOMER_EMAIL))
    client.get(path)  # warm caches so only the page's own queries count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code} in-process, not 200")
    connection.close()
    return {"url": path, "queries": len(captured), "sql": [q["sql"] for q in captured.captured_queries]}


def customer_cookies() -> dict[str, str]:
    """A session of the company's administrator, as the load clients send it."""
    client = Client(SERVER_NAME=HOST)
    client.force_login(User.objects.get(email=CUSTOMER_EMAIL))
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    connection.close()
    return cookies


def page_send(path: str):
    async def send(http: aiohttp.ClientSession, browser: Browser) -> tuple[int, str]:
        async with http.get(path, headers=browser.cookie_header(), allow_redirects=False) as response:
            status, body = await read(response, browser)
        if status == 200 and "Microsoft 365 E3 #00049" not in body:
            return 0, "200 without the first page of subscriptions"
        return status, body

    return send


def prepare_with(cookies: dict[str, str]):
    async def prepare(http: aiohttp.ClientSession, browser: Browser) -> None:
        browser.cookies.update(cookies)

    return prepare
