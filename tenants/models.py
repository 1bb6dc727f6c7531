from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.fields import EncryptedTextField
from tenants.validators import (
    normalize_rfc,
    validate_rfc,
    validate_tax_authorities,
    validate_time_zone,
    validate_web_url,
)

SECRET_FIELDS = ("sage_db_password", "webapi_password", "portal_key", "portal_secret")

STEP_NAMES = (
    "providers",
    "cfdi_download",
    "cfdi_import",
    "payment_check",
    "payment_upload",
    "po_upsert",
    "po_close",
    "po_cancel",
    "payment_complement",
)


def default_tax_authorities() -> dict[str, int]:
    """IVA, IVA withheld and ISR withheld as the vendors' tax group's authorities 1, 2 and 3."""
    return {"T002": 1, "R002": 2, "R001": 3}


class SageEngine(models.TextChoices):
    MSSQL = "mssql", _("SQL Server (production)")
    SQLITE = "sqlite", _("SQLite (sandbox)")
    POSTGRESQL = "postgresql", _("PostgreSQL (sandbox)")


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


# SAT's public CFDI status service ("Servicio de Consulta de CFDI"). Source: the
# WSDL's soap:address (a copy in eclipxe13/CfdiUtils,
# src/CfdiUtils/ConsultaCfdiSat/ConsultaCFDIServiceSAT.svc.xml) and satcfdi
# 26.10.1, satcfdi/pacs/sat.py SAT.status().
SAT_STATUS_SERVICE_URL = "https://consultaqr.facturaelectronica.sat.gob.mx/ConsultaCFDIService.svc"


class SatUnreachable(models.TextChoices):
    WAIT = "wait", _("wait: hold the CFDI until SAT answers (at most the hours below)")
    IMPORT = "import", _("import it, and check it with SAT again later")


