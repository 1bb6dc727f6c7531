"""The properties the Sage 300 Web API stand-in accepts, resource by resource.

Real Sage refuses a property its model does not have (the SDK's Postman
walk-through "Dealing with Errors" PATCHes `{"InvalidProperty": ...}` to get
Sage's error back), so the stand-in refuses every name not listed here, and
every enum word not in the list Sage's material gives, with InvalidPayload.

Sources (cited per shape below):
- FIELDS.md: ../shared/sage/FIELDS.md, from Sage's SDK samples and a live
  `GET AP/APVendors` model.
- SDK samples: Sage's sample POST payloads (tests/fixtures/sage/).
- AOM: Sage's Application Object Model table pages (field lists and enum lists).
- Sage model source: Sage.CA.SBS.ERP.Sage300.Common.Models.InvoiceEntry
  (BaseInvoiceBatch / BaseInvoice / BaseInvoiceDetail and their *Fields.cs maps).
- Live AP invoice model: the AP invoice properties of a public Sage 300
  integration's view map (fclinton31/AccpacGraphQL, Domain/APInvoices.cs).
- Developer Reference: SDK docs/webapi/Sage300SDK_DeveloperReference.docx
  (UpdateOperation on every detail, §9).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.sage_webapi.common import SageError

# Developer Reference §9: every detail entity has UpdateOperation.
UPDATE_OPERATIONS = ("Unspecified", "Insert", "Update", "Delete")
YES_NO = ("No", "Yes")  # Sage model enum AllowedType (No = 0, Yes = 1)


@dataclass(frozen=True)
class Shape:
    type_name: str
    properties: frozenset[str]
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    children: dict[str, "Shape"] = field(default_factory=dict)

    def check(self, body: Any, where: str) -> dict[str, Any]:
        """`body` as a dict with only this shape's names and enum words, or InvalidPayload."""
        if not isinstance(body, dict):
            raise SageError("InvalidPayload", f"{where}: expected a {self.type_name} object.")
        allowed = self.properties | set(self.children)
        for name in body:
            if name not in allowed:
                raise SageError("InvalidPayload",
                                f"{where}: the property '{name}' does not exist on type '{self.type_name}'.")
        for name, words in self.enums.items():
            value = body.get(name)
            if value is not None and value not in words:
                raise SageError("InvalidPayload", f"{where}: '{value}' is not a valid value of {name} "
                                                  f"({', '.join(words)}).")
        for name, child in self.children.items():
            value = body.get(name)
            if value is None:
                continue
            if not isinstance(value, list):
                raise SageError("InvalidPayload", f"{where}: {name} must be a list.")
            for index, element in enumerate(value, start=1):
                child.check(element, f"{where} {name}[{index}]")
        return body


def _numbered(*stems: str, upto: int = 5) -> set[str]:
    return {f"{stem}{n}" for stem in stems for n in range(1, upto + 1)}


# ---------------------------------------------------------------------------
# AP/APVendors (FIELDS.md "AP/APVendors": the live model's properties; the
# "… statistics fields …" it elides are not accepted — they are read-only).

VENDOR_OPTIONAL_FIELD = Shape(
    "VendorOptionalFieldValue",
    frozenset({
        "VendorNumber", "OptionalField", "Value", "VendorOptionalFieldValueType", "Length", "Decimals",
        "AllowBlank", "Validate", "ValueSet", "TypedValueFieldIndex", "TextValue", "AmountValue", "NumberValue",
        "IntegerValue", "YesNoValue", "DateValue", "TimeValue", "OptionalFieldDescription", "ValueDescription",
        "UpdateOperation",
    }),
    enums={"UpdateOperation": UPDATE_OPERATIONS},
)

