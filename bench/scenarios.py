"""What each benchmark client does: the hello baseline, the request form POST, the staff pipeline page."""

import asyncio
import secrets
import string
from urllib.parse import urlsplit

import aiohttp

from bench.load import Browser, connector, csrf_fetch, read
from bench.people import STAFF_EMAIL, STAFF_PASSWORD, request_form

HELLO = "/bench/hello/"
FORM = "/request-tenant/"
PIPELINE = "/backoffice/"
LOGIN = "/accounts/login/"

# Tenant names of this run: letters and digits only, at most 27 characters.
RUN_TAG = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(4))


async def hello_send(http: aiohttp.ClientSession, browser: Browser) -> tuple[int, str]:
    async with http.get(HELLO, allow_redirects=False) as response:
        return await read(response, browser)


async def form_prepare(http: aiohttp.ClientSession, browser: Browser) -> None:
    await csrf_fetch(http, browser, FORM)


async def form_send(http: aiohttp.ClientSession, browser: Browser) -> tuple[int, str]:
    browser.sent += 1
    data = request_form(f"b{RUN_TAG}c{browser.index:02d}n{browser.sent:05d}")
    data["csrfmiddlewaretoken"] = browser.token
    async with http.post(FORM, data=data, headers=browser.cookie_header(), allow_redirects=False) as response:
        status, body = await read(response, browser)
    if status == 302 and urlsplit(response.headers.get("Location", "")).path != "/request-tenant/sent/":
        return 0, f"302 to {response.headers.get('Location')}"
    return status, body


def staff_prepare(session_cookies: dict[str, str]):
    async def prepare(http: aiohttp.ClientSession, browser: Browser) -> None:
        browser.cookies.update(session_cookies)

    return prepare


async def pipeline_send(http: aiohttp.ClientSession, browser: Browser) -> tuple[int, str]:
    async with http.get(PIPELINE, headers=browser.cookie_header(), allow_redirects=False) as response:
        status, body = await read(response, browser)
    if status == 200 and "Tenant requests" not in body:
        return 0, "200 without the pipeline page"
    return status, body


async def _staff_login(base_url: str) -> dict[str, str]:
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector(), cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        browser = Browser(0)
        await csrf_fetch(http, browser, LOGIN)
        form = {"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "next": "", "csrfmiddlewaretoken": browser.token}
        async with http.post(LOGIN, data=form, headers=browser.cookie_header(), allow_redirects=False) as response:
            status, _ = await read(response, browser)
            location = response.headers.get("Location", "")
        if status != 302 or location != PIPELINE or "sessionid" not in browser.cookies:
            raise RuntimeError(f"staff sign-in failed: {status} to {location!r}, cookies {sorted(browser.cookies)}")
        status, body = await pipeline_send(http, browser)
        if status != 200:
            raise RuntimeError(f"GET {PIPELINE} with the staff session answered {status}: {body[:200]}")
        return dict(browser.cookies)


def staff_login(base_url: str) -> dict[str, str]:
    """Sign in as the staff user through /accounts/login/: the session (and csrf) cookies."""
    return asyncio.run(asyncio.wait_for(_staff_login(base_url), timeout=60))
