"""Portal payloads, named after the schemas of focaltec/openapi.json.

Requests are strict (extra fields forbidden, the spec's required fields,
enums, patterns and max lengths); responses tolerate fields we do not know,
because Focaltec adds fields without notice.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

# The portal's JSON numbers: Decimals go out as numbers, not the strings pydantic would write.
Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
# date-time fields (the spec's format) go out as RFC 3339 with milliseconds and offset.
PortalDateTime = Annotated[
    AwareDatetime, PlainSerializer(lambda value: value.isoformat(timespec="milliseconds"), return_type=str)
]
RFC_PATTERN = r"^[A-Z&Ñ]{3,4}[0-9]{2}(0[1-9]|1[012])(0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]$"
PAGE_SIZE_MAX = 200
BATCH_PURCHASE_ORDERS_MAX = 50

PurchaseOrderStatus = Literal["OPEN", "CANCELLED", "GENERATED", "CLOSED"]
CfdiType = Literal["INVOICE", "CREDIT_NOTE", "PAYMENT_CFDI", "ADVANCE"]
CfdiStage = Literal[
    "PENDING_TO_SEND", "PENDING_TO_AUTHORIZE", "PENDING_TO_VALIDATE", "PENDING_TO_PAY", "DELIVERED_ERP",
    "INCLUDED_IN_PAYMENT_ORDER", "PAYMENT_COMPLETED", "FINISHED",
]
IdType = Literal["INTERNAL", "EXTERNAL"]
CfdiUse = Literal[
    "G01", "G02", "G03", "I01", "I02", "I03", "I04", "I05", "I06", "I07", "I08",
    "D01", "D02", "D03", "D04", "D05", "D06", "D07", "D08", "D09", "D10", "P01",
]
PaymentForm = Literal[
    "F01", "F02", "F03", "F04", "F05", "F06", "F08", "F12", "F13", "F14", "F15", "F17",
    "F23", "F24", "F25", "F26", "F27", "F28", "F29", "F30", "F99",
]
OperationType = Literal["TRANSFER", "BANK_CHECK", "CASH", "CREDIT_CARD", "DEBIT_CARD", "NOT_DEFINED", "ANY"]
DocumentType = Literal["CFDI", "EXPENSES_ACCOUNT", "HONORARIUM", "FOREIGN", "FOREIGN_CREDIT_NOTE", "REFUND",
                       "ADVANCE_PAYMENT"]


def portal_datetime(day: dt.date, time_zone: str = "America/Mexico_City") -> dt.datetime:
    """A business date as the portal's date-time: local midnight in the tenant's time zone."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(time_zone))


class PortalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class PortalResponse(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- providers ---------------------------------------------------------------

class ExternProviderExtendedFieldRequest(PortalRequest):
    external_id: str
    file: str | None = None
    value: str | None = None


class ProviderRequest(PortalRequest):
    allow_invoice_reception: bool
    allow_make_advance_payments: bool | None = None
    cash_discount_days: int | None = None
    cash_discount_percentage: Amount | None = None
    classifications: list[str] | None = None
    companies: list[str] | None = None
    country: str
    credit_days: int
    currency: str
    declaration_frequency: Literal["MONTHLY", "BIMONTHLY"] | None = None
    delivers_other_product_services: bool | None = None
    enabled: bool
    extended_fields: list[ExternProviderExtendedFieldRequest] | None = None
    external_id: str | None = None
    gln: str | None = Field(default=None, max_length=30)
    make_advance_payments: bool | None = None
    max_cfdi_pending_doc: int | None = None
    max_payment_cfdi_pending: int | None = None
    name: str
    need_ledger_assignment: bool | None = None
    only_se: bool | None = None
    provider_id_accounts_payable: str | None = None
    require_consignment_note: Literal["NOT_REQUIRED", "ALERT_WITHOUT", "REQUIRED"]
    rfc: str = Field(pattern=RFC_PATTERN)
    skip_reception_date_validation: bool | None = None
    tax_id: str | None = None
    template_id: str | None = None
    type: Literal["REGULAR", "CUSTOMS_AGENT", "FOREIGN", "VENDOR"]
    unlimited_cfdi_pending_doc: bool | None = None
    unlimited_payment_cfdi_pending: bool
    upload_sipare: bool | None = None
    use_advance_invoices: bool
    use_cash_discount: bool | None = None
    use_max_cfdi_pending_doc_tenant_config: bool | None = None
    use_max_payment_cfdi_pending_tenant_config: bool | None = None
    use_tenant_credit_days: bool
    workflows: list[str] | None = None


class ProviderExternalIdUpdateRequest(PortalRequest):
    external_id: str


class BankAccountResponse(PortalResponse):
    bank_name: str | None = None
    account: str | None = None
    clabe: str | None = None


class ExpedientBankAccountResponse(PortalResponse):
    status: str | None = None  # PENDING, ACCEPTED, EXPIRED, NOT_ACCEPTED
    value: BankAccountResponse | None = None


class ExpedientResponse(PortalResponse):
    status: str | None = None
    bank_accounts: dict[str, ExpedientBankAccountResponse] | None = None


class ProviderResponse(PortalResponse):
    id: str | None = None
    external_id: str | None = None
    name: str | None = None
    rfc: str | None = None
    tax_id: str | None = None
    status: str | None = None
    expedient_status: str | None = None
    expedient: ExpedientResponse | None = None
    country: str | None = None
    currency_str: str | None = None
    credit_days: int | None = None
    type: str | None = None

    def accepted_bank_account(self) -> BankAccountResponse | None:
        """The first bank account of the expedient the buyer accepted, if any."""
        accounts = (self.expedient.bank_accounts or {}) if self.expedient else {}
        return next((a.value for _key, a in sorted(accounts.items()) if a.status == "ACCEPTED" and a.value), None)


class ProvidersResponse(PortalResponse):
    total: int = 0
    items: list[ProviderResponse] = []


# --- purchase orders ---------------------------------------------------------

class MetadataRequest(PortalRequest):
    key: str
    value: str


class BatchLineTaxRequest(PortalRequest):
    amount: Amount
    code: Literal["IVA", "IEPS", "ISR"] | None = None
    external_code: str | None = None
    rate: Amount | None = None


class BatchPurchaseOrderLineRequest(PortalRequest):
    budget_id: str | None = None
    budget_line_external_id: str | None = None
    code: str
    comments: str | None = None
    description: str = Field(max_length=250)
    external_id: str
    metadata: list[MetadataRequest] | None = None
    num: int | None = None
    price: Amount
    quantity: Amount
    requisition_line_id: str | None = None
    subtotal: Amount
    total: Amount
    unit_of_measure: str | None = None
    vat_taxes: list[BatchLineTaxRequest] | None = None
    withholding_taxes: list[BatchLineTaxRequest] | None = None


class BatchAddressRequest(PortalRequest):
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=100)
    exterior_number: str | None = Field(default=None, max_length=100)
    identifier: str | None = Field(default=None, max_length=100)
    interior_number: str | None = Field(default=None, max_length=100)
    municipality: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    street: str = Field(max_length=100)
    suburb: str | None = Field(default=None, max_length=100)
    type: Literal["BILLING", "SHIPPING"]
    zip_code: str | None = None


class ExternPurchaseOrderRequest(PortalRequest):
    acceptance_status: Literal["ACCEPTED", "REFUSED", "PENDING_TO_REVIEW"] | None = None
    addresses: list[BatchAddressRequest]
    cfdi_payment_form: PaymentForm | None = None
    cfdi_payment_method: Literal["PPD", "PUE"] | None = None
    cfdi_use: CfdiUse | None = None
    comments: str | None = Field(default=None, max_length=512)
    company_external_id: str | None = None
    currency: str = Field(min_length=3, max_length=3)
    date: PortalDateTime
    delivery_contact: str
    delivery_date: PortalDateTime
    exchange_rate: Amount | None = None
    external_id: str
    lines: list[BatchPurchaseOrderLineRequest]
    metadata: list[MetadataRequest] | None = None
    num: str | None = None
    owners: list[str] | None = None
    provider_external_id: str = Field(max_length=50)
    reference: str | None = Field(default=None, max_length=100)
    requested_by_contact: str
    requisition_number: int | None = None
    status: PurchaseOrderStatus
    subtotal: Amount
    total: Amount
    vat_sum: Amount | None = None
    warehouse: str | None = None
    withhold_tax_sum: Amount | None = None


class PurchaseOrderChangeStatusRequest(PortalRequest):
    status: PurchaseOrderStatus


class BatchUpsertPurchaseOrdersRequest(PortalRequest):
    # The spec sets no limit; the portal's guidance is at most 50 orders a call.
    purchase_orders: list[ExternPurchaseOrderRequest] = Field(min_length=1, max_length=BATCH_PURCHASE_ORDERS_MAX)


class GeneralErrorResponse(PortalResponse):
    error_code: str | None = None
    error_message: str | None = None
    error_source: str | None = None


class PurchaseOrderLine(PortalResponse):
    external_id: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    line_total: Decimal | None = None


class PurchaseOrderCoreResponse(PortalResponse):
    id: str | None = None
    external_id: str | None = None
    status: str | None = None
    provider_id: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    lines: list[PurchaseOrderLine] = []


class PurchaseOrdersCoreResponse(PortalResponse):
    total: int = 0
    items: list[PurchaseOrderCoreResponse] = []