VENDOR = Shape(
    "Vendor",
    frozenset({
        "VendorNumber", "ShortName", "GroupCode", "Status", "InactiveDate", "DateLastMaintained", "OnHold",
        "StartDate", "ParticipantID", "VendorName", "AddressLine1", "AddressLine2", "AddressLine3",
        "AddressLine4", "City", "StateProvince", "ZipPostalCode", "Country", "ContactName", "PhoneNumber",
        "FaxNumber", "PrimaryRemitToLocation", "AccountSet", "CurrencyCode", "RateType", "BankCode",
        "PrintSeparateChecks", "DistributionSet", "DistributionCode", "GLAccount", "Terms", "DuplicateAmountCode",
        "DuplicateDateCode", "TaxGroup", "TaxReportingType", "TaxType", "CreditLimit", "PaymentCode",
        "DistributionType", "CheckLanguage", "ContactsEmail", "Email", "WebSite", "ContactsPhone", "ContactsFax",
        "DeliveryMethod", "NumberOfOptionalFields", "ProcessCommandCode", "LegalName",
        "BusinessRegistrationNumber", "FirstName", "LastName", "VendorContactSelection", "UpdateOperation",
    } | _numbered("TaxClassCode", "TaxRegistrationCode", "TaxIncluded")),
    # Status: AOM APVEN SWACTV (0 inactive, 1 active); OnHold: SDK sample
    # APVendors.json sends "NotOnHold" (its other word is on the README's
    # unverified list).
    enums={"Status": ("Active", "Inactive"), "OnHold": ("NotOnHold", "OnHold"),
           "PrintSeparateChecks": YES_NO},
    children={"VendorOptionalFieldValues": VENDOR_OPTIONAL_FIELD},
)

# ---------------------------------------------------------------------------
# AP/APInvoiceBatches (SDK samples APInvoiceBatches_*.json; FIELDS.md; AOM
# APIBC/APIBH/APIBD; Sage model source BaseInvoice*; live AP invoice model).

INVOICE_OPTIONAL_FIELD = Shape(
    "InvoiceOptionalField",
    frozenset({"BatchNumber", "EntryNumber", "OptionalField", "Value", "UpdateOperation"}),
    enums={"UpdateOperation": UPDATE_OPERATIONS},
)

INVOICE_DETAIL = Shape(
    "InvoiceDetail",
    frozenset({
        "BatchNumber", "EntryNumber", "LineNumber", "DistributionCode", "DistributionDescription", "GLAccount",
        "DistributedAmount", "DistributedAmountBeforeTaxes", "TaxTotal", "Comment", "UpdateOperation",
    } | _numbered("TaxClass", "TaxAmount", "TaxBase")),
    enums={"UpdateOperation": UPDATE_OPERATIONS},
)

INVOICE_PAYMENT_SCHEDULE = Shape(
    "InvoicePaymentSchedule",
    frozenset({"BatchNumber", "EntryNumber", "PaymentNumber", "DueDate", "DiscountDate", "AmountDue",
               "DiscountAmount", "UpdateOperation"}),
    enums={"UpdateOperation": UPDATE_OPERATIONS},
)

INVOICE = Shape(
    "Invoice",
    frozenset({
        "BatchNumber", "EntryNumber", "VendorNumber", "DocumentNumber", "DocumentType", "InvoiceDescription",
        "DocumentDate", "AsOfDate", "DueDate", "PostingDate", "PONumber", "OrderNumber", "RemitToLocation",
        "AccountSet", "ApplytoDocument", "CurrencyCode", "RateType", "RateOverridden", "ExchangeRate", "Terms",
        "TaxGroup", "TaxAmountControl", "DocumentTotalBeforeTaxes", "DocumentTotalIncludingTax", "TaxTotal",
        "DistributedTotalIncludingTax", "UndistributedAmount", "OnHold", "UpdateOperation", "ProcessCommandCode",
    } | _numbered("TaxClass", "TaxBase", "TaxAmount")),
    # DocumentType: AOM APIBH TEXTTRX; TaxAmountControl: AOM APIBH SWCALCTX;
    # RateOverridden: AOM APIBH SWMANRTE (0 No, 1 Yes).
    enums={"DocumentType": ("Invoice", "DebitNote", "CreditNote", "Interest"),
           "TaxAmountControl": ("Enter", "Calculate", "Distribute"),
           "RateOverridden": YES_NO, "UpdateOperation": UPDATE_OPERATIONS},
    children={"InvoiceDetails": INVOICE_DETAIL, "InvoiceOptionalFields": INVOICE_OPTIONAL_FIELD,
              "InvoicePaymentSchedules": INVOICE_PAYMENT_SCHEDULE},
)

