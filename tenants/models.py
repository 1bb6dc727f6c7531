from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.fields import EncryptedTextField
from tenants.validators import normalize_rfc, validate_rfc, validate_time_zone, validate_web_url

SECRET_FIELDS = ("sage_db_password", "webapi_password", "portal_key", "portal_secret")

STEP_NAMES = (
    "providers",
    "cfdi_download",
    "cfdi_import",
    "payment_check",
    "payment_upload",
    "po_create",
    "po_update",
    "po_close",
    "po_cancel",
    "payment_complement",
)


class SageEngine(models.TextChoices):
    MSSQL = "mssql", "SQL Server (production)"
    SQLITE = "sqlite", "SQLite (sandbox)"
    POSTGRESQL = "postgresql", "PostgreSQL (sandbox)"


class SqlServerDriver(models.TextChoices):
    # mssql-django 2.0 picks the Python driver per alias with OPTIONS["python_driver"]
    # (its base.py, _uses_mssql_python); mssql-python ships ODBC Driver 18 inside its wheel.
    MSSQL_PYTHON = "mssql_python", _("Microsoft mssql-python (ODBC Driver 18 built in)")
    PYODBC = "pyodbc", _("pyodbc with an installed ODBC driver (ODBC Driver 17/18, FreeTDS)")


class VendorRfcSource(models.TextChoices):
    IDTAXREGI1 = "IDTAXREGI1", "APVEN.IDTAXREGI1"
    IDTAXREGI2 = "IDTAXREGI2", "APVEN.IDTAXREGI2"
    IDTAXREGI3 = "IDTAXREGI3", "APVEN.IDTAXREGI3"
    IDTAXREGI4 = "IDTAXREGI4", "APVEN.IDTAXREGI4"
    IDTAXREGI5 = "IDTAXREGI5", "APVEN.IDTAXREGI5"
    BRN = "BRN", "APVEN.BRN"
    OPTFIELD = "OPTFIELD", _("an APVENO optional field")