class IPurchaseOrdeChangeStatusResponse(PortalResponse):
    errors: list[GeneralErrorResponse] = []
    external_id: str | None = None
    internal_id: str | None = None
    status: str | None = None


class BatchUpsertPurchaseOrderResponse(PortalResponse):
    errors: list[GeneralErrorResponse] = []
    external_id: str | None = None
    internal_id: str | None = None
    status: str | None = None  # CREATED, UPDATED or ERROR


class BatchUpsertPurchaseOrdersResponse(PortalResponse):
    id: str | None = None
    orders_status: list[BatchUpsertPurchaseOrderResponse] = []
    status: str | None = None  # NEW, PROCESSING, PROCESSED
    type: str | None = None  # ASYNC, SYNC


# --- CFDIs -------------------------------------------------------------------

class Timbre(PortalResponse):
    uuid: str | None = None
    fecha_timbrado: str | None = None


class Emisor(PortalResponse):
    rfc: str | None = None
    nombre: str | None = None


class Receptor(PortalResponse):
    rfc: str | None = None
    nombre: str | None = None


class CfdiRaw(PortalResponse):
    emisor: Emisor | None = None
    receptor: Receptor | None = None
    timbre: Timbre | None = None
    serie: str | None = None
    folio: str | None = None
    moneda: str | None = None
    total: Decimal | None = None
    tipo_comprobante: str | None = None
    version: str | None = None


class CfdiMetadataResponse(PortalResponse):
    provider_id: str | None = None
    provider_external_id: str | None = None
    provider_rfc: str | None = None
    type: str | None = None
    status: str | None = None
    erp_id: str | None = None
    erp_status: str | None = None
    created_at: str | None = None  # when the CFDI reached the portal
    cancelled_by_sat: bool | None = None
    cancelled_in_tenant: bool | None = None
    purchase_orders: list[dict[str, Any]] | None = None


class CfdiExternResponse(PortalResponse):
    id: str | None = None
    cfdi: CfdiRaw | None = None
    metadata: CfdiMetadataResponse | None = None

    @property
    def cfdi_uuid(self) -> str | None:
        timbre = self.cfdi.timbre if self.cfdi else None
        return timbre.uuid.upper() if timbre and timbre.uuid else None


class CfdiResponse(CfdiExternResponse):
    pass


class CfdisExternResponse(PortalResponse):
    total: int = 0
    items: list[CfdiExternResponse] = []


class CfdiFilesResponse(PortalResponse):
    xml: str | None = None
    pdf: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None


class CfdiProgressRequest(PortalRequest):
    cfdi_id: str
    new_status: str = Field(max_length=35)
    uuid: str


class BatchCfdiProgressRequest(PortalRequest):
    cfdis: list[CfdiProgressRequest] = Field(min_length=1)


class BatchResponseCfdiResponse(PortalResponse):
    error_code: int | None = None
    error_message: str | None = None
    id: str | None = None
    item: CfdiResponse | None = None


class BatchCfdiResponse(PortalResponse):
    id: str | None = None
    results: list[BatchResponseCfdiResponse] = []


# --- payments ----------------------------------------------------------------

class CfdiToPayExternRequest(PortalRequest):
    amount: Amount
    currency: str
    document_type: DocumentType | None = None
    exchange_rate: Amount
    identifier: str | None = None
    payment_amount: Amount
    payment_currency: str | None = None
    # An empty UUID is rejected by the portal (2390): refuse it before sending.
    uuid: str = Field(min_length=1)


class OnePaymentRequest(PortalRequest):
    bank_account_id: str | None = None
    cfdis: list[CfdiToPayExternRequest] = Field(min_length=1)
    comments: str | None = None
    currency: str
    external_id: str | None = None
    ignore_amounts: bool | None = None
    operation_type: OperationType | None = None
    payment_date: PortalDateTime
    provider_external_id: str | None = None
    reference: str | None = None
    total_amount: Amount


class BatchPaymentRequest(PortalRequest):
    payments: list[OnePaymentRequest] = Field(min_length=1)


class ExternPaymentCfdiResponse(PortalResponse):
    uuid: str | None = None
    amount: Decimal | None = None
    payment_amount: Decimal | None = None


class ExternalPaymentResponse(PortalResponse):
    id: str | None = None
    external_id: str | None = None
    status: str | None = None
    total_amount: Decimal | None = None
    cfdis: list[ExternPaymentCfdiResponse] = []


class BatchResponseExternalPaymentResponse(PortalResponse):
    error_code: int | None = None
    error_message: str | None = None
    id: str | None = None
    item: ExternalPaymentResponse | None = None


class BatchPaymentResponse(PortalResponse):
    id: str | None = None
    results: list[BatchResponseExternalPaymentResponse] = []
