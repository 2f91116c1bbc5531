"""The company profile is Microsoft's billing profile too: a change in the portal reaches Partner Center (a local
fake of its REST API) through the worker, with If-Match; a change made at Microsoft is never overwritten."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from portal.accounts.models import User
from portal.companies.models import Contact, Membership
from portal.companies.services import company_profile_update, contact_add
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_submit, request_validate
from portal.provisioning.base import PreconditionFailed, get_provisioner, provisioner_reset
from portal.provisioning.billing_profiles import billing_profile_merge
from portal.provisioning.models import BillingProfileSync, SimulatedBillingProfile, Tenant
from tests.conftest import request_data, sign
from tests.test_accessibility import LONG_NAME, session_cookie
from tests.test_browser import browser, expect  # noqa: F401  (browser: the fixture)

PROFILE = "/profiles/billing"


def _provisioned(smtp_server, worker, vera) -> Tenant:
    request = request_submit(data=request_data())
    request_validate(request_id=request.pk, by=vera)
    worker()
    sign(request, smtp_server, worker)
    worker()
    assert TenantRequest.objects.get(pk=request.pk).stage == "completed"
    return Tenant.objects.select_related("company").get(request=request)


@pytest.fixture
def at_microsoft(fake_partner_center, smtp_server, worker, vera) -> Tenant:
    """Brightwave's tenant, created at Partner Center."""
    return _provisioned(smtp_server, worker, vera)


def _path(tenant: Tenant) -> str:
    return f"/v1/customers/{tenant.customer_id}{PROFILE}"


def _sync(tenant: Tenant) -> BillingProfileSync:
    return BillingProfileSync.objects.get(tenant=tenant)


def _sync_jobs() -> int:
    return DBTaskResult.objects.filter(task_path="portal.provisioning.tasks.sync_billing_profile").count()


@pytest.mark.parametrize(
    ("portal", "microsoft", "synced", "sent", "kept"),
    [
        ("Meir 1", "Korenmarkt 1", "Korenmarkt 1", "Meir 1", ""),  # changed in the portal: ours goes
        ("Korenmarkt 1", "Meir 1", "Korenmarkt 1", None, "difference"),  # changed at Microsoft: theirs stays
        ("Meir 1", "Veldstraat 1", "Korenmarkt 1", None, "conflict"),  # changed on both sides: theirs stays
        ("Meir 1", "Meir 1", "Korenmarkt 1", None, ""),  # the same change on both sides: agreed
        ("Meir 1", "Korenmarkt 1", None, "Meir 1", ""),  # nothing agreed yet: the portal's
    ],
)
def test_each_field_is_decided_against_the_value_both_sides_last_agreed_on(portal, microsoft, synced, sent, kept):
    field = "defaultAddress.addressLine1"
    merge = billing_profile_merge(
        portal={field: portal}, microsoft={field: microsoft}, synced={} if synced is None else {field: synced}
    )
    assert merge.send.get(field) == sent
    assert (field in merge.conflicts, field in merge.differences) == (kept == "conflict", kept == "difference")
    assert merge.synced[field] == (synced if kept else portal)


def test_a_profile_change_reaches_microsoft_with_the_etag_it_read(at_microsoft, fake_partner_center, worker):
    read_etag = fake_partner_center.billing_profile(at_microsoft.customer_id)["attributes"]["etag"]
    company_profile_update(
        company_id=at_microsoft.company_id, changes={"address_line1": "Veldstraat 10", "phone": "+3292345679"}
    )
    worker()
    puts = fake_partner_center.api_requests("PUT", _path(at_microsoft))
    assert len(puts) == 1
    assert puts[0].headers["if-match"] == read_etag
    sent = puts[0].json()
    assert sent["id"] and sent["attributes"]["objectType"] == "CustomerBillingProfile"  # the whole resource
    stored = fake_partner_center.billing_profile(at_microsoft.customer_id)
    assert stored["defaultAddress"]["addressLine1"] == "Veldstraat 10"
    assert stored["defaultAddress"]["phoneNumber"] == "+3292345679"
    assert stored["defaultAddress"]["city"] == "Gent" and stored["companyName"] == "Brightwave Analytics BV"
    assert (stored["email"], stored["culture"], stored["language"]) == ("carl@brightwave.example", "en-US", "en")
    sync = _sync(at_microsoft)
    assert sync.status == "ok" and sync.etag == stored["attributes"]["etag"] != read_etag
    assert sync.conflicts == {} and sync.differences == {}

    worker()  # the job is done: running the worker again sends nothing
    company_profile_update(company_id=at_microsoft.company_id, changes={"website": "https://brightwave.example/nl"})
    worker()
    assert len(fake_partner_center.api_requests("PUT", _path(at_microsoft))) == 1


