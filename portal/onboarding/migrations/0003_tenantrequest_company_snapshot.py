from django.db import migrations, models

DETAILS = (
    "legal_name", "vat_number", "registry_number", "address_line1", "address_line2",
    "postal_code", "city", "country", "phone", "website",
)


def snapshot_existing(apps, schema_editor):
    """Requests stored before snapshots take their company as it stands now: the best record there is."""
    TenantRequest = apps.get_model("onboarding", "TenantRequest")
    for request in TenantRequest.objects.select_related("company").iterator(chunk_size=500):
        request.company_snapshot = {field: getattr(request.company, field) for field in DETAILS}
        request.save(update_fields=["company_snapshot"])


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0002_timeline_keyed_anchor"),
        ("companies", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenantrequest",
            name="company_snapshot",
            field=models.JSONField(
                default=dict,
                help_text="The company as this request states it (submitted, corrected, then validated). The agreement "
                "and provisioning use it; the shared company record takes it only when staff validate.",
            ),
        ),
        migrations.RunPython(snapshot_existing, migrations.RunPython.noop),
    ]
