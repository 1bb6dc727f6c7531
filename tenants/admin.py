from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tenants.forms import TenantAdminForm, clear_field_name
from tenants.models import STEP_NAMES, Tenant


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
            ("ship_to_zip", "ship_to_country"), "invoice_distribution_code", "invoice_batch_max",
            "addenda_required",
        )}),
        (_("Steps"), {"fields": tuple(f"step_{name}" for name in STEP_NAMES)}),
        (_("Schedule"), {"fields": ("paused", "sync_every_minutes", "start_date")}),
    )