def test_the_billing_contact_and_its_language_are_microsofts_billing_contact(at_microsoft, fake_partner_center, worker):
    bea = User.objects.create_user("bea@brightwave.example", "Bea-pays-the-bills-2026", language="fr")
    Contact.objects.create(
        company=at_microsoft.company,
        kind=Contact.Kind.BILLING,
        first_name="Bea",
        last_name="Billing",
        email="bea@brightwave.example",
        phone="+32478111222",
        user=bea,
    )
    company_profile_update(company_id=at_microsoft.company_id, changes={"city": "Gentbrugge", "postal_code": "9050"})
    worker()
    stored = fake_partner_center.billing_profile(at_microsoft.customer_id)
    assert (stored["firstName"], stored["lastName"], stored["email"]) == ("Bea", "Billing", "bea@brightwave.example")
    assert (stored["culture"], stored["language"]) == ("fr-BE", "fr")
    assert (stored["defaultAddress"]["postalCode"], stored["defaultAddress"]["city"]) == ("9050", "Gentbrugge")


def test_a_412_is_resolved_by_reading_the_profile_again(at_microsoft, fake_partner_center, worker):
    """Someone edits the profile in Partner Center between our GET and our PUT: the PUT is refused, read again."""
    fake_partner_center.change_billing_profile_before_next_put(
        at_microsoft.customer_id, {"defaultAddress.region": "Oost-Vlaanderen"}
    )
    company_profile_update(company_id=at_microsoft.company_id, changes={"address_line1": "Veldstraat 10"})
    worker()
    gets = fake_partner_center.api_requests("GET", _path(at_microsoft))
    puts = fake_partner_center.api_requests("PUT", _path(at_microsoft))
    assert len(gets) == 2 and len(puts) == 2
    assert puts[0].headers["if-match"] != puts[1].headers["if-match"]
    stored = fake_partner_center.billing_profile(at_microsoft.customer_id)
    assert stored["defaultAddress"]["region"] == "Oost-Vlaanderen"  # Microsoft's change survives
    assert stored["defaultAddress"]["addressLine1"] == "Veldstraat 10"  # and ours arrived
    assert _sync(at_microsoft).status == "ok"


def test_partner_center_takes_an_update_only_with_the_current_etag(at_microsoft, fake_partner_center):
    """As documented: If-Match is required (400 without it), a stale one is answered 412 (PreconditionFailed)."""
    provisioner = get_provisioner()
    profile = provisioner.billing_profile_get(customer_id=at_microsoft.customer_id)
    without = provisioner._api("PUT", _path(at_microsoft), json_body=profile.resource)  # type: ignore[attr-defined]
    assert without.status == 400 and "If-Match" in without.json()["description"]
    fake_partner_center.billing_profile_change(at_microsoft.customer_id, {"defaultAddress.city": "Brugge"})
    with pytest.raises(PreconditionFailed):
        provisioner.billing_profile_update(
            customer_id=at_microsoft.customer_id, profile=profile.resource, etag=profile.etag
        )
    assert fake_partner_center.billing_profile(at_microsoft.customer_id)["defaultAddress"]["city"] == "Brugge"