class Tenant(models.Model):
    """A company kept in step: its Sage 300 company, Web API and portal tenant."""

    code = models.SlugField(
        max_length=20,
        unique=True,
        help_text=_("Short name used in commands and URLs, e.g. 'samltd'."),
    )
    name = models.CharField(max_length=120)
    rfc = models.CharField("RFC", max_length=13, validators=[validate_rfc])
    active = models.BooleanField(default=True)
    paused = models.BooleanField(
        default=False, help_text=_("A paused tenant keeps its settings but its scheduled cycles do not run.")
    )
    sync_every_minutes = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    start_date = models.DateField(
        null=True, blank=True, help_text=_("Nothing older than this is read from Sage (payments, POs).")
    )
    time_zone = models.CharField(max_length=64, default="America/Mexico_City", validators=[validate_time_zone])
    sandbox = models.BooleanField(
        default=False, editable=False,
        help_text=_("Made by `manage.py sandbox company`: its Sage and portal are the stand-ins under /sandbox/."),
    )
    notice_emails = models.TextField(
        blank=True, help_text=_("Who hears about failed steps: one address per line.")
    )

    # Sage company database
    sage_db_engine = models.CharField(max_length=12, choices=SageEngine.choices, default=SageEngine.MSSQL)
    sage_db_host = models.CharField(max_length=255, blank=True)
    sage_db_port = models.PositiveIntegerField(null=True, blank=True)
    sage_db_name = models.CharField(
        max_length=255, help_text=_("Database name (SQL Server, PostgreSQL) or file path (SQLite).")
    )
    sage_db_user = models.CharField(max_length=128, blank=True)
    sage_db_password = EncryptedTextField(blank=True)
    sage_db_python_driver = models.CharField(
        _("SQL Server driver"), max_length=12, choices=SqlServerDriver.choices, default=SqlServerDriver.MSSQL_PYTHON,
        help_text=_("mssql-python needs no ODBC driver installed; pyodbc uses the ODBC driver named below."),
    )
    sage_db_driver = models.CharField(
        "ODBC driver", max_length=128, default="ODBC Driver 18 for SQL Server", blank=True,
        help_text=_("With pyodbc: the name `odbcinst -q -d` lists, e.g. 'ODBC Driver 18 for SQL Server' or 'FreeTDS'."),
    )
    sage_db_extra_params = models.CharField(
        "extra ODBC parameters",
        max_length=255,
        blank=True,
        help_text=_("Appended to the ODBC connection string, e.g. 'TrustServerCertificate=yes'."),
    )

    # Sage 300 Web API
    webapi_url = models.URLField(
        "Web API base URL",
        blank=True,
        validators=[validate_web_url],
        help_text=_("Up to and without /Sage300WebApi, e.g. https://sage.example.com"),
    )
    webapi_company = models.CharField(
        "Web API company",
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", _("Letters and digits only, e.g. SAMLTD."))],
    )
    webapi_user = models.CharField("Web API user", max_length=64, blank=True)
    webapi_password = EncryptedTextField("Web API password", blank=True)

    # Focaltec portal
    portal_url = models.URLField(
        "portal base URL", default="https://api.portaldeproveedores.mx", validators=[validate_web_url]
    )
    portal_tenant_id = models.CharField("portal tenant id", max_length=64)
    portal_key = EncryptedTextField("portal key (PDPTenantKey)", blank=True)
    portal_secret = EncryptedTextField("portal secret (PDPTenantSecret)", blank=True)

    # Site rules (EXTERNAL.md "(site)")
    vendor_rfc_source = models.CharField(
        max_length=12, choices=VendorRfcSource.choices, default=VendorRfcSource.IDTAXREGI1
    )
    vendor_rfc_optfield = models.CharField(
        max_length=12, blank=True, help_text=_("The APVENO optional field that holds the RFC, when the source is one.")
    )
    folio_optfield = models.CharField(
        "CFDI UUID optional field", max_length=12, default="FOLIOCFD",
        help_text=_("APIBHO / APTCRO optional field holding the CFDI UUID."),
    )
    payment_stamp_date_optfield = models.CharField(max_length=12, default="FECHACFD")
    provider_id_optfield = models.CharField(max_length=12, default="PROVIDERID")
    po_types = models.JSONField(
        default=list, blank=True, help_text=_("PORTYPE values eligible for the portal, e.g. [1]; empty = all.")
    )
    po_min_date = models.DateField(
        null=True, blank=True, help_text=_("POs dated before this are not sent to the portal.")
    )
    po_required_optfield = models.CharField(
        max_length=12, blank=True, help_text=_("POPORHO optional field a PO must carry to be eligible, e.g. AUTORIZADA.")
    )
    po_required_value = models.CharField(max_length=60, blank=True)
    skip_location_codes = models.JSONField(
        default=list, blank=True, help_text=_("Location codes whose PO lines are not sent, e.g. [\"GRAL\"].")
    )
    ship_to_street = models.CharField(max_length=120, blank=True)
    ship_to_city = models.CharField(max_length=60, blank=True)
    ship_to_state = models.CharField(max_length=60, blank=True)
    ship_to_zip = models.CharField(max_length=10, blank=True)
    ship_to_country = models.CharField(max_length=3, default="MEX", blank=True)
    vendor_number_prefix = models.CharField(
        max_length=6, default="PP", help_text=_("Prefix of the VENDORIDs SageConnect creates for new providers.")
    )
    vendor_group_code = models.CharField(
        max_length=6, blank=True, help_text=_("APVEN IDGRP for vendors SageConnect creates (Sage 300 requires one).")
    )
    invoice_distribution_code = models.CharField(max_length=6, blank=True, default="")
    invoice_batch_max = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(1)], help_text=_("Most invoices in one AP batch.")
    )
    addenda_required = models.BooleanField(
        default=False, help_text=_("Add the AddendaEmisor (PO, provider, bank) to a copy of each CFDI.")
    )

    # Steps
    step_providers = models.BooleanField(_("providers"), default=True)
    step_cfdi_download = models.BooleanField(_("CFDI download"), default=True)
    step_cfdi_import = models.BooleanField(_("CFDI import"), default=True)
    step_payment_check = models.BooleanField(_("payment check"), default=True)
    step_payment_upload = models.BooleanField(_("payment upload"), default=True)
    step_po_create = models.BooleanField(_("PO create"), default=True)
    step_po_update = models.BooleanField(_("PO update"), default=True)
    step_po_close = models.BooleanField(_("PO close"), default=True)
    step_po_cancel = models.BooleanField(_("PO cancel"), default=True)
    step_payment_complement = models.BooleanField(_("payment complement"), default=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def clean(self) -> None:
        self.rfc = normalize_rfc(self.rfc)
        if self.webapi_company:
            self.webapi_company = self.webapi_company.upper()
        if self.sage_db_engine == SageEngine.SQLITE and not self.sandbox:
            # A SQLite "database" is a file path on this server: only the sandbox may name one.
            raise ValidationError({"sage_db_engine": _(
                "SQLite is only for sandbox tenants (made by `manage.py sandbox company`); "
                "a company's Sage database is SQL Server.")})

    def save(self, *args, **kwargs) -> None:
        self.rfc = normalize_rfc(self.rfc)
        super().save(*args, **kwargs)

    def step_enabled(self, step: str) -> bool:
        return bool(getattr(self, f"step_{step}"))

    def redact(self, text: str) -> str:
        """Blank out this tenant's own secrets, wherever a message picked them up."""
        for name in SECRET_FIELDS:
            secret = getattr(self, name, "") or ""
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    @property
    def notice_addresses(self) -> list[str]:
        return [line.strip() for line in self.notice_emails.splitlines() if line.strip()]
