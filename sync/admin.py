"""The engine's records in the admin, read-only, for SageConnect admins.

Staff read them on the staff pages; nobody edits a run log by hand.
"""
from __future__ import annotations

from django.contrib import admin

from sync.dashboard import is_admin
from sync.models import Payment, PaymentLine, RecordOutcome, StepRun, SyncLink, SyncRun


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


@admin.register(RecordOutcome)
class RecordOutcomeAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "step", "kind", "sage_key", "action", "status", "attempts", "permanent",
                    "last_error", "updated")
    list_filter = ("status", "step", "kind", "permanent", "tenant")
    search_fields = ("sage_key", "portal_id", "last_error")
    list_select_related = ("tenant",)


@admin.register(SyncLink)
class SyncLinkAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "kind", "sage_key", "portal_id", "state", "updated")
    list_filter = ("kind", "state", "tenant")
    search_fields = ("sage_key", "portal_id")
    list_select_related = ("tenant",)


class PaymentLineInline(admin.TabularInline):
    model = PaymentLine
    extra = 0
    can_delete = False
    readonly_fields = ("line", "invoice_number", "cfdi_uuid", "amount")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("docnbr", "tenant", "vendor", "date", "amount", "currency", "state", "wait_reason")
    list_filter = ("state", "tenant")
    search_fields = ("docnbr", "vendor", "lines__cfdi_uuid")
    list_select_related = ("tenant",)
    inlines = [PaymentLineInline]