def test_a_field_changed_on_both_sides_is_kept_at_microsoft_and_shown_to_staff(
    at_microsoft, fake_partner_center, worker, client, vera
):
    company_profile_update(company_id=at_microsoft.company_id, changes={"phone": "+3292345679"})
    worker()  # both sides agree on every field now
    fake_partner_center.billing_profile_change(
        at_microsoft.customer_id, {"defaultAddress.city": "Brugge", "email": "invoices@brightwave.example"}
    )
    company_profile_update(company_id=at_microsoft.company_id, changes={"city": "Antwerpen", "address_line1": "Meir 1"})
    worker()
    stored = fake_partner_center.billing_profile(at_microsoft.customer_id)
    assert stored["defaultAddress"]["city"] == "Brugge"  # not overwritten
    assert stored["email"] == "invoices@brightwave.example"  # changed only at Microsoft: kept
    assert stored["defaultAddress"]["addressLine1"] == "Meir 1"  # changed only in the portal: sent
    sync = _sync(at_microsoft)
    assert sync.status == "conflict"
    assert sync.conflicts == {"defaultAddress.city": {"portal": "Antwerpen", "microsoft": "Brugge", "synced": "Gent"}}
    assert sync.differences == {
        "email": {"portal": "carl@brightwave.example", "microsoft": "invoices@brightwave.example"}
    }

    client.force_login(vera)
    page = client.get(f"/backoffice/requests/{at_microsoft.request_id}/").content.decode()
    section = page[page.index("Microsoft billing profile") :]
    for text in ("Conflict", "City", "Antwerpen", "Brugge", "on both sides", "invoices@brightwave.example"):
        assert text in section
    listing = client.get("/backoffice/?stage=completed").content.decode()
    assert "Billing profile conflict" in listing

    worker()  # nothing new: the conflict stays, nothing is sent again
    assert len(fake_partner_center.api_requests("PUT", _path(at_microsoft))) == 2
    assert _sync(at_microsoft).status == "conflict"


def test_a_partner_center_refusal_leaves_the_sync_failed_and_staff_push_again(
    at_microsoft, fake_partner_center, worker, client, vera
):
    fake_partner_center.fail_next(
        _path(at_microsoft),
        400,
        body={"code": "2007", "description": "Address is invalid: postal code does not match the city", "data": []},
        method="PUT",
    )
    company_profile_update(company_id=at_microsoft.company_id, changes={"postal_code": "9050"})
    worker()
    sync = _sync(at_microsoft)
    assert sync.status == "failed" and "postal code does not match the city" in sync.last_error
    client.force_login(vera)
    page = client.get(f"/backoffice/requests/{at_microsoft.request_id}/")
    assert page.status_code == 200
    assert "postal code does not match the city" in page.content.decode()

    tess = User.objects.get(email="tess@brightwave.example")  # the company's first administrator
    assert Membership.objects.get(user=tess, company=at_microsoft.company).role == Membership.Role.ADMIN
    client.force_login(tess)  # a customer, even the company's administrator, cannot push
    assert client.post(f"/backoffice/requests/{at_microsoft.request_id}/billing-profile/push/").status_code == 404
    assert _sync_jobs() == 1
    client.force_login(vera)
    answer = client.post(f"/backoffice/requests/{at_microsoft.request_id}/billing-profile/push/")
    assert answer.status_code == 302
    worker()
    assert _sync(at_microsoft).status == "ok"
    assert fake_partner_center.billing_profile(at_microsoft.customer_id)["defaultAddress"]["postalCode"] == "9050"
    assert TenantRequest.objects.get(pk=at_microsoft.request_id).timeline.filter(actor=vera).exists()


def test_microsoft_unavailable_is_tried_again_after_a_back_off(
    at_microsoft, fake_partner_center, worker, settings, time_machine
):
    settings.PARTNER_CENTER_MAX_RETRIES = 0
    provisioner_reset()
    fake_partner_center.fail_next(_path(at_microsoft), 503, method="GET")
    company_profile_update(company_id=at_microsoft.company_id, changes={"address_line1": "Veldstraat 10"})
    worker()
    sync = _sync(at_microsoft)
    assert sync.status == "failed" and "Next try in 1 min" in sync.last_error
    worker()  # not due yet
    assert _sync(at_microsoft).status == "failed"
    time_machine.move_to(timezone.now() + timedelta(minutes=2), tick=False)
    worker()
    assert _sync(at_microsoft).status == "ok"
    assert fake_partner_center.billing_profile(at_microsoft.customer_id)["defaultAddress"]["addressLine1"] == (
        "Veldstraat 10"
    )


