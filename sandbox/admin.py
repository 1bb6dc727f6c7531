from django.contrib import admin

from sandbox.models import FaultRule, SandboxPortalTenant


@admin.register(FaultRule)
class FaultRuleAdmin(admin.ModelAdmin):
    list_display = ("target", "enabled", "error_rate", "error_statuses", "latency_ms", "drop_rate", "malformed_rate")
    list_filter = ("enabled",)
    list_editable = ("enabled",)
    search_fields = ("target",)


@admin.register(SandboxPortalTenant)
class SandboxPortalTenantAdmin(admin.ModelAdmin):
    # The key and secret stay out: the stand-in's are test values, but an
    # admin page that shows credentials teaches the wrong habit.
    list_display = ("tenant_id", "name", "reads", "writes", "file_url_seconds", "page_size_max", "batch_result_id")
    fields = ("tenant_id", "name", "rfc", "file_url_seconds", "page_size_max", "batch_result_id", "reads", "writes")
    readonly_fields = ("reads", "writes")
