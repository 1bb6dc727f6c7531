from django.contrib import admin

from cfdi.models import Cfdi, PaidDocument


class PaidDocumentInline(admin.TabularInline):
    model = PaidDocument
    extra = 0
    can_delete = False
    readonly_fields = ("invoice_uuid", "instalment", "previous_balance", "amount_paid", "remaining", "currency")


@admin.register(Cfdi)
class CfdiAdmin(admin.ModelAdmin):
    list_display = ("uuid", "tenant", "kind", "series", "folio", "issuer_rfc", "total", "currency", "status",
                    "sage_batch", "sage_entry")
    list_filter = ("tenant", "status", "kind")
    search_fields = ("uuid", "issuer_rfc", "issuer_name", "folio")
    # The facts come from the original file; nobody edits them by hand.
    readonly_fields = [f.name for f in Cfdi._meta.fields if f.name not in ("status",)]
    # What became of its import is on its page and its import record (sync's outbound records).
    inlines = [PaidDocumentInline]
