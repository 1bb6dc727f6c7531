from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.forms import TenantAdminForm, clear_field_name
from tenants.models import STEP_NAMES, Tenant
from tenants.multivalue import LocationCodesField, PoTypesField

# Site rules stored as JSON lists, edited as check boxes and a list of codes.
MULTI_VALUE_FIELDS = {"po_types": PoTypesField, "skip_location_codes": LocationCodesField}


def _secret(name: str) -> tuple[str, str]:
    return (name, clear_field_name(name))


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantAdminForm
    list_display = ("code", "name", "rfc", "active", "paused", "sage_db_engine", "sync_every_minutes")
    list_filter = ("active", "paused", "sage_db_engine")
    search_fields = ("code", "name", "rfc", "portal_tenant_id", "sage_db_name")
    readonly_fields = ("created", "updated")
    fieldsets = (
        (_("General"), {"fields": ("code", "name", "rfc", "active", "time_zone", "notice_emails",
                                   "created", "updated")}),
        (_("Sage database"), {"fields": (
            "sage_db_engine", ("sage_db_host", "sage_db_port"), "sage_db_name", "sage_db_user",
            _secret("sage_db_password"), "sage_db_driver", "sage_db_extra_params",
        )}),
        (_("Sage 300 Web API"), {"fields": ("webapi_url", "webapi_company", "webapi_user",
                                            _secret("webapi_password"))}),
        (_("Portal"), {"fields": ("portal_url", "portal_tenant_id", _secret("portal_key"),
                                  _secret("portal_secret"))}),
        (_("Site rules"), {"fields": (
            "vendor_rfc_source", "vendor_rfc_optfield", "folio_optfield", "payment_stamp_date_optfield",
            "provider_id_optfield", "po_types", "po_min_date", ("po_required_optfield", "po_required_value"),
            "skip_location_codes", "ship_to_street", ("ship_to_city", "ship_to_state"),
            ("ship_to_zip", "ship_to_country"), ("vendor_number_prefix", "vendor_group_code"),
            "invoice_distribution_code", "invoice_batch_max", "sage_tax_authorities",
            "addenda_required", "cfdi_sweep_days",
        )}),
        (_("SAT CFDI status"), {"fields": ("sat_status_url", "sat_unreachable", "sat_wait_hours")}),
        (_("Steps"), {"fields": tuple(f"step_{name}" for name in STEP_NAMES)}),
        (_("Schedule"), {"fields": ("paused", "sync_every_minutes", "start_date")}),
    )
    actions = ["test_connections"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field_class = MULTI_VALUE_FIELDS.get(db_field.name)
        if field_class is not None:
            return field_class(label=capfirst(db_field.verbose_name))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_urls(self):
        own = [path("<path:object_id>/test-connections/", self.admin_site.admin_view(self.test_connections_view),
                    name="tenants_tenant_test_connections")]
        return own + super().get_urls()

    def test_connections_view(self, request, object_id: str):
        """The change page's "Test connections" button: the same check as the list's action, superusers only."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.is_superuser:
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=object_id)
        for line, ok in connection_report(tenant):
            self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    # Only SageConnect admins manage tenants; staff see the staff pages, not this.
    def has_view_permission(self, request, obj=None) -> bool:
        return is_admin(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_admin(request.user)

    def has_add_permission(self, request) -> bool:
        return is_admin(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_admin(request.user)

    def has_module_permission(self, request) -> bool:
        return is_admin(request.user)

    def changelist_view(self, request, extra_context=None):
        # The groups people are put in exist once an admin has been here.
        ensure_access_groups()
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Test connections (Sage database, Web API, portal)"))
    def test_connections(self, request, queryset) -> None:
        for tenant in queryset:
            for line, ok in connection_report(tenant):
                self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)


def connection_report(tenant: Tenant) -> list[tuple[str, bool]]:
    """One line per outside system of the tenant: whether it answers, and if not why."""
    return [check_sage_database(tenant), check_webapi(tenant), check_portal(tenant)]


def check_sage_database(tenant: Tenant) -> tuple[str, bool]:
    from django.db import connections

    from tenants.sage_db import SageDatabaseUnavailable, sage_alias

    try:
        alias = sage_alias(tenant)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except SageDatabaseUnavailable as unavailable:
        return gettext("%(code)s — Sage database: %(why)s") % {"code": tenant.code, "why": unavailable}, False
    except Exception as exc:  # one bad tenant must not hide the others' lines
        return (gettext("%(code)s — Sage database: %(why)s")
                % {"code": tenant.code, "why": tenant.redact(str(exc) or exc.__class__.__name__)}), False
    return gettext("%(code)s — Sage database: connected.") % {"code": tenant.code}, True


def check_webapi(tenant: Tenant) -> tuple[str, bool]:
    from sync.sage.webapi import SageWebApi, WebApiError

    try:
        client = SageWebApi(tenant, retries=0, timeout=(5.0, 15.0))
        try:
            # The cheapest authenticated read: one vendor number.
            client.query("AP/APVendors", top=1, select=["VendorNumber"])
        finally:
            client.close()
    except WebApiError as error:
        return gettext("%(code)s — Sage Web API: %(why)s") % {
            "code": tenant.code, "why": tenant.redact(error.message)}, False
    except Exception as exc:
        return gettext("%(code)s — Sage Web API: %(why)s") % {
            "code": tenant.code, "why": tenant.redact(str(exc) or exc.__class__.__name__)}, False
    return gettext("%(code)s — Sage Web API: answered and accepted the credentials.") % {"code": tenant.code}, True


def check_portal(tenant: Tenant) -> tuple[str, bool]:
    from sync.portal.client import PortalClient, RetryPolicy
    from sync.portal.errors import PortalError

    try:
        # A person is waiting on the page: one try, short timeouts.
        with PortalClient(tenant, connect_timeout=5.0, read_timeout=15.0,
                          retry=RetryPolicy(max_attempts=1)) as client:
            result = client.check()
    except PortalError as error:
        return gettext("%(code)s — portal: %(why)s") % {"code": tenant.code, "why": tenant.redact(str(error))}, False
    if result.credentials_accepted:
        return gettext("%(code)s — portal: answered and accepted the credentials.") % {"code": tenant.code}, True
    return gettext("%(code)s — portal: %(why)s") % {"code": tenant.code, "why": tenant.redact(result.detail)}, False



def is_admin(user) -> bool:
    from sync.dashboard import is_admin as admin_rule

    return admin_rule(user)


def ensure_access_groups() -> None:
    from sync.dashboard import ensure_access_groups as ensure

    ensure()
