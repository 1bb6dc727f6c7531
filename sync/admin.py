"""The engine's records in the admin, read-only, for SageConnect admins; and the
tenant admin's "Test connections", which needs sync's clients.

Staff read the records on the staff pages; nobody edits a run log by hand.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sageconnect.access import is_admin
from sync.connections import connection_report
from sync.models import Outbound, OutboundAttempt, Payment, PaymentLine, RetryRequest, StepRun, SyncRun
from tenants import admin as tenants_admin
from tenants.models import Tenant

# tenants/admin.py registered the tenant admin (it is imported above, so it has);
# this one is that admin plus what only sync can do.
admin.site.unregister(Tenant)


@admin.register(Tenant)
class TenantAdmin(tenants_admin.TenantAdmin):
    """The tenant admin with "Test connections": a list action and a button on the change page, superusers only."""

    change_form_template = "admin/sync/tenant_change_form.html"
    actions = ["test_connections"]

    def get_urls(self):
        own = [path("<path:object_id>/test-connections/", self.admin_site.admin_view(self.test_connections_view),
                    name="tenants_tenant_test_connections")]
        return own + super().get_urls()

    def test_connections_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change page's "Test connections" button: the same check as the list's action, superusers only."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.is_superuser:
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=object_id)
        for line, ok in connection_report(tenant):
            self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            # It makes this server connect wherever a tenant points: superusers only.
            actions.pop("test_connections", None)
        return actions

    @admin.action(description=_("Test connections (Sage database, Web API, portal)"))
    def test_connections(self, request, queryset) -> None:
        if not request.user.is_superuser:
            self.message_user(request, gettext("Only superusers may test connections."), messages.ERROR)
            return
        for tenant in queryset:
            for line, ok in connection_report(tenant):
                self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return is_admin(request.user)

    def has_module_permission(self, request) -> bool:
        return is_admin(request.user)


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = ("step", "status", "message", "created_count", "updated_count", "skipped_count", "failed_count",
              "duration")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "tenant", "trigger", "started", "finished", "status", "created_count",
                    "updated_count", "failed_count")
    list_filter = ("status", "trigger", "tenant")
    date_hierarchy = "started"
    list_select_related = ("tenant",)
    inlines = [StepRunInline]


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "run", "step", "status", "started", "duration", "failed_count", "message")
    list_filter = ("status", "step")
    list_select_related = ("run",)


class OutboundAttemptInline(admin.TabularInline):
    model = OutboundAttempt
    extra = 0
    can_delete = False
    fields = ("at", "run", "step", "action", "outcome", "error_code", "message", "by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Outbound)
class OutboundAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "kind", "key", "outside_id", "state", "attention", "attempts", "not_before", "updated")
    list_filter = ("kind", "state", "attention", "tenant")
    search_fields = ("key", "outside_id", "last_error", "reason")
    list_select_related = ("tenant",)
    inlines = [OutboundAttemptInline]


@admin.register(RetryRequest)
class RetryRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "tenant", "requested_by", "requested_at", "state", "run", "note")
    list_filter = ("state", "tenant")
    list_select_related = ("tenant", "run")


class PaymentLineInline(admin.TabularInline):
    model = PaymentLine
    extra = 0
    can_delete = False
    readonly_fields = ("line", "invoice_number", "cfdi_uuid", "amount")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("docnbr", "tenant", "vendor", "date", "amount", "currency", "state")
    list_filter = ("state", "tenant")
    search_fields = ("docnbr", "vendor", "lines__cfdi_uuid")
    list_select_related = ("tenant",)
    inlines = [PaymentLineInline]
