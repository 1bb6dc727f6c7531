"""What the sandbox company holds, decided once from a seed.

One plan feeds both stand-ins so they agree with each other the way a real
Sage company and its portal tenant do: the Sage company database
(sandbox.company), and the portal's providers and CFDIs (sandbox.portal).
Same arguments, same plan: `build_plan` is deterministic.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
IVA = Decimal("0.16")
IVA_BORDER = Decimal("0.08")        # the northern-border IVA rate: a second rate on one invoice
IVA_WITHHELD = Decimal("0.106667")  # two thirds of IVA, withheld by a company paying a persona física
ISR_WITHHELD = Decimal("0.10")

# What Sage can say about a PO (EXTERNAL.md "Things a PO in Sage can be").
PO_STATES = ("open", "partly_received", "partly_cancelled", "cancelled", "complete", "on_hold", "standing")

_NAMES = (
    "Aceros", "Papelera", "Transportes", "Refacciones", "Servicios", "Distribuidora", "Químicos",
    "Empaques", "Ferretería", "Tecnología", "Logística", "Maderas", "Plásticos", "Eléctrica",
)
_SURNAMES = ("del Norte", "Peninsular", "del Bajío", "Hermanos", "Industrial", "Monterrey", "de Occidente", "Azteca")
_ITEMS = (
    ("A1-103", "Lámina galvanizada cal. 22", "PZA"), ("B2-220", "Tornillo hexagonal 1/2\"", "CAJA"),
    ("C3-310", "Cartón corrugado 40x40", "PZA"), ("D4-450", "Aceite hidráulico ISO 68", "LT"),
    ("E5-510", "Servicio de flete local", "SERV"), ("F6-620", "Cable THW 12 AWG", "M"),
    ("G7-730", "Guantes de nitrilo", "PAR"), ("H8-840", "Tarima de madera 1.2 m", "PZA"),
)
LOCATIONS = ("1", "2", "GRAL", "MTY")


@dataclass(frozen=True)
class PlanVendor:
    vendor_id: str           # Sage VENDORID = portal provider external_id
    name: str
    rfc: str
    email: str
    currency: str            # Sage CURNCODE ('MXP' for pesos, as Sage writes it)
    in_sage: bool            # False: exists only on the portal, the providers step creates it
    portal_status: str       # portal expedient status: ACCEPTED or PENDING
    accepted_today: bool
    external_id_on_portal: bool  # the portal already knows the VENDORID


@dataclass(frozen=True)
class PlanPoLine:
    line_number: int         # PORLREV
    item_no: str
    description: str
    location: str
    unit: str
    ordered: Decimal
    received: Decimal
    cancelled: Decimal
    unit_cost: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.ordered - self.received - self.cancelled, Decimal(0))

    @property
    def extended(self) -> Decimal:
        return (self.ordered * self.unit_cost).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class PlanPo:
    porhseq: int
    po_number: str
    vendor_id: str
    date: dt.date
    expected: dt.date
    state: str               # one of PO_STATES
    portype: int             # 1 active, 2 standing, 3 future, 4 blanket
    currency: str
    rate: Decimal
    description: str
    lines: tuple[PlanPoLine, ...]
    optional_fields: tuple[tuple[str, str], ...] = ()

    @property
    def subtotal(self) -> Decimal:
        return sum((line.extended for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return (self.subtotal * (1 + IVA)).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class PaidDocument:
    invoice_uuid: str
    instalment: int
    previous_balance: Decimal
    amount_paid: Decimal
    currency: str = "MXN"    # the paid invoice's currency (MonedaDR); the payment is made in it
    exchange_rate: Decimal = Decimal(1)

    @property
    def remaining(self) -> Decimal:
        return self.previous_balance - self.amount_paid


@dataclass(frozen=True)
class PlanCfdi:
    uuid: str                # upper case
    kind: str                # I, E or P
    vendor_id: str
    issuer_rfc: str
    issuer_name: str
    issued: dt.datetime
    series: str
    folio: str
    currency: str            # CFDI currency (MXN, USD)
    exchange_rate: Decimal | None
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    payment_method: str      # PUE or PPD ('' for P)
    po_number: str           # '' when not against a PO
    in_sage: bool            # already imported: APIBH/APIBHO FOLIOCFD in a posted batch
    pays: tuple[PaidDocument, ...] = ()  # P documents: the invoices they settle
    base_border: Decimal = Decimal(0)    # the part of the base taxed at 8 % (the rest at 16 %)
    withheld_iva: Decimal = Decimal(0)   # retención IVA
    withheld_isr: Decimal = Decimal(0)   # retención ISR
    related: tuple[str, ...] = ()        # E documents: the invoice UUIDs they credit (CfdiRelacionados 01)

    @property
    def withheld(self) -> Decimal:
        return self.withheld_iva + self.withheld_isr

    @property
    def document_number(self) -> str:
        return f"{self.series}-{self.folio}" if self.series else self.folio


@dataclass(frozen=True)
class PlanPaymentLine:
    invoice_number: str      # APTCP IDINVC = the AP document number
    cfdi_uuid: str           # '' where Sage has no FOLIOCFD for that invoice
    amount: Decimal


@dataclass(frozen=True)
class PlanPayment:
    batch: int               # APBTA/APTCR CNTBTCH
    entry: int               # APTCR CNTENTR
    docnbr: str              # DOCNBR = portal payment external_id
    vendor_id: str
    date: dt.date
    amount: Decimal
    currency: str
    bank: str
    check_number: str        # IDRMIT
    reversed: bool           # APPYM SWCHKCLRD = 2: must never reach the portal
    lines: tuple[PlanPaymentLine, ...]


@dataclass(frozen=True)
class Plan:
    seed: int
    company_rfc: str
    company_name: str
    today: dt.date
    vendors: tuple[PlanVendor, ...]
    pos: tuple[PlanPo, ...]
    cfdis: tuple[PlanCfdi, ...]
    payments: tuple[PlanPayment, ...]
    extra: dict = field(default_factory=dict, compare=False)
    # The portal tenant the plan is for: part of every portal provider id, so tenants built
    # from the same seed and company RFC live side by side on one stand-in.
    portal_tenant_id: str = ""

    def vendor(self, vendor_id: str) -> PlanVendor:
        return next(v for v in self.vendors if v.vendor_id == vendor_id)


def build_plan(
    *,
    seed: int = 1,
    vendors: int = 20,
    pos: int = 40,
    lines_per_po: int = 3,
    cfdis: int = 30,
    payments: int = 10,
    company_rfc: str = "DEM8801152E9",
    company_name: str = "Demostración Industrial SA de CV",
    today: dt.date | None = None,
    portal_tenant_id: str = "",
) -> Plan:
    rng = random.Random(seed)
    today = today or dt.date.today()
    plan_vendors = tuple(_vendor(rng, i, vendors) for i in range(vendors))
    sage_vendors = [v for v in plan_vendors if v.in_sage] or list(plan_vendors)
    plan_pos = tuple(_po(rng, i, sage_vendors, lines_per_po, today) for i in range(pos))
    plan_cfdis, payable = _cfdis(rng, cfdis, plan_vendors, sage_vendors, plan_pos, today)
    plan_payments = tuple(_payment(rng, i, payable, today) for i in range(min(payments, len(payable))))
    return Plan(seed, company_rfc, company_name, today, plan_vendors, plan_pos, plan_cfdis, plan_payments,
                portal_tenant_id=portal_tenant_id)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _rfc(rng: random.Random, index: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    # Every seventh vendor carries an '&' or 'Ñ', as real RFCs do.
    head = "".join(rng.choice(letters) for _ in range(3))
    if index % 7 == 3:
        head = head[:1] + "&" + head[2]
    elif index % 7 == 5:
        head = head[:2] + "Ñ"
    date = f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    homoclave = "".join(rng.choice(letters + "0123456789") for _ in range(2)) + rng.choice("0123456789A")
    return head + date + homoclave


def _vendor(rng: random.Random, index: int, count: int) -> PlanVendor:
    name = f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)} SA de CV"
    # The last sixth exist only on the portal: the providers step creates them in Sage.
    in_sage = index < count - max(1, count // 6)
    accepted = in_sage or index % 2 == 0
    return PlanVendor(
        vendor_id=f"P{index + 1:05d}",
        name=name,
        rfc=_rfc(rng, index),
        email=f"cxc{index + 1}@proveedor{index + 1}.example.mx",
        currency="USD" if index % 9 == 8 else "MXP",
        in_sage=in_sage,
        portal_status="ACCEPTED" if accepted else "PENDING",
        accepted_today=not in_sage and accepted,
        external_id_on_portal=in_sage and index % 3 != 0,
    )


def _po(rng: random.Random, index: int, vendors: list[PlanVendor], lines_per_po: int, today: dt.date) -> PlanPo:
    vendor = vendors[index % len(vendors)]
    state = PO_STATES[index % len(PO_STATES)]
    date = today - dt.timedelta(days=rng.randint(1, 90))
    lines = []
    for number in range(1, lines_per_po + 1):
        item_no, description, unit = rng.choice(_ITEMS)
        ordered = Decimal(rng.randint(1, 40) * 5)
        received, cancelled = _quantities(rng, state, ordered, number)
        lines.append(PlanPoLine(
            line_number=number * 1000, item_no=item_no, description=description,
            location=rng.choice(LOCATIONS), unit=unit, ordered=ordered, received=received,
            cancelled=cancelled, unit_cost=_money(rng, 10, 900),
        ))
    currency = "USD" if vendor.currency == "USD" else "MXP"
    return PlanPo(
        porhseq=1000 + index,
        po_number=f"PO{index + 1:06d}",
        vendor_id=vendor.vendor_id,
        date=date,
        expected=date + dt.timedelta(days=rng.randint(5, 30)),
        state=state,
        portype=2 if state == "standing" else 1,
        currency=currency,
        rate=Decimal("17.2500") if currency == "USD" else Decimal(1),
        description=f"Compra {index + 1}",
        lines=tuple(lines),
        optional_fields=(("USOCFDI", "G03"),) + ((("AUTORIZADA", "SI"),) if index % 5 else ()),
    )


def _quantities(rng: random.Random, state: str, ordered: Decimal, number: int) -> tuple[Decimal, Decimal]:
    if state == "complete":
        return ordered, Decimal(0)
    if state == "cancelled":
        return Decimal(0), ordered
    if state == "partly_cancelled" and number == 1:
        return Decimal(0), (ordered / 2).quantize(Decimal(1))
    if state == "partly_received" and number == 1:
        return (ordered / 2).quantize(Decimal(1)), Decimal(0)
    return Decimal(0), Decimal(0)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def _cfdis(rng, count, all_vendors, sage_vendors, pos, today):
    """Invoices (I), credit notes (E) and payment CFDIs (P) for PPD invoices."""
    items: list[PlanCfdi] = []
    ppd_in_sage: list[PlanCfdi] = []
    payable: list[PlanCfdi] = []
    for index in range(count):
        vendors = all_vendors if index % 10 == 9 else sage_vendors
        vendor = vendors[index % len(sage_vendors) if index % 10 != 9 else -1]
        kind = "E" if index % 8 == 7 else "I"
        if index % 6 == 5 and ppd_in_sage:
            items.append(_payment_cfdi(rng, index, ppd_in_sage.pop(0), today))
            continue
        credited = _credited(items, index) if kind == "E" else None
        if credited is not None:
            vendor = next(v for v in all_vendors if v.vendor_id == credited.vendor_id)
        subtotal = _money(rng, 500, 60000)
        discount = _money(rng, 0, 50) if index % 4 == 1 else Decimal(0)
        usd = vendor.currency == "USD"
        taxes = _taxes(index, kind, usd, subtotal - discount)
        vendor_pos = [po for po in pos if po.vendor_id == vendor.vendor_id]
        cfdi = PlanCfdi(
            uuid=_uuid(rng), kind=kind, vendor_id=vendor.vendor_id, issuer_rfc=vendor.rfc,
            issuer_name=vendor.name,
            issued=dt.datetime.combine(today - dt.timedelta(days=rng.randint(0, 40)), dt.time(10, 15, index % 60)),
            series="FA" if kind == "I" else "NC", folio=str(1000 + index),
            currency="USD" if usd else "MXN", exchange_rate=Decimal("17.2500") if usd else None,
            subtotal=subtotal, discount=discount, tax=taxes["tax"],
            total=subtotal - discount + taxes["tax"] - taxes["withheld_iva"] - taxes["withheld_isr"],
            payment_method="PPD" if index % 3 == 0 else "PUE",
            po_number=vendor_pos[0].po_number if vendor_pos and kind == "I" and index % 2 == 0 else "",
            # About a third were imported into Sage before we started.
            in_sage=index % 3 == 1 or (index % 3 == 0 and index % 2 == 1),
            base_border=taxes["base_border"], withheld_iva=taxes["withheld_iva"], withheld_isr=taxes["withheld_isr"],
            related=_related(credited, index) if kind == "E" else (),
        )
        items.append(cfdi)
        if cfdi.kind == "I" and cfdi.in_sage:
            payable.append(cfdi)
            if cfdi.payment_method == "PPD":
                ppd_in_sage.append(cfdi)
    return tuple(items), payable


def _taxes(index: int, kind: str, usd: bool, base: Decimal) -> dict[str, Decimal]:
    """Every eleventh invoice has a second IVA rate; every thirteenth (in pesos) carries
    withholdings; the rest are plain 16 %."""
    border = (base * Decimal("0.3")).quantize(CENT, ROUND_HALF_UP) if kind == "I" and index % 11 == 4 else Decimal(0)
    withholding = kind == "I" and not usd and not border and index % 13 == 6
    standard = base - border
    return {
        "base_border": border,
        "tax": (standard * IVA).quantize(CENT, ROUND_HALF_UP) + (border * IVA_BORDER).quantize(CENT, ROUND_HALF_UP),
        "withheld_iva": (standard * IVA_WITHHELD).quantize(CENT, ROUND_HALF_UP) if withholding else Decimal(0),
        "withheld_isr": (base * ISR_WITHHELD).quantize(CENT, ROUND_HALF_UP) if withholding else Decimal(0),
    }


def _credited(items: list[PlanCfdi], index: int) -> PlanCfdi | None:
    """The invoice a credit note corrects: the latest one Sage holds (the note comes from its vendor)."""
    if index % 16 == 15:
        return None
    return next((item for item in reversed(items) if item.kind == "I" and item.in_sage), None)


def _related(credited: PlanCfdi | None, index: int) -> tuple[str, ...]:
    # Every other note names an invoice Sage never had: it is imported unapplied.
    return (credited.uuid,) if credited else (str(uuid.UUID(int=index + 1, version=4)).upper(),)


def _payment_cfdi(rng, index, invoice: PlanCfdi, today) -> PlanCfdi:
    paid = invoice.total
    return PlanCfdi(
        uuid=_uuid(rng), kind="P", vendor_id=invoice.vendor_id, issuer_rfc=invoice.issuer_rfc,
        issuer_name=invoice.issuer_name,
        issued=dt.datetime.combine(today - dt.timedelta(days=rng.randint(0, 5)), dt.time(12, 0, index % 60)),
        series="CP", folio=str(5000 + index), currency="XXX", exchange_rate=None,
        subtotal=Decimal(0), discount=Decimal(0), tax=Decimal(0), total=Decimal(0),
        payment_method="", po_number="", in_sage=False,
        pays=(PaidDocument(invoice.uuid, 1, invoice.total, paid, invoice.currency,
                           invoice.exchange_rate or Decimal(1)),),
    )


def _payment(rng, index, payable: list[PlanCfdi], today) -> PlanPayment:
    invoice = payable[index]
    # Every fifth payment applies to an invoice Sage holds without its UUID
    # (captured by hand): it must wait, never go out with an empty UUID.
    uuid_known = index % 5 != 4
    amount = invoice.total
    return PlanPayment(
        batch=500 + index // 4, entry=index % 4 + 1, docnbr=f"PY{index + 1:07d}", vendor_id=invoice.vendor_id,
        date=today - dt.timedelta(days=rng.randint(0, 20)), amount=amount,
        currency="USD" if invoice.currency == "USD" else "MXP", bank="BANORTE",
        check_number=f"{9000 + index}", reversed=index % 7 == 6,
        lines=(PlanPaymentLine(invoice.document_number, invoice.uuid if uuid_known else "", amount),),
    )
