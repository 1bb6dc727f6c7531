"""The sandbox Sage company database: its tables, and the data to fill them.

The tables are the unmanaged Sage models of sync.sage, created with the schema
editor on the tenant's sandbox alias (SQLite file or PostgreSQL database).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.db import connections, transaction

from sandbox.plan import CENT, Plan, PlanCfdi, PlanPo, PlanPoLine, PlanVendor
from sync.sage.models import (
    APBTA,
    APIBC,
    APIBD,
    APIBH,
    APIBHO,
    APOBL,
    APOBLO,
    APPYM,
    APRDC,
    APTCP,
    APTCR,
    APTCRO,
    APVEN,
    APVENO,
    APVGR,
    POPORH1,
    POPORH2,
    POPORHO,
    POPORL,
    PORCPH1,
    PORCPL,
    SAGE_MODELS,
    TXGRP,
    TXRATE,
)
from sync.sage.values import to_sage_date


def create_sage_tables(alias: str, *, drop: bool = False) -> None:
    connection = connections[alias]
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in SAGE_MODELS:
            table = model._meta.db_table
            if table in existing or table.lower() in existing:
                if not drop:
                    continue
                editor.delete_model(model)
            editor.create_model(model)


# ---------------------------------------------------------------------------
# Filling the tables from a plan
# ---------------------------------------------------------------------------

AUDIT_USER = "ADMIN"
AUDIT_ORG = "SANDBX"
BATCH_SIZE = 500
FOLIO_OPTFIELD = "FOLIOCFD"
PROVIDER_ID_OPTFIELD = "PROVIDERID"
STAMP_DATE_OPTFIELD = "FECHACFD"
# Sage's AP transaction types in APOBL.IDTRXTYPE (AOM APOBL).
INVOICE_TRX, CREDIT_NOTE_TRX = 12, 32
INVOICES_PER_BATCH = 10
# The company's set-up: vendor groups, the distribution code imported invoices
# are charged to, and one purchase tax group whose authorities are, in order,
# IVA, IVA withheld and ISR withheld (a withholding authority has negative rates).
VENDOR_GROUPS = (("NAC", "Proveedores nacionales", "MXP"), ("EXT", "Proveedores extranjeros", "USD"))
DISTRIBUTION_CODE, EXPENSE_ACCOUNT = "INV", "5000-000"
TAX_GROUP = "IVA"
TAX_AUTHORITIES = ("IVA", "IVARET", "ISRRET")
# (authority, vendor class) → rate % by item class 1..5: 16 %, 8 % (border), 0 %, exempt.
TAX_RATES = {
    ("IVA", 1): (Decimal(16), Decimal(8), Decimal(0), Decimal(0), Decimal(0)),
    ("IVARET", 1): (Decimal(0),) * 5,
    ("IVARET", 2): (Decimal("-10.66667"), Decimal(0), Decimal(0), Decimal(0), Decimal(0)),
    ("ISRRET", 1): (Decimal(0),) * 5,
    ("ISRRET", 2): (Decimal(-10), Decimal(-10), Decimal(0), Decimal(0), Decimal(0)),
}
BANK, BANK_CURRENCY = "BANORTE", "MXP"
USD_RATE = Decimal("17.2500")


def write_company(alias: str, plan: Plan, *, cleared_history: bool = False) -> dict[str, int]:
    """Fill the (empty) Sage tables of `alias` from `plan`; return rows written per table.

    `cleared_history`: the company ran Sage's Clear History on its posted invoice
    batches, so the invoices Sage already holds are only posted documents
    (APOBL/APOBLO), with no APIBC/APIBH/APIBHO rows left.
    """
    rows: dict[str, list] = {model._meta.db_table: [] for model in SAGE_MODELS}
    _setup_rows(plan, rows)
    _vendor_rows(plan, rows)
    for index, po in enumerate(plan.pos):
        _po_rows(plan, po, index, rows)
    _invoice_rows(plan, rows, cleared_history=cleared_history)
    _payment_rows(plan, rows)
    with transaction.atomic(using=alias):
        for model in SAGE_MODELS:
            model.objects.using(alias).bulk_create(rows[model._meta.db_table], batch_size=BATCH_SIZE)
    return {table: len(items) for table, items in rows.items()}


def _audit(day: dt.date, sequence: int) -> dict:
    # Distinct, increasing AUDTTIME values keep the (AUDTDATE, AUDTTIME)
    # watermark meaningful, as it is in a real company.
    seconds = sequence % 86400
    return {
        "AUDTDATE": to_sage_date(day),
        "AUDTTIME": Decimal((seconds // 3600) * 1000000 + (seconds // 60 % 60) * 10000 + seconds % 60 * 100),
        "AUDTUSER": AUDIT_USER,
        "AUDTORG": AUDIT_ORG,
    }


def _setup_rows(plan: Plan, rows: dict[str, list]) -> None:
    audit = _audit(plan.today - dt.timedelta(days=365), 0)
    rows["APVGR"] += [APVGR(IDGRP=code, TEXTDESC=name, CURNCODE=currency, TERMSCODE="30", CODETAXGRP=TAX_GROUP,
                            **audit) for code, name, currency in VENDOR_GROUPS]
    rows["APRDC"].append(APRDC(IDDIST=DISTRIBUTION_CODE, TEXTDESC="Compras", IDGLACCT=EXPENSE_ACCOUNT, **audit))
    rows["TXGRP"].append(TXGRP(GROUPID=TAX_GROUP, TTYPE=2, **{f"TAXAUTH{n}": authority for n, authority in
                                                               enumerate(TAX_AUTHORITIES, start=1)}, **audit))
    rows["TXRATE"] += [TXRATE(AUTHORITY=authority, TTYPE=2, BUYERCLASS=vendor_class,
                              **{f"ITEMRATE{n}": rate for n, rate in enumerate(rates, start=1)}, **audit)
                       for (authority, vendor_class), rates in TAX_RATES.items()]


def _vendor_rows(plan: Plan, rows: dict[str, list]) -> None:
    for index, vendor in enumerate(plan.vendors):
        if not vendor.in_sage:
            continue
        audit = _audit(plan.today - dt.timedelta(days=120), index)
        rows["APVEN"].append(APVEN(
            VENDORID=vendor.vendor_id, SHORTNAME=vendor.name[:10], IDGRP="NAC" if vendor.currency == "MXP" else "EXT",
            SWACTV=1, VENDNAME=vendor.name[:60], TEXTSTRE1=f"Av. Industria {100 + index}",
            NAMECITY="Monterrey", CODESTTE="NL", CODEPSTL="64000", CODECTRY="MEXICO",
            NAMECTAC="Cuentas por cobrar", TEXTPHON1=f"81{index:08d}", EMAIL1=f"contacto.{vendor.email}"[:50],
            EMAIL2=vendor.email[:50], CURNCODE=vendor.currency, TERMSCODE="30", IDTAXREGI1=vendor.rfc,
            CODETAXGRP=TAX_GROUP, **audit,
        ))
        if vendor.external_id_on_portal:
            rows["APVENO"].append(APVENO(
                VENDORID=vendor.vendor_id, OPTFIELD=PROVIDER_ID_OPTFIELD, VALUE=portal_provider_id(plan, vendor),
                **audit,
            ))


def portal_provider_id(plan: Plan, vendor: PlanVendor) -> str:
    """The portal's 24-hex id of a provider, derived from the portal tenant, the company and the VENDORID,
    so both stand-ins agree and two tenants of one stand-in never share an id (portal ids are unique)."""
    tenant = f"{plan.portal_tenant_id}:" if plan.portal_tenant_id else ""
    return hashlib.sha256(f"provider:{tenant}{plan.company_rfc}:{vendor.vendor_id}".encode()).hexdigest()[:24]


def _po_rows(plan: Plan, po: PlanPo, index: int, rows: dict[str, list]) -> None:
    audit = _audit(po.date, index)
    complete = po.state == "complete"
    vendor = plan.vendor(po.vendor_id)
    rows["POPORH1"].append(POPORH1(
        PORHSEQ=po.porhseq, PONUMBER=po.po_number, VDCODE=po.vendor_id, VDNAME=vendor.name[:60],
        DATE=to_sage_date(po.date), EXPARRIVAL=to_sage_date(po.expected), ISCOMPLETE=int(complete),
        DTCOMPLETE=to_sage_date(min(po.expected, plan.today)) if complete else Decimal(0),
        ONHOLD=int(po.state == "on_hold"), PORTYPE=po.portype, CURRENCY=po.currency, RATE=po.rate,
        EXTENDED=po.subtotal, DOCTOTAL=po.total, DESCRIPTIO=po.description, REFERENCE=f"REQ-{po.porhseq}",
        TERMSCODE="30", FOBPOINT="Planta", **audit,
    ))
    rows["POPORH2"].append(POPORH2(
        PORHSEQ=po.porhseq, ENTEREDBY=AUDIT_USER, BTCODE="MATRIZ", BTDESC=plan.company_name[:60],
        BTADDRESS1="Av. Constitución 2050", BTCITY="Monterrey", BTSTATE="NL", BTZIP="64000", BTCOUNTRY="MEXICO",
        STCODE=po.lines[0].location if po.lines else "", STDESC="Almacén", STADDRESS1="Carretera a Saltillo km 12",
        STCITY="Santa Catarina", STSTATE="NL", STZIP="66350", STCOUNTRY="MEXICO", **audit,
    ))
    for name, value in po.optional_fields:
        rows["POPORHO"].append(POPORHO(PORHSEQ=po.porhseq, OPTFIELD=name, VALUE=value, **audit))
    for line in po.lines:
        rows["POPORL"].append(_po_line(po, line, audit))
    _receipt_rows(po, audit, rows)


def _po_line_seq(po: PlanPo, line: PlanPoLine) -> int:
    return po.porhseq * 10000 + line.line_number


def _po_line(po: PlanPo, line: PlanPoLine, audit: dict) -> POPORL:
    return POPORL(
        PORHSEQ=po.porhseq, PORLREV=line.line_number, PORLSEQ=_po_line_seq(po, line), ITEMNO=line.item_no,
        ITEMDESC=line.description, LOCATION=line.location, ORDERUNIT=line.unit, SQORDERED=line.ordered,
        OQORDERED=line.ordered, OQRECEIVED=line.received, OQCANCELED=line.cancelled,
        OQOUTSTAND=line.outstanding, UNITCOST=line.unit_cost, EXTENDED=line.extended,
        # Sage: 1 = not completed, 2 = completed (nothing left to receive).
        COMPLETION=2 if line.outstanding == 0 else 1, **audit,
    )


def _receipt_rows(po: PlanPo, audit: dict, rows: dict[str, list]) -> None:
    received = [line for line in po.lines if line.received > 0]
    if not received:
        return
    # A complete PO's receipts are invoiced and complete; a partly received
    # PO's receipt still waits for its invoice.
    done = int(po.state == "complete")
    rows["PORCPH1"].append(PORCPH1(
        RCPHSEQ=po.porhseq, RCPNUMBER=f"RC{po.porhseq:08d}", PONUMBER=po.po_number, PORHSEQ=po.porhseq,
        VDCODE=po.vendor_id, DATE=audit["AUDTDATE"], ISINVOICED=done, ISCOMPLETE=done, **audit,
    ))
    for line in received:
        rows["PORCPL"].append(PORCPL(
            RCPHSEQ=po.porhseq, RCPLREV=line.line_number, PORHSEQ=po.porhseq,
            PORLSEQ=_po_line_seq(po, line), RQRECEIVED=line.received, **audit,
        ))


def _sage_currency(cfdi_currency: str) -> str:
    return "MXP" if cfdi_currency == "MXN" else cfdi_currency


def _invoice_rows(plan: Plan, rows: dict[str, list], *, cleared_history: bool) -> None:
    without_folio = {line.invoice_number for p in plan.payments for line in p.lines if not line.cfdi_uuid}
    paid = {line.invoice_number: line.amount for p in plan.payments if not p.reversed for line in p.lines}
    invoices = [cfdi for cfdi in plan.cfdis if cfdi.in_sage and cfdi.kind in ("I", "E")]
    for position, cfdi in enumerate(invoices):
        batch, item = position // INVOICES_PER_BATCH + 1, position % INVOICES_PER_BATCH + 1
        audit = _audit(cfdi.issued.date(), position)
        number = cfdi.document_number
        keys = {"CNTBTCH": batch, "CNTITEM": item}
        folio = [] if number in without_folio else [(FOLIO_OPTFIELD, cfdi.uuid)]
        if not cleared_history:
            if item == 1:
                rows["APIBC"].append(APIBC(
                    CNTBTCH=batch, DATEBTCH=to_sage_date(cfdi.issued.date()),
                    BTCHDESC=f"Facturas CFDI lote {batch}", BTCHTYPE=1, BTCHSTTS=3, **audit,
                ))
            rows["APIBH"].append(APIBH(**keys, **_entry_columns(cfdi), **audit))
            rows["APIBHO"] += [APIBHO(**keys, OPTFIELD=name, VALUE=value, **audit) for name, value in folio]
            rows["APIBD"].append(APIBD(
                **keys, CNTLINE=20, IDDIST=DISTRIBUTION_CODE, IDGLACCT=EXPENSE_ACCOUNT,
                AMTDIST=cfdi.subtotal - cfdi.discount, AMTTOTTAX=cfdi.tax - cfdi.withheld, **audit,
            ))
        rate = cfdi.exchange_rate or Decimal(1)
        home_total = (cfdi.total * rate).quantize(CENT)
        fully_paid = paid.get(number, Decimal(0)) >= cfdi.total
        rows["APOBL"].append(APOBL(
            IDVEND=cfdi.vendor_id, IDINVC=number, IDTRXTYPE=INVOICE_TRX if cfdi.kind == "I" else CREDIT_NOTE_TRX,
            TXTTRXTYPE=1 if cfdi.kind == "I" else 3, DATEINVC=to_sage_date(cfdi.issued.date()),
            CODECURN=_sage_currency(cfdi.currency), EXCHRATEHC=rate, AMTINVCHC=home_total,
            AMTDUEHC=Decimal(0) if fully_paid else home_total, AMTDUETC=Decimal(0) if fully_paid else cfdi.total,
            SWPAID=int(fully_paid), **keys, **audit,
        ))
        # Posting copies the entry's optional fields to the posted document (AOM APOBLO).
        rows["APOBLO"] += [APOBLO(IDVEND=cfdi.vendor_id, IDINVC=number, OPTFIELD=name, VALUE=value, **audit)
                           for name, value in folio]


def _entry_columns(cfdi: PlanCfdi) -> dict:
    """An AP invoice entry as Sage holds it: taxes entered per authority, balanced (AOM APIBH)."""
    tax_total = cfdi.tax - cfdi.withheld
    return dict(
        IDVEND=cfdi.vendor_id, IDINVC=cfdi.document_number, TEXTTRX=1 if cfdi.kind == "I" else 3,
        PONBR=cfdi.po_number, INVCDESC=cfdi.issuer_name[:60], DATEINVC=to_sage_date(cfdi.issued.date()),
        CODECURN=_sage_currency(cfdi.currency), EXCHRATEHC=cfdi.exchange_rate or Decimal(1),
        SWMANRTE=int(cfdi.exchange_rate is not None), SWCALCTX=0, CODETAXGRP=TAX_GROUP,
        AMTTAX1=cfdi.tax, AMTTAX2=-cfdi.withheld_iva, AMTTAX3=-cfdi.withheld_isr, AMTTAXTOT=tax_total,
        AMTINVCTOT=cfdi.total - tax_total, AMTGROSTOT=cfdi.total, AMTGROSDST=cfdi.total, AMTUNDISTR=Decimal(0),
        ERRENTRY=0,
    )


def _complement_of(plan: Plan) -> dict[str, PlanCfdi]:
    """The payment CFDI (P) that settles each invoice UUID."""
    return {paid.invoice_uuid: cfdi for cfdi in plan.cfdis if cfdi.kind == "P" for paid in cfdi.pays}


def _payment_rows(plan: Plan, rows: dict[str, list]) -> None:
    batches: set[int] = set()
    complements = _complement_of(plan)
    for index, payment in enumerate(plan.payments):
        audit = _audit(payment.date, index)
        if payment.batch not in batches:
            batches.add(payment.batch)
            rows["APBTA"].append(APBTA(
                PAYMTYPE="PY", CNTBTCH=payment.batch, DATEBTCH=to_sage_date(payment.date),
                BATCHDESC=f"Pagos lote {payment.batch}", BATCHSTAT=3, IDBANK=payment.bank, CODECURN=BANK_CURRENCY,
                **audit))
        # The bank pays in pesos: a USD vendor's check is AMTRMITTC dollars and AMTRMIT pesos (AOM APTCR).
        bank_amount = (payment.amount if payment.currency == BANK_CURRENCY
                       else (payment.amount * USD_RATE).quantize(CENT))
        rows["APTCR"].append(APTCR(
            BTCHTYPE="PY", CNTBTCH=payment.batch, CNTENTR=payment.entry, IDVEND=payment.vendor_id,
            DOCNBR=payment.docnbr, IDRMIT=payment.check_number, DATERMIT=to_sage_date(payment.date),
            NAMERMIT=plan.vendor(payment.vendor_id).name[:60], AMTRMIT=bank_amount, AMTRMITTC=payment.amount,
            TEXTRMIT=f"Pago {payment.docnbr}", TXTRMITREF=f"TRANSF {payment.check_number}",
            RMITTYPE=1, ERRENTRY=0, CODECURN=payment.currency, **audit,
        ))
        for number, line in enumerate(payment.lines, start=1):
            rows["APTCP"].append(APTCP(
                BATCHTYPE="PY", CNTBTCH=payment.batch, CNTRMIT=payment.entry, CNTLINE=number,
                IDVEND=payment.vendor_id, IDINVC=line.invoice_number, DOCTYPE=1, AMTPAYM=line.amount, **audit,
            ))
        complement = next((complements[line.cfdi_uuid] for line in payment.lines if line.cfdi_uuid in complements),
                          None)
        if complement is not None:
            # Where the vendor's payment CFDI is already known, Sage holds its
            # UUID and stamp date on the payment entry.
            for name, value in ((FOLIO_OPTFIELD, complement.uuid),
                                (STAMP_DATE_OPTFIELD, complement.issued.date().isoformat())):
                rows["APTCRO"].append(APTCRO(BTCHTYPE="PY", CNTBTCH=payment.batch, CNTENTR=payment.entry,
                                             OPTFIELD=name, VALUE=value, **audit))
        rows["APPYM"].append(APPYM(
            IDBANK=payment.bank, IDVEND=payment.vendor_id, IDRMIT=payment.check_number,
            LONGSERIAL=int(payment.check_number), DATERMIT=to_sage_date(payment.date), CODECURN=payment.currency,
            AMTRMITTC=payment.amount, CNTBTCH=payment.batch, CNTITEM=payment.entry,
            SWCHKCLRD=2 if payment.reversed else 0, **audit,
        ))