class Tenant(models.Model):
    """A company kept in step: its Sage 300 company, Web API and portal tenant."""

    code = models.SlugField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Short name used in commands and URLs, e.g. 'samltd'."),
    )
    name = models.CharField(_("name"), max_length=120)
    rfc = models.CharField(_("RFC"), max_length=13, validators=[validate_rfc])
    active = models.BooleanField(_("active"), default=True)
    paused = models.BooleanField(
        _("paused"),
        default=False, help_text=_("A paused tenant keeps its settings but its scheduled cycles do not run.")
    )
    sync_every_minutes = models.PositiveIntegerField(
        _("every how many minutes"), default=10, validators=[MinValueValidator(1)],
    )
    start_date = models.DateField(
        _("start date"),
        null=True, blank=True, help_text=_("Nothing older than this is read from Sage (payments, POs).")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/Mexico_City",
                                 validators=[validate_time_zone])
    sandbox = models.BooleanField(
        _("sandbox"), default=False, editable=False,
        help_text=_("Made by `manage.py sandbox company`: its Sage and portal are the stand-ins under /sandbox/."),
    )
    notice_emails = models.TextField(
        _("notice e-mails"),
        blank=True, help_text=_("Who hears about failed steps: one address per line.")
    )

    # Sage company database
    sage_db_engine = models.CharField(
        _("Sage database engine"), max_length=12, choices=SageEngine.choices, default=SageEngine.MSSQL,
    )
    sage_db_host = models.CharField(_("Sage database host"), max_length=255, blank=True)
    sage_db_port = models.PositiveIntegerField(_("Sage database port"), null=True, blank=True)
    sage_db_name = models.CharField(
        _("Sage database name"),
        max_length=255, help_text=_("Database name (SQL Server, PostgreSQL) or file path (SQLite).")
    )
    sage_db_user = models.CharField(_("Sage database user"), max_length=128, blank=True)
    sage_db_password = EncryptedTextField(_("Sage database password"), blank=True)
    sage_db_python_driver = models.CharField(
        _("SQL Server driver"), max_length=12, choices=SqlServerDriver.choices, default=SqlServerDriver.MSSQL_PYTHON,
        help_text=_("mssql-python needs no ODBC driver installed; pyodbc uses the ODBC driver named below."),
    )
    sage_db_driver = models.CharField(
        _("ODBC driver"), max_length=128, default="ODBC Driver 18 for SQL Server", blank=True,
        help_text=_("With pyodbc: the name `odbcinst -q -d` lists, e.g. 'ODBC Driver 18 for SQL Server' or 'FreeTDS'."),
    )
    sage_db_extra_params = models.CharField(
        _("extra ODBC parameters"),
        max_length=255,
        blank=True,
        help_text=_("Appended to the ODBC connection string, e.g. 'TrustServerCertificate=yes'."),
    )

    # Sage 300 Web API
    webapi_url = models.URLField(
        _("Web API base URL"),
        blank=True,
        validators=[validate_web_url],
        help_text=_("Up to and without /Sage300WebApi, e.g. https://sage.example.com"),
    )
    webapi_company = models.CharField(
        _("Web API company"),
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", _("Letters and digits only, e.g. SAMLTD."))],
    )
    webapi_user = models.CharField(_("Web API user"), max_length=64, blank=True)
    webapi_password = EncryptedTextField(_("Web API password"), blank=True)

    # Focaltec portal
    portal_url = models.URLField(
        _("portal base URL"), default="https://api.portaldeproveedores.mx", validators=[validate_web_url]
    )
    portal_tenant_id = models.CharField(_("portal tenant id"), max_length=64)
    portal_key = EncryptedTextField(_("portal key (PDPTenantKey)"), blank=True)
    portal_secret = EncryptedTextField(_("portal secret (PDPTenantSecret)"), blank=True)

    # Site rules (EXTERNAL.md "(site)")
    vendor_rfc_source = models.CharField(
        _("where Sage keeps the vendor's RFC"),
        max_length=12, choices=VendorRfcSource.choices, default=VendorRfcSource.IDTAXREGI1
    )
    vendor_rfc_optfield = models.CharField(
        _("RFC optional field"),
        max_length=12, blank=True, help_text=_("The APVENO optional field that holds the RFC, when the source is one.")
    )
    folio_optfield = models.CharField(
        _("CFDI UUID optional field"),
        max_length=12, default="FOLIOCFD",
        help_text=_("APIBHO / APTCRO optional field holding the CFDI UUID."),
    )
    payment_stamp_date_optfield = models.CharField(
        _("payment stamp date optional field"), max_length=12, default="FECHACFD",
    )
    provider_id_optfield = models.CharField(_("portal provider id optional field"), max_length=12, default="PROVIDERID")
    po_types = models.JSONField(
        _("PO types"),
        default=list, blank=True, help_text=_("PORTYPE values eligible for the portal, e.g. [1]; empty = all.")
    )
    po_min_date = models.DateField(
        _("oldest PO date"),
        null=True, blank=True, help_text=_("POs dated before this are not sent to the portal.")
    )
    po_required_optfield = models.CharField(
        _("required PO optional field"),
        max_length=12, blank=True,
        help_text=_("POPORHO optional field a PO must carry to be eligible, e.g. AUTORIZADA."),
    )
    po_required_value = models.CharField(_("required value"), max_length=60, blank=True)
    skip_location_codes = models.JSONField(
        _("skipped location codes"),
        default=list, blank=True, help_text=_("Location codes whose PO lines are not sent, e.g. [\"GRAL\"].")
    )
    ship_to_street = models.CharField(_("ship-to street"), max_length=120, blank=True)
    ship_to_city = models.CharField(_("ship-to city"), max_length=60, blank=True)
    ship_to_state = models.CharField(_("ship-to state"), max_length=60, blank=True)
    ship_to_zip = models.CharField(_("ship-to postal code"), max_length=10, blank=True)
    ship_to_country = models.CharField(_("ship-to country"), max_length=3, default="MEX", blank=True)
    vendor_number_prefix = models.CharField(
        _("vendor number prefix"),
        max_length=6, default="PP", help_text=_("Prefix of the VENDORIDs SageConnect creates for new providers.")
    )
    vendor_group_code = models.CharField(
        _("vendor group code"),
        max_length=6, blank=True, help_text=_("APVEN IDGRP for vendors SageConnect creates (Sage 300 requires one).")
    )
    invoice_distribution_code = models.CharField(_("invoice distribution code"), max_length=6, blank=True, default="")
    invoice_batch_max = models.PositiveIntegerField(
        _("most invoices per batch"),
        default=50, validators=[MinValueValidator(1)], help_text=_("Most invoices in one AP batch.")
    )
    sage_tax_authorities = models.JSONField(
        _("Sage tax authorities"), default=default_tax_authorities, blank=True,
        validators=[validate_tax_authorities],
        help_text=_("Which authority (1–5) of the vendors' Sage tax group takes each CFDI tax, by kind and SAT code: "
                    "T002 IVA transferred, R002 IVA withheld, R001 ISR withheld, T003 IEPS, TLOCAL/RLOCAL local "
                    "taxes. Imported invoices carry the CFDI's own tax amounts."),
    )
    addenda_required = models.BooleanField(
        _("add the addenda"),
        default=False, help_text=_("Add the AddendaEmisor (PO, provider, bank) to a copy of each CFDI.")
    )
    cfdi_sweep_days = models.PositiveIntegerField(
        "CFDI sweep days", default=90, validators=[MinValueValidator(1)],
        help_text=_("Once a day the CFDI download also lists every CFDI issued in this many past days, "
                    "catching what the new-arrivals window missed and refreshing portal statuses."),
    )

    # SAT's CFDI status, checked before an invoice is imported (sync.sat)
    sat_status_url = models.URLField(
        _("SAT status service URL"), default=SAT_STATUS_SERVICE_URL, validators=[validate_web_url],
        help_text=_("SAT's CFDI status service (ConsultaCFDIService.svc); the sandbox points it at its stand-in."),
    )
    sat_unreachable = models.CharField(
        _("when SAT does not answer"), max_length=10, choices=SatUnreachable.choices, default=SatUnreachable.WAIT,
    )
    sat_wait_hours = models.PositiveIntegerField(
        _("hours to wait for SAT"), default=24, validators=[MinValueValidator(1)],
        help_text=_("With 'wait': once SAT has not answered about a CFDI for this many hours, the CFDI is imported "
                    "and checked with SAT again later, so an unreachable SAT never blocks imports for good."),
    )

    # Steps
    step_providers = models.BooleanField(_("providers"), default=True)
    step_cfdi_download = models.BooleanField(_("CFDI download"), default=True)
    step_cfdi_import = models.BooleanField(_("CFDI import"), default=True)
    step_payment_check = models.BooleanField(_("payment check"), default=True)
    step_payment_upload = models.BooleanField(_("payment upload"), default=True)
    step_po_upsert = models.BooleanField(_("PO create and update"), default=True)
    step_po_close = models.BooleanField(_("PO close"), default=True)
    step_po_cancel = models.BooleanField(_("PO cancel"), default=True)
    step_payment_complement = models.BooleanField(_("payment complement"), default=True)

    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
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


def field_label(name: str) -> str:
    """A Tenant field's verbose name, in the active language."""
    field = Tenant._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))
