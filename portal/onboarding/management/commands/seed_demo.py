"""Demo data: a staff user, a customer user, companies with requests in several stages, and the catalogue (read
once from the provisioner, which also sets its daily sync). Idempotent."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.accounts.models import User
from portal.catalog.models import Product
from portal.catalog.services import catalog_sync_and_schedule
from portal.companies.models import Membership
from portal.onboarding.forms import ContactData, RequestData
from portal.onboarding.models import TenantRequest
from portal.onboarding.services import request_ask_changes, request_reject, request_submit, request_validate

STAFF_EMAIL = "vera@reseller.example"
CUSTOMER_EMAIL = "tess@brightwave.example"


def _data(
    prefix: str, name: str, vat: str, city: str, postal: str, street: str, tech: tuple, comm: tuple
) -> RequestData:
    def contact(person: tuple) -> ContactData:
        first, last, title, phone = person
        return ContactData(first, last, f"{first.lower()}@{prefix}.example", phone, title)

    return RequestData(
        legal_name=name,
        vat_number=vat,
        registry_number=f"{vat[2:6]}.{vat[6:9]}.{vat[9:]}",
        address_line1=street,
        address_line2="",
        postal_code=postal,
        city=city,
        country="BE",
        phone="+3222222222",
        website=f"https://{prefix}.example",
        domain_prefix=prefix,
        display_name=name.split()[0],
        tenant_country="BE",
        technical=contact(tech),
        commercial=contact(comm),
    )


DEMO = [
    (
        _data(
            "brightwave",
            "Brightwave Analytics BV",
            "BE0403170701",
            "Gent",
            "9000",
            "Korenmarkt 1",
            ("Tess", "Tech", "IT manager", "+32478123456"),
            ("Carl", "Commerce", "CEO", "+32478654321"),
        ),
        None,
    ),
    (
        _data(
            "dunecargo",
            "Dune Cargo NV",
            "BE0202239951",
            "Antwerpen",
            "2000",
            "Meir 12",
            ("Theo", "Verstraete", "System engineer", "+32470111222"),
            ("Cora", "Peeters", "CFO", "+32470333444"),
        ),
        "validate",
    ),
    (
        _data(
            "lumenlegal",
            "Lumen Legal SRL",
            "BE0417497106",
            "Bruxelles",
            "1000",
            "Rue Neuve 5",
            ("Lina", "Dubois", "Office manager", "+32471222333"),
            ("Lina", "Dubois", "Office manager", "+32471222333"),
        ),
        "changes",
    ),
    (
        _data(
            "quillbakery",
            "Quill Bakery BV",
            "BE0878065378",
            "Leuven",
            "3000",
            "Bondgenotenlaan 20",
            ("Quinn", "Maes", "Owner", "+32472444555"),
            ("Quinn", "Maes", "Owner", "+32472444555"),
        ),
        "reject",
    ),
]


class Command(BaseCommand):
    help = "Load demo data (safe to run again: what exists is kept)."

    def handle(self, *args, **options):
        created = []
        with transaction.atomic():
            staff = User.objects.filter(email=STAFF_EMAIL).first()
            if staff is None:
                password = secrets.token_urlsafe(12)
                staff = User.objects.create_superuser(STAFF_EMAIL, password, first_name="Vera", last_name="Validator")
                created.append(("staff (back-office and admin)", STAFF_EMAIL, password))
            for data, action in DEMO:
                if TenantRequest.objects.filter(domain_prefix=data.domain_prefix).exists():
                    continue
                request = request_submit(data=data)
                if action == "validate":
                    request_validate(request_id=request.pk, by=staff)
                elif action == "changes":
                    request_ask_changes(
                        request_id=request.pk,
                        by=staff,
                        message="Please give the full registered address, with the building number.",
                    )
                elif action == "reject":
                    request_reject(request_id=request.pk, by=staff, reason="The VAT number belongs to another company.")
            if not User.objects.filter(email=CUSTOMER_EMAIL).exists():
                password = secrets.token_urlsafe(12)
                customer = User.objects.create_user(CUSTOMER_EMAIL, password, first_name="Tess", last_name="Tech")
                company = TenantRequest.objects.get(domain_prefix="brightwave").company
                Membership.objects.create(user=customer, company=company, role=Membership.Role.ADMIN)
                company.contacts.filter(email="tess@brightwave.example").update(user=customer)
                created.append(("customer (Brightwave's technical contact)", CUSTOMER_EMAIL, password))
        if not Product.objects.exists():
            run = catalog_sync_and_schedule(country=settings.CATALOG_COUNTRY)
            self.stdout.write(f"Catalogue of {run.country}: {run.products} product(s) ({run.get_status_display()}).")
        if created:
            self.stdout.write(self.style.SUCCESS("Demo accounts (shown only this once, keep them):"))
            for role, email, password in created:
                self.stdout.write(f"  {role}: {email} / {password}")
        else:
            self.stdout.write("Demo data already loaded (the passwords were shown when it was first created).")
