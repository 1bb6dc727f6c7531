"""Tenants in the admin, for SageConnect admins.

sync/admin.py extends this admin with "Test connections", which needs sync's
clients: tenants imports nothing of sync.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sageconnect.access import ensure_access_groups, is_admin
from tenants.forms import TenantAdminForm, clear_field_name
from tenants.models import STEP_NAMES, Tenant, field_label
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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field_class = MULTI_VALUE_FIELDS.get(db_field.name)
        if field_class is not None:
            return field_class(label=capfirst(db_field.verbose_name))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

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

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        cleared = getattr(form, "secrets_cleared", [])
        if cleared:
            names = ", ".join(field_label(name) for name in cleared)
            self.message_user(request, gettext(
                "Where %(names)s are sent changed, so the stored values were cleared: enter them for the new "
                "server.") % {"names": names}, messages.WARNING)
