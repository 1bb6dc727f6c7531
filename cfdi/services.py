"""Storing a downloaded CFDI: original bytes once, a row with its facts.

`store_cfdi` stores one file, `store_cfdis` a lot of them with their rows
written together (what the download step calls). Storing is idempotent
(same bytes again: nothing changes) and safe when two workers store the same
UUID at once: the unique (tenant, uuid) constraint decides who creates the row
and the loser reads it back instead of failing or writing a second one.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cfdi import storage
from cfdi.models import Cfdi, CfdiStatus, PaidDocument
from cfdi.parsing import CfdiFacts, max_bytes
from cfdi.validation import CheckResult, Problem, VendorLookup, check_cfdi
from sageconnect.crashpoints import crashpoint

FACT_FIELDS = (
    "version", "kind", "series", "folio", "issued", "issuer_rfc", "issuer_name", "receptor_rfc", "receptor_name",
    "currency", "exchange_rate", "subtotal", "discount", "taxes_transferred", "taxes_withheld", "total",
    "payment_method", "stamped", "related_uuids", "addenda_po_number", "tax_lines",
)


def _uuid_for(result: CheckResult, digest: str, metadata: dict) -> str:
    if result.facts is not None and result.facts.uuid:
        return result.facts.uuid
    portal_uuid = str(metadata.get("uuid") or "").strip().upper()
    # An unreadable or unstamped file still gets a row, so its reason shows:
    # the portal's UUID when it gave one, else a name made from the bytes.
    return portal_uuid[:36] or f"NOUUID-{digest[:29]}"


def _fact_values(facts: CfdiFacts | None) -> dict:
    if facts is None:
        return {}
    values = {name: getattr(facts, name) for name in FACT_FIELDS}
    values["issued"] = _aware(values["issued"])
    values["stamped"] = _aware(values["stamped"])
    return values


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or timezone.is_aware(moment):
        return moment
    # CFDI dates are local Mexican time without an offset.
    return timezone.make_aware(moment, timezone.get_default_timezone())


@dataclass
class _Prepared:
    """One file checked and its original written: the row to create, not saved yet."""
    row: Cfdi
    facts: CfdiFacts | None
    metadata: dict


def _prepare(tenant, xml_bytes: bytes, metadata: dict | None, *, is_vendor: VendorLookup | None = None,
             imported_uuids: Container[str] | None = None, file_storage=None) -> _Prepared:
    metadata = dict(metadata or {})
    digest = storage.sha256_hex(xml_bytes)
    result = check_cfdi(xml_bytes, tenant_rfc=tenant.rfc, is_vendor=is_vendor, imported_uuids=imported_uuids)
    if len(xml_bytes) <= max_bytes():
        storage.store_original(xml_bytes, file_storage)
        crashpoint("cfdi_store:file_written")
    row = Cfdi(
        tenant=tenant, uuid=_uuid_for(result, digest, metadata), sha256=digest, size=len(xml_bytes),
        portal_metadata=metadata, problems=[p.as_dict() for p in result.problems],
        status=CfdiStatus.INVALID if result.problems else CfdiStatus.VALID, **_fact_values(result.facts),
    )
    return _Prepared(row, result.facts, metadata)


def store_cfdi(
    tenant,
    xml_bytes: bytes,
    metadata: dict | None = None,
    *,
    is_vendor: VendorLookup | None = None,
    imported_uuids: Container[str] | None = None,
    file_storage=None,
) -> Cfdi:
    """Store one downloaded CFDI for `tenant` and return its row.

    `file_storage` defaults to STORAGES["cfdi"]; the benchmark passes a
    throw-away one.
    """
    prepared = _prepare(tenant, xml_bytes, metadata, is_vendor=is_vendor, imported_uuids=imported_uuids,
                        file_storage=file_storage)
    cfdi = prepared.row
    try:
        with transaction.atomic():
            cfdi.save(force_insert=True)
            crashpoint("cfdi_store:row_created")
            _record_paid_documents([(cfdi, prepared.facts)])
            return cfdi
    except IntegrityError:
        pass  # someone stored this UUID first (now or earlier)
    return _seen_again(tenant, cfdi.uuid, cfdi.sha256, prepared.metadata)


def store_cfdis(tenant, documents: Sequence[tuple[bytes, dict | None]]) -> list[Cfdi]:
    """Store many downloaded CFDIs, as store_cfdi stores one, with the rows of those not held yet written
    together: one transaction and a handful of queries for the lot instead of a few per file (a first
    cycle downloads hundreds). A UUID already held, or twice in the lot, takes store_cfdi's own path for a
    file seen again; a row someone else created meanwhile makes the lot go one by one. Rows in the order given."""
    prepared = [_prepare(tenant, xml_bytes, metadata) for xml_bytes, metadata in documents]
    firsts: dict[str, _Prepared] = {}
    for item in prepared:
        firsts.setdefault(item.row.uuid, item)
    try:
        with transaction.atomic():
            held = set(Cfdi.objects.filter(tenant=tenant, uuid__in=list(firsts)).values_list("uuid", flat=True))
            new = [item for uuid, item in firsts.items() if uuid not in held]
            Cfdi.objects.bulk_create([item.row for item in new], batch_size=500)
            if any(item.row.pk is None for item in new):  # a backend that does not return ids from a bulk insert
                ids = dict(Cfdi.objects.filter(tenant=tenant, uuid__in=[item.row.uuid for item in new])
                           .values_list("uuid", "pk"))
                for item in new:
                    item.row.pk = ids[item.row.uuid]
            crashpoint("cfdi_store:row_created")
            _record_paid_documents([(item.row, item.facts) for item in new])
    except IntegrityError:
        return [store_cfdi(tenant, xml_bytes, metadata) for xml_bytes, metadata in documents]
    created = {id(item) for item in new}
    return [item.row if id(item) in created else
            _seen_again(tenant, item.row.uuid, item.row.sha256, item.metadata) for item in prepared]


def _record_paid_documents(rows: Iterable[tuple[Cfdi, CfdiFacts | None]]) -> None:
    PaidDocument.objects.bulk_create(
        PaidDocument(payment=cfdi, invoice_uuid=p.invoice_uuid, instalment=p.instalment,
                     previous_balance=p.previous_balance, amount_paid=p.amount_paid, remaining=p.remaining,
                     currency=p.currency)
        for cfdi, facts in rows if facts is not None for p in facts.paid_documents
    )


def _seen_again(tenant, uuid: str, digest: str, metadata: dict) -> Cfdi:
    with transaction.atomic():
        cfdi = Cfdi.objects.select_for_update().get(tenant=tenant, uuid=uuid)
        changed = False
        if metadata and {**cfdi.portal_metadata, **metadata} != cfdi.portal_metadata:
            cfdi.portal_metadata = {**cfdi.portal_metadata, **metadata}
            changed = True
        if cfdi.sha256 != digest and not any(p.get("sha256") == digest for p in cfdi.problems):
            # The first original stays: it is the one SAT's 5-year rule covers.
            cfdi.problems = cfdi.problems + [different_bytes_problem(uuid, digest).as_dict()]
            cfdi.status = CfdiStatus.NEEDS_ATTENTION if cfdi.status != CfdiStatus.IMPORTED else cfdi.status
            changed = True
        if changed:
            cfdi.save(update_fields=["portal_metadata", "problems", "status", "updated"])
        return cfdi


def different_bytes_problem(uuid: str, digest: str) -> Problem:
    return Problem("uuid_different_bytes", _(
        "A different file arrived for UUID %(uuid)s (sha256 %(sha256)s); the first original is kept. "
        "Ask the supplier which file is the one SAT stamped.") % {"uuid": uuid, "sha256": digest},
        {"sha256": digest})
