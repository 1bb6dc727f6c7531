import django.core.validators
from django.db import migrations, models

import tenants.validators


def flag_existing_sandbox_tenants(apps, schema_editor):
    # Tenants `sandbox company` wired before the flag existed: a sandbox engine and the stand-ins' URLs.
    Tenant = apps.get_model("tenants", "Tenant")
    Tenant.objects.filter(
        sage_db_engine__in=("sqlite", "postgresql"), portal_url__contains="/sandbox/portal",
        webapi_url__contains="/sandbox/sage",
    ).update(sandbox=True)


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0006_sage_tax_authorities'),
    ]

    operations = [
        # Existing tenants keep pyodbc, what they connected with so far; new ones get mssql-python.
        migrations.AddField(
            model_name="tenant",
            name="sage_db_python_driver",
            field=models.CharField(choices=[("mssql_python", "Microsoft mssql-python (ODBC Driver 18 built in)"), ("pyodbc", "pyodbc with an installed ODBC driver (ODBC Driver 17/18, FreeTDS)")], default="pyodbc", help_text="mssql-python needs no ODBC driver installed; pyodbc uses the ODBC driver named below.", max_length=12, verbose_name="SQL Server driver"),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="sage_db_python_driver",
            field=models.CharField(choices=[("mssql_python", "Microsoft mssql-python (ODBC Driver 18 built in)"), ("pyodbc", "pyodbc with an installed ODBC driver (ODBC Driver 17/18, FreeTDS)")], default="mssql_python", help_text="mssql-python needs no ODBC driver installed; pyodbc uses the ODBC driver named below.", max_length=12, verbose_name="SQL Server driver"),
        ),
        migrations.AddField(
            model_name="tenant",
            name="sandbox",
            field=models.BooleanField(default=False, editable=False, help_text="Made by `manage.py sandbox company`: its Sage and portal are the stand-ins under /sandbox/."),
        ),
        migrations.RunPython(flag_existing_sandbox_tenants, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tenant",
            name="portal_url",
            field=models.URLField(default="https://api.portaldeproveedores.mx", validators=[django.core.validators.URLValidator(code="invalid_scheme", message="Enter an http:// or https:// address; no other scheme is accepted.", schemes=["http", "https"])], verbose_name="portal base URL"),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="sage_db_driver",
            field=models.CharField(blank=True, default="ODBC Driver 18 for SQL Server", help_text="With pyodbc: the name `odbcinst -q -d` lists, e.g. 'ODBC Driver 18 for SQL Server' or 'FreeTDS'.", max_length=128, verbose_name="ODBC driver"),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="time_zone",
            field=models.CharField(default="America/Mexico_City", max_length=64, validators=[tenants.validators.validate_time_zone]),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="webapi_url",
            field=models.URLField(blank=True, help_text="Up to and without /Sage300WebApi, e.g. https://sage.example.com", validators=[django.core.validators.URLValidator(code="invalid_scheme", message="Enter an http:// or https:// address; no other scheme is accepted.", schemes=["http", "https"])], verbose_name="Web API base URL"),
        ),
    ]
