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
    list_display = ("code", "name", "rfc", "active", "paused", "sandbox", "sage_db_engine", "sync_every_minutes")
    list_filter = ("active", "paused", "sandbox", "sage_db_engine")
    search_fields = ("code", "name", "rfc", "portal_tenant_id", "sage_db_name")
    readonly_fields = ("sandbox", "created", "updated")
    fieldsets = (
        (_("General"), {"fields": ("code", "name", "rfc", "active", "sandbox", "time_zone", "notice_emails",
                                   "created", "updated")}),
        (_("Sage database"), {"fields": (
            "sage_db_engine", ("sage_db_host", "sage_db_port"), "sage_db_name", "sage_db_user",
            _secret("sage_db_password"), "sage_db_python_driver", "sage_db_driver", "sage_db_extra_params",
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

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            # It makes this server connect wherever a tenant points: superusers only.
            actions.pop("test_connections", None)
        return actions

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        cleared = getattr(form, "secrets_cleared", [])
        if cleared:
            names = ", ".join(str(Tenant._meta.get_field(name).verbose_name) for name in cleared)
            self.message_user(request, gettext(
                "Where %(names)s are sent changed, so the stored values were cleared: enter them for the new "
                "server.") % {"names": names}, messages.WARNING)

    @admin.action(description=_("Test connections (Sage database, Web API, portal)"))
    def test_connections(self, request, queryset) -> None:
        if not request.user.is_superuser:
            self.message_user(request, gettext("Only superusers may test connections."), messages.ERROR)
            return
        for tenant in queryset:
            for line, ok in connection_report(tenant):
                self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)


def connection_report(tenant: Tenant) -> list[tuple[str, bool]]:
    """One line per outside system of the tenant: whether it answers, and if not why.

    The lines are our own words about what happened (a status, a kind of
    failure), never text the remote server sent: a tenant's URL may point
    anywhere, and this page must not become a way to read what answers there.
    """
    return [check_sage_database(tenant), check_webapi(tenant), check_portal(tenant)]


def _line(tenant: Tenant, system: str, why: str) -> str:
    return gettext("%(code)s — %(system)s: %(why)s") % {"code": tenant.code, "system": system, "why": why}


def check_sage_database(tenant: Tenant) -> tuple[str, bool]:
    from django.db import connections

    from tenants.sage_db import SageDatabaseUnavailable, sage_alias

    system = gettext("Sage database")
    try:
        alias = sage_alias(tenant)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except SageDatabaseUnavailable as unavailable:
        # explain_failure's sentences are ours, naming only the tenant's own settings.
        return _line(tenant, system, tenant.redact(str(unavailable))), False
    except Exception as exc:  # one bad tenant must not hide the others' lines
        return _line(tenant, system, gettext("the query failed (%(kind)s).") % {"kind": exc.__class__.__name__}), False
    return _line(tenant, system, gettext("connected.")), True


def check_webapi(tenant: Tenant) -> tuple[str, bool]:
    from sync.sage.webapi import (
        PERMANENT_CODES, RETRYABLE_CODES, SageWebApi, WebApiError, WebApiUnavailable,
    )

    system = gettext("Sage Web API")
    try:
        client = SageWebApi(tenant, retries=0, timeout=(5.0, 15.0))
        try:
            # The cheapest authenticated read: one vendor number.
            client.query("AP/APVendors", top=1, select=["VendorNumber"])
        finally:
            client.close()
    except WebApiUnavailable as error:
        # Our own sentence: the tenant's URL and the kind of network failure.
        return _line(tenant, system, tenant.redact(error.message)), False
    except WebApiError as error:
        if error.status is None:  # refused before any request (settings missing)
            return _line(tenant, system, tenant.redact(error.message)), False
        if error.status in (401, 403):
            why = gettext("refused the credentials (HTTP %(status)s); check the Web API user and password.")
        else:
            why = gettext("answered HTTP %(status)s%(code)s; check the Web API base URL and company.")
        # Sage's error code only when it is one of Sage's own (EXTERNAL.md §2), never free text.
        known = error.code in PERMANENT_CODES | RETRYABLE_CODES
        return _line(tenant, system, why % {"status": error.status, "code": f" ({error.code})" if known else ""}), False
    except Exception as exc:
        return _line(tenant, system, gettext("the call failed (%(kind)s).") % {"kind": exc.__class__.__name__}), False
    return _line(tenant, system, gettext("answered and accepted the credentials.")), True


def check_portal(tenant: Tenant) -> tuple[str, bool]:
    from sync.portal.client import PortalClient, RetryPolicy
    from sync.portal.errors import PortalAuthError, PortalError, PortalPermanentError, PortalRetryableError

    system = gettext("portal")
    try:
        # A person is waiting on the page: one try, short timeouts.
        with PortalClient(tenant, connect_timeout=5.0, read_timeout=15.0,
                          retry=RetryPolicy(max_attempts=1)) as client:
            # The cheapest authenticated read: the first provider, if any.
            next(iter(client.iter_providers(page_size=1)), None)
    except PortalAuthError as error:
        why = gettext("refused the credentials (HTTP %(status)s); check the portal key and secret.")
        return _line(tenant, system, why % {"status": error.status}), False
    except PortalPermanentError as error:
        if 300 <= error.status < 400:
            why = gettext("answered with a redirect (HTTP %(status)s), which is not followed; check the portal "
                          "base URL.")
        elif error.status < 300:
            why = gettext("answered with something that is not the portal's API; check the portal base URL.")
        else:
            why = gettext("answered HTTP %(status)s; check the portal base URL and tenant id.")
        return _line(tenant, system, why % {"status": error.status}), False
    except PortalRetryableError as error:
        # The client's own sentence: the tenant's URL, the tries, a reason in our words.
        return _line(tenant, system, tenant.redact(str(error))), False
    except PortalError as error:  # settings missing or unusable: our own words too
        return _line(tenant, system, tenant.redact(str(error))), False
    return _line(tenant, system, gettext("answered and accepted the credentials.")), True


def is_admin(user) -> bool:
    from sync.dashboard import is_admin as admin_rule

    return admin_rule(user)


def ensure_access_groups() -> None:
    from sync.dashboard import ensure_access_groups as ensure

    ensure()
