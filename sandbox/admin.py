from django.contrib import admin

from sandbox.models import FaultRule


@admin.register(FaultRule)
class FaultRuleAdmin(admin.ModelAdmin):
    list_display = ("target", "enabled", "error_rate", "error_statuses", "latency_ms", "drop_rate", "malformed_rate")
    list_filter = ("enabled",)
    list_editable = ("enabled",)
    search_fields = ("target",)
