# PO create and PO update became one step, po_upsert (one exporter: the portal's batch
# endpoint is an upsert). A tenant keeps sending POs when it sent new ones before.

from django.db import migrations, models


def carry_over(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    Tenant.objects.filter(step_po_create=False).update(step_po_upsert=False)


def carry_back(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    Tenant.objects.filter(step_po_upsert=False).update(step_po_create=False, step_po_update=False)


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0008_labels_and_validators'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='step_po_upsert',
            field=models.BooleanField(default=True, verbose_name='PO create and update'),
        ),
        migrations.RunPython(carry_over, carry_back),
        migrations.RemoveField(
            model_name='tenant',
            name='step_po_create',
        ),
        migrations.RemoveField(
            model_name='tenant',
            name='step_po_update',
        ),
    ]