# AOM APIBC: BTCHSTTS and BTCHTYPE lists; PROCESSCMD list.
BATCH_STATUSES = ("Open", "Posted", "Deleted", "PostInProgress", "ReadyToPost")
PROCESS_COMMANDS = ("UnlockBatchResource", "LockBatchResourceShared", "LockBatchResourceExclusive")

INVOICE_BATCH = Shape(
    "InvoiceBatch",
    frozenset({
        "BatchNumber", "BatchDate", "BatchStatus", "Description", "BatchType", "NumberOfEntries", "BatchTotal",
        "LastEntryNumber", "PostingSequenceNo", "NumberOfErrors", "DateLastEdited", "SourceApplication",
        "ProcessCommandCode",
    }),
    enums={"BatchStatus": BATCH_STATUSES,
           "BatchType": ("Entered", "Imported", "Generated", "Recurring", "External", "Retainage"),
           "ProcessCommandCode": PROCESS_COMMANDS},
    children={"Invoices": INVOICE},
)

# ---------------------------------------------------------------------------
# AP/APPaymentAndAdjustmentBatches (FIELDS.md; SDK samples
# APPaymentAndAdjustmentBatches_Prepayment.json / _Adjustment.json; AOM
# APBTA/APTCR/APTCP enum lists).

ADJUSTMENT_DISTRIBUTION = Shape(
    "AdjustmentGLDistribution",
    frozenset({"BatchType", "BatchNumber", "EntryNumber", "LineNumber", "SequenceNumber", "TransactionType",
               "DistributionAmount", "DistributionCode", "DistributionGLAccount", "DocumentLineNumber",
               "UpdateOperation"}),
    enums={"UpdateOperation": UPDATE_OPERATIONS},
)

APPLIED_PAYMENT = Shape(
    "AppliedPayment",
    frozenset({"BatchType", "BatchNumber", "EntryNumber", "LineNumber", "VendorNumber", "DocumentNumber",
               "PaymentType", "PaymentAmount", "DocumentDate", "UpdateOperation"}),
    # AOM APTCP TRXTYPE: 51 Payment, 57 Prepayment, 81 Adjustment (posted).
    enums={"BatchType": ("PY", "AD"), "PaymentType": ("Payment", "Prepayment", "Adjustment"),
           "UpdateOperation": UPDATE_OPERATIONS},
    children={"AdjustmentGLDistributions": ADJUSTMENT_DISTRIBUTION},
)

PAYMENT_ENTRY = Shape(
    "PaymentAdjustment",
    frozenset({"BatchType", "BatchNumber", "EntryNumber", "CheckNumber", "VendorNumber",
               "PaymentDateAdjustmentDate", "EntryDescription", "VendorPayeeName", "CheckAmountInBankCurrency",
               "CheckAmountInVendorCurrency", "TotalPrepayVendorCurrency", "PaymentTransactionType",
               "CheckPrintRequired", "EntryReference", "UpdateOperation"}),
    # AOM APTCR RMITTYPE: Payment, Prepayment, Apply Document, Misc. Payment, Adjustment.
    enums={"BatchType": ("PY", "AD"),
           "PaymentTransactionType": ("Payment", "Prepayment", "ApplyDocument", "MiscPayment", "Adjustment"),
           "CheckPrintRequired": YES_NO, "UpdateOperation": UPDATE_OPERATIONS},
    children={"AppliedPayments": APPLIED_PAYMENT},
)

PAYMENT_BATCH = Shape(
    "PaymentAndAdjustmentBatch",
    frozenset({"BatchSelector", "BatchNumber", "BatchDate", "BatchStatus", "Description", "BankCode",
               "BankCurrencyCode", "ProcessCommandCode"}),
    # AOM APBTA: PAYMTYPE "Batch Selector" PY/AD; BATCHSTAT list.
    enums={"BatchSelector": ("PY", "AD"),
           "BatchStatus": ("Open", "Posted", "Deleted", "PostInProgress", "ReadyToPost", "CheckCreationInProgress"),
           "ProcessCommandCode": PROCESS_COMMANDS},
    children={"PaymentsAdjustments": PAYMENT_ENTRY},
)
