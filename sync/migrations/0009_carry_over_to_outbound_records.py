# Every fact of the three older records carried over to the outbound records, then those records removed:
# - SyncLink (the control table): one outbound record per row (a vendor's is keyed by its portal provider
#   id from now on, its VENDORID the outside id);
# - RecordOutcome (per-action outcomes): the record's last run, step, action, error and request, what a
#   person must do for a permanent failure, what a PO waits for; and one history row per outcome;
# - cfdi's ImportAttempt: one history row each on the CFDI's import record, whose state follows the CFDI's
#   status (imported, refused, needing a person — with the reason its problems or last attempt give);
# - Payment.wait_reason: the payment record's reason (waiting, or refused);
# - the two PO steps' watermarks become the upsert step's (the older of the two).
# Nothing is lost; going back recreates the empty tables only.

from django.db import migrations

ATTEMPT_OUTCOMES = {"imported": "confirmed", "skipped": "recovered", "failed": "refused", "retryable": "failed"}
AFTER_IMPORT_CODES = ("portal_refused_after_import", "sat_cancelled", "uuid_different_bytes")


def carry_over(apps, schema_editor):
    SyncLink = apps.get_model("sync", "SyncLink")
    RecordOutcome = apps.get_model("sync", "RecordOutcome")
    Outbound = apps.get_model("sync", "Outbound")
    OutboundAttempt = apps.get_model("sync", "OutboundAttempt")
    Payment = apps.get_model("sync", "Payment")
    PoWatermark = apps.get_model("sync", "PoWatermark")
    Cfdi = apps.get_model("cfdi", "Cfdi")
    ImportAttempt = apps.get_model("cfdi", "ImportAttempt")

    records: dict[tuple, object] = {}
    history: list[tuple[tuple, dict]] = []
    vendor_key: dict[tuple[int, str], str] = {}

    def record(tenant_id, kind, key, **defaults):
        found = records.get((tenant_id, kind, key))
        if found is None:
            found = records[(tenant_id, kind, key)] = Outbound(tenant_id=tenant_id, kind=kind, key=key, **defaults)
        return found

    for link in SyncLink.objects.order_by("pk").iterator():
        key, outside_id, ids = link.sage_key, link.portal_id, {}
        if link.kind == "vendor":
            key, outside_id, ids = link.portal_id or link.sage_key, link.sage_key, {"vendor_id": link.sage_key}
            vendor_key[(link.tenant_id, link.sage_key)] = key
        elif link.kind == "po_status" and link.content_hash:
            ids = {"status": link.content_hash}
        elif link.kind == "cfdi_import" and "-" in link.portal_id:
            batch, _dash, entry = link.portal_id.partition("-")
            if batch.isdigit() and entry.isdigit():
                ids = {"sage_batch": int(batch), "sage_entry": int(entry)}
        made = record(link.tenant_id, link.kind, key, state=link.state, content_hash=link.content_hash,
                      sent_hash=link.sent_hash, outside_id=outside_id[:64], outside_ids=ids)
        if link.state == "failed":
            made.attention, made.since = "permanent", link.updated

    for outcome in RecordOutcome.objects.order_by("updated", "pk").iterator():
        key = vendor_key.get((outcome.tenant_id, outcome.sage_key), outcome.sage_key) if outcome.kind == "vendor" \
            else outcome.sage_key
        state = {"succeeded": "confirmed", "failed": "failed", "waiting": "waiting"}[outcome.status]
        made = record(outcome.tenant_id, outcome.kind, key, state=state, outside_id=outcome.portal_id[:64])
        made.action, made.step, made.run_id = outcome.action, outcome.step, outcome.run_id
        made.last_request = outcome.request_snapshot or made.last_request
        if outcome.status == "failed":
            made.last_error = outcome.last_error
            if outcome.permanent and outcome.kind == "complement":
                # What staff were asked to enter in Sage: a wait only a person ends (re-read next cycle).
                made.state, made.attention, made.reason_code = "waiting", "person", "complement_not_in_sage"
                made.reason, made.since = outcome.last_error, outcome.updated
            elif outcome.permanent:
                made.state, made.attention, made.reason, made.since = "failed", "permanent", outcome.last_error, \
                    outcome.updated
            else:
                made.attempts = max(made.attempts, 1)
        elif outcome.status == "waiting" and made.state != "confirmed":
            made.state, made.reason, made.since = "waiting", outcome.last_error, outcome.updated
            made.reason_code = "receipts_not_invoiced" if outcome.kind == "po_status" else "waiting"
        history.append(((outcome.tenant_id, outcome.kind, key), {
            "at": outcome.updated, "run_id": outcome.run_id, "step": outcome.step, "action": outcome.action,
            "outcome": {"succeeded": "confirmed", "waiting": "waiting"}.get(
                outcome.status, "refused" if outcome.permanent else "failed"),
            "message": outcome.last_error, "request": outcome.request_snapshot or {}}))

    for payment in Payment.objects.exclude(wait_reason="").iterator():
        made = record(payment.tenant_id, "payment", payment.docnbr, state="waiting")
        if payment.state == "waiting":
            made.state, made.reason, made.reason_code = "waiting", payment.wait_reason, made.reason_code or "waiting"
            made.since = made.since or payment.updated
        elif payment.state == "failed":
            made.state, made.attention = "failed", "permanent"
            made.reason, made.since = made.reason or payment.wait_reason, made.since or payment.updated
            made.last_error = made.last_error or payment.wait_reason[:500]

    cfdis = Cfdi.objects.filter(status__in=("imported", "failed", "needs_attention")).iterator()
    last_attempt = {}
    for attempt in ImportAttempt.objects.select_related("cfdi").order_by("attempted_at", "pk").iterator():
        cfdi = attempt.cfdi
        last_attempt[cfdi.pk] = attempt
        record(cfdi.tenant_id, "cfdi_import", cfdi.uuid, state="waiting")
        history.append(((cfdi.tenant_id, "cfdi_import", cfdi.uuid), {
            "at": attempt.attempted_at, "action": "import",
            "outcome": "waiting" if attempt.error_code == "waiting" else ATTEMPT_OUTCOMES.get(attempt.outcome, "failed"),
            "error_code": attempt.error_code[:100], "message": attempt.message, "request": attempt.request_snapshot or {},
            "outside_ids": {"sage_batch": attempt.sage_batch, "sage_entry": attempt.sage_entry}
            if attempt.sage_batch is not None else {}}))
    for cfdi in cfdis:
        made = record(cfdi.tenant_id, "cfdi_import", cfdi.uuid, state="waiting")
        last = last_attempt.get(cfdi.pk)
        if cfdi.status == "imported" or cfdi.imported_at is not None:
            made.state, made.content_hash = "confirmed", made.content_hash or "carried-over"
            made.outside_id = f"{cfdi.sage_batch}-{cfdi.sage_entry}"
            made.outside_ids = {"sage_batch": cfdi.sage_batch, "sage_entry": cfdi.sage_entry}
        if cfdi.status == "failed":
            made.state, made.attention = "failed", "permanent"
        elif cfdi.status == "needs_attention":
            made.attention = "person"
            if made.state != "confirmed":
                made.state = "failed"
        if made.attention:
            finding = next((p for p in reversed(cfdi.problems or []) if p.get("code") in AFTER_IMPORT_CODES), None)
            made.reason_code = (finding or {}).get("code") or (last.error_code if last else "") or made.reason_code
            made.reason = (finding or {}).get("message") or (last.message if last else "") or made.reason
            made.last_error = (last.message if last and last.outcome == "failed" else made.last_error)[:500]
            made.since = made.since or cfdi.updated

    Outbound.objects.bulk_create(records.values(), batch_size=500)
    record_ids = {(r.tenant_id, r.kind, r.key): r.pk
                  for r in Outbound.objects.all().only("id", "tenant_id", "kind", "key")}
    OutboundAttempt.objects.bulk_create(
        (OutboundAttempt(record_id=record_ids[key], **row) for key, row in history), batch_size=500)

    for tenant_id in set(PoWatermark.objects.filter(step__in=("po_create", "po_update"))
                         .values_list("tenant_id", flat=True)):
        marks = list(PoWatermark.objects.filter(tenant_id=tenant_id, step__in=("po_create", "po_update")))
        older = min(marks, key=lambda m: (m.audit_date, m.audit_time, m.porhseq))
        PoWatermark.objects.update_or_create(tenant_id=tenant_id, step="po_upsert", defaults={
            "audit_date": older.audit_date, "audit_time": older.audit_time, "porhseq": older.porhseq})
        PoWatermark.objects.filter(pk__in=[m.pk for m in marks]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('sync', '0008_outbound_records'),
        ('cfdi', '0007_tax_lines'),
    ]

    operations = [
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='payment',
            name='wait_reason',
        ),
        migrations.DeleteModel(
            name='RecordOutcome',
        ),
        migrations.DeleteModel(
            name='SyncLink',
        ),
    ]