def test_a_company_without_a_tenant_at_microsoft_enqueues_nothing(submitted, worker, client, vera):
    company_profile_update(company_id=submitted.company_id, changes={"address_line1": "Veldstraat 10"})
    assert _sync_jobs() == 0
    client.force_login(vera)
    answer = client.post(f"/backoffice/requests/{submitted.pk}/billing-profile/push/", follow=True)
    assert answer.status_code == 200 and "no tenant at Microsoft yet" in answer.content.decode()
    assert client.post("/backoffice/requests/999999/billing-profile/push/").status_code == 302
    assert _sync_jobs() == 0


def test_the_simulated_provisioner_keeps_the_profile_in_the_database_by_the_same_rules(
    settings, smtp_server, worker, vera
):
    settings.PROVISIONER = "simulated"
    provisioner_reset()
    tenant = _provisioned(smtp_server, worker, vera)
    first = SimulatedBillingProfile.objects.get(customer_id=tenant.customer_id)
    company_profile_update(company_id=tenant.company_id, changes={"address_line1": "Veldstraat 10"})
    worker()
    stored = SimulatedBillingProfile.objects.get(customer_id=tenant.customer_id)
    assert stored.resource["defaultAddress"]["addressLine1"] == "Veldstraat 10"
    assert stored.etag != first.etag and _sync(tenant).etag == stored.etag and _sync(tenant).status == "ok"

    stale = get_provisioner().billing_profile_get(customer_id=tenant.customer_id)
    stored.resource["defaultAddress"]["city"] = "Brugge"  # changed "at Microsoft"
    stored.etag = "changed-in-partner-center"
    stored.save()
    with pytest.raises(PreconditionFailed):
        get_provisioner().billing_profile_update(
            customer_id=tenant.customer_id, profile=stale.resource, etag=stale.etag
        )

    company_profile_update(company_id=tenant.company_id, changes={"city": "Antwerpen"})
    worker()
    stored.refresh_from_db()
    assert stored.resource["defaultAddress"]["city"] == "Brugge"
    sync = _sync(tenant)
    assert sync.status == "conflict"
    assert sync.conflicts["defaultAddress.city"] == {"portal": "Antwerpen", "microsoft": "Brugge", "synced": "Gent"}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_read_a_conflict_at_390_px_and_push_again_by_keyboard(live_server, browser, settings):  # noqa: F811
    settings.STAFF_REQUIRE_MFA = False
    settings.SECURE_SSL_REDIRECT = False
    request = request_submit(data=request_data(legal_name=LONG_NAME, domain_prefix="brightwaveextraordinarily"))
    tenant = Tenant.objects.create(
        request=request,
        company=request.company,
        customer_id="c0ffee00-0000-4000-8000-000000000001",
        domain=request.domain,
    )
    BillingProfileSync.objects.create(
        tenant=tenant,
        status=BillingProfileSync.Status.CONFLICT,
        synced_at=timezone.now(),
        conflicts={
            "defaultAddress.addressLine1": {
                "portal": "Extraordinarily Long Street Name of the Company Headquarters 1234",
                "microsoft": "Another Extraordinarily Long Street Name Typed in Partner Center 99",
                "synced": "Korenmarkt 1",
            }
        },
    )
    vera = User.objects.create_user("vera@reseller.example", "Vera-validates-2026", is_staff=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    context.add_cookies([session_cookie(live_server, vera)])
    page = context.new_page()
    page.goto(f"{live_server.url}/backoffice/requests/{request.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.get_by_text("Another Extraordinarily Long Street Name").is_visible()

    page.get_by_text("Push again…").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Yes, push the billing profile"
    page.keyboard.press("Enter")
    expect(page.get_by_text("on its way to Microsoft")).to_be_visible()
    context.close()
    assert _sync_jobs() == 1


def test_a_new_billing_contact_reaches_microsoft_without_a_profile_change(at_microsoft, fake_partner_center, worker):
    contact_add(
        company_id=at_microsoft.company_id,
        fields={
            "first_name": "Bea",
            "last_name": "Billing",
            "email": "bea@brightwave.example",
            "phone": "+32478111222",
            "job_title": "",
            "kind": Contact.Kind.BILLING,
        },
    )
    worker()
    stored = fake_partner_center.billing_profile(at_microsoft.customer_id)
    assert (stored["firstName"], stored["lastName"], stored["email"]) == ("Bea", "Billing", "bea@brightwave.example")
    assert len(fake_partner_center.api_requests("PUT", _path(at_microsoft))) == 1
