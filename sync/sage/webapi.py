"""Client of the Sage 300 Web API (EXTERNAL.md §2), one per tenant.

Only this module talks HTTP to Sage. Every call has explicit connect/read
timeouts; failures are sorted by Sage's error `code` into permanent ones (the
request is wrong: stop, record, show) and retryable ones (the server is
busy or down: back off, bounded). Writes are retried only when Sage surely did
not act on them: a POST whose answer got lost is reported, not repeated, so the
caller re-checks Sage (FOLIOCFD) before it tries again.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import requests
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, PlainSerializer, field_serializer

from sageconnect.outside_calls import call_kind, count_call, limit_for

logger = logging.getLogger(__name__)

API_ROOT = "Sage300WebApi/v1.0/-"
PAGE_SIZE = 100
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0

# Sage's error codes (EXTERNAL.md §2; Developer Reference §12.1 adds
# InvalidEntityKey, MethodNotAllowed, InvalidAction) by what the caller can do.
PERMANENT_CODES = frozenset({
    "Unauthorized", "Forbidden", "InvalidParameters", "ResourceNotFound", "RecordNotFound",
    "InvalidPayload", "RecordDuplicate", "RecordInvalid", "General", "InvalidEntityKey", "MethodNotAllowed",
    "InvalidAction",
})
RETRYABLE_CODES = frozenset({"InternalServerError", "TooManyRequests", "DBLinkError", "SessionError"})
# Answers after which Sage has surely not written anything: safe to resend a POST.
_NOT_PROCESSED_STATUSES = frozenset({429, 502, 503, 504})
_NOT_PROCESSED_CODES = frozenset({"TooManyRequests", "DBLinkError", "SessionError"})


class WebApiError(Exception):
    """A Sage Web API failure with Sage's error code and a secret-free message."""

    retryable = False

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class WebApiPermanentError(WebApiError):
    """The request itself is wrong (bad record, duplicate, no rights): do not repeat it."""


class WebApiRetryableError(WebApiError):
    """Sage is busy or unreachable: the same request may succeed later."""

    retryable = True
    retry_after: float | None = None  # seconds, when Sage said (Retry-After)


class WebApiUnavailable(WebApiRetryableError):
    """The server did not answer at all."""


class WebApiOutcomeUnknown(WebApiRetryableError):
    """A write was sent and its answer lost: check Sage before sending it again."""


# ---------------------------------------------------------------------------
# OData query text

def odata_literal(value: Any) -> str:
    """A Python value as an OData v3 literal: 'text' (quotes doubled), 99.99m, dates."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}m"
    if isinstance(value, dt.datetime):
        return f"datetime'{value.strftime('%Y-%m-%dT%H:%M:%S')}'"
    if isinstance(value, dt.date):
        return f"datetime'{value.isoformat()}T00:00:00'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"No OData literal for {type(value).__name__}")


def odata_compare(field: str, operator: str, value: Any) -> str:
    if operator not in {"eq", "ne", "gt", "ge", "lt", "le"}:
        raise ValueError(f"Unknown OData operator {operator!r}")
    return f"{field} {operator} {odata_literal(value)}"


def odata_any_of(field: str, values: list[Any]) -> str:
    """`(VendorNumber eq '1200' or VendorNumber eq '1300')`; callers keep the list short."""
    return "(" + " or ".join(odata_compare(field, "eq", value) for value in values) + ")"


def odata_eq(**fields: Any) -> str:
    """`VendorNumber eq '1200' and DocumentNumber eq 'A-1'` from keyword arguments."""
    return " and ".join(odata_compare(name, "eq", value) for name, value in fields.items())


def key_segment(key: Any) -> str:
    """`(58)`, `('1200')` or `(BatchType='PY',BatchNumber=65)`, ready to append to a URL path."""
    if isinstance(key, Mapping):
        return "(" + ",".join(f"{quote(str(name), safe='')}={odata_key_value(value)}"
                              for name, value in key.items()) + ")"
    return f"({odata_key_value(key)})"


def odata_key_value(value: Any) -> str:
    # Keys are written without the m suffix: Sage's counters are whole numbers.
    if isinstance(value, Decimal):
        return str(int(value))
    if isinstance(value, str):
        # Percent-encoded inside the quotes: a key holding '/', '?', '#' or a quote stays one
        # key of this resource and cannot reach another company or resource.
        return "'" + quote(value.replace("'", "''"), safe="") + "'"
    return odata_literal(value)


# ---------------------------------------------------------------------------
# Payloads, with Sage's own field names (PascalCase) and order.

def _json_number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


Amount = Annotated[Decimal, PlainSerializer(_json_number, return_type=float | int, when_used="json")]


class SageModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class OptionalField(SageModel):
    """One optional field value: InvoiceOptionalFields[] (EXTERNAL.md §2) and
    VendorOptionalFieldValues[] (FIELDS.md) elements share these two names."""

    OptionalField: str
    Value: str


class APInvoiceDetail(SageModel):
    """A distribution line (SDK samples APInvoiceBatches_*.json: LineNumber,
    DistributionCode, DistributedAmount; GLAccount: Sage model BaseInvoiceDetail)."""

    LineNumber: int | None = None
    DistributionCode: str | None = None
    GLAccount: str | None = None
    DistributedAmount: Amount
    # Answered by Sage, never sent:
    BatchNumber: int | None = None
    EntryNumber: int | None = None
    TaxTotal: Amount | None = None


class APInvoice(SageModel):
    """An AP invoice, credit or debit note; fields in the order they are sent
    (Developer Reference §2.3: properties are applied in payload order).

    Beyond the SDK samples: ApplytoDocument, CurrencyCode, RateOverridden,
    ExchangeRate, TaxAmountControl, TaxAmount1..5, and the answered TaxTotal
    and UndistributedAmount are Sage's AP invoice names (Sage model source
    BaseInvoice / BaseInvoiceFields.cs: INVCAPPLTO, CODECURN, SWMANRTE,
    EXCHRATEHC, SWCALCTX, AMTTAX1..5, AMTTAXTOT, AMTUNDISTR; the live AP invoice
    model of fclinton31/AccpacGraphQL, Domain/APInvoices.cs, spells the same).
    """

    VendorNumber: str
    DocumentNumber: str
    DocumentType: str = "Invoice"          # Invoice | CreditNote | DebitNote (SDK samples)
    ApplytoDocument: str | None = None     # a credit note's invoice, as Sage numbers it
    InvoiceDescription: str | None = None
    DocumentDate: dt.date | None = None
    PONumber: str | None = None
    CurrencyCode: str | None = None
    RateOverridden: str | None = None      # "Yes": keep the ExchangeRate given (AOM APIBH SWMANRTE)
    ExchangeRate: Decimal | None = None
    TaxAmountControl: str | None = None    # Enter | Calculate | Distribute (AOM APIBH SWCALCTX)
    TaxAmount1: Amount | None = None
    TaxAmount2: Amount | None = None
    TaxAmount3: Amount | None = None
    TaxAmount4: Amount | None = None
    TaxAmount5: Amount | None = None
    DocumentTotalIncludingTax: Amount | None = None
    InvoiceOptionalFields: list[OptionalField] = []
    InvoiceDetails: list[APInvoiceDetail] = []
    # Answered by Sage, never sent:
    BatchNumber: int | None = None
    EntryNumber: int | None = None
    TaxTotal: Amount | None = None
    UndistributedAmount: Amount | None = None

    @field_serializer("ExchangeRate", when_used="json")
    def _rate(self, value: Decimal | None) -> float | None:
        return float(value) if value is not None else None

    def optional_field(self, name: str) -> str | None:
        for field in self.InvoiceOptionalFields:
            if field.OptionalField.strip().upper() == name.upper():
                return field.Value
        return None

    def tax_amounts(self) -> dict[int, Decimal]:
        return {n: getattr(self, f"TaxAmount{n}") for n in range(1, 6) if getattr(self, f"TaxAmount{n}") is not None}


class APInvoiceBatch(SageModel):
    BatchDate: dt.date | None = None
    Description: str = ""
    BatchStatus: str | None = None         # Open | ReadyToPost on a POST (Developer Reference §9.1)
    Invoices: list[APInvoice] = []
    BatchNumber: int | None = None
    NumberOfEntries: int | None = None
    BatchTotal: Amount | None = None

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        for generated in ("BatchNumber", "NumberOfEntries", "BatchTotal"):
            body.pop(generated, None)
        return body


class APVendor(SageModel):
    """A vendor with the names Sage's live model gives (FIELDS.md "AP/APVendors"):
    Terms (not TermsCode), TaxRegistrationCode1..5 (the RFC; not
    TaxRegistrationNumber), Email = the vendor's e-mail (EMAIL2), ContactsEmail =
    the contact's (EMAIL1), VendorOptionalFieldValues (not OptionalFields)."""

    # In the order of Sage's own sample and live model: the group before the
    # rest, so the vendor starts from the group's defaults (Developer
    # Reference §2.3: properties are applied in payload order).
    VendorNumber: str
    ShortName: str | None = None
    GroupCode: str | None = None
    Status: str | None = None              # Active | Inactive
    OnHold: str | None = None              # SDK sample: "NotOnHold"; never sent by us
    VendorName: str
    AddressLine1: str | None = None
    AddressLine2: str | None = None
    AddressLine3: str | None = None
    AddressLine4: str | None = None
    City: str | None = None
    StateProvince: str | None = None
    ZipPostalCode: str | None = None
    Country: str | None = None
    ContactName: str | None = None
    PhoneNumber: str | None = None
    Email: str | None = None
    ContactsEmail: str | None = None
    CurrencyCode: str | None = None
    Terms: str | None = None
    TaxGroup: str | None = None
    TaxRegistrationCode1: str | None = None
    TaxRegistrationCode2: str | None = None
    TaxRegistrationCode3: str | None = None
    TaxRegistrationCode4: str | None = None
    TaxRegistrationCode5: str | None = None
    BusinessRegistrationNumber: str | None = None
    VendorOptionalFieldValues: list[OptionalField] = []

    def optional_field(self, name: str) -> str | None:
        for field in self.VendorOptionalFieldValues:
            if field.OptionalField.strip().upper() == name.upper():
                return field.Value
        return None


# APVEN columns that can hold a vendor's RFC (Tenant.vendor_rfc_source) → Web API property
# (FIELDS.md: IDTAXREGI1..5 are TaxRegistrationCode1..5; BRN is BusinessRegistrationNumber).
VENDOR_PROPERTY_BY_COLUMN = {
    "IDTAXREGI1": "TaxRegistrationCode1", "IDTAXREGI2": "TaxRegistrationCode2",
    "IDTAXREGI3": "TaxRegistrationCode3", "IDTAXREGI4": "TaxRegistrationCode4",
    "IDTAXREGI5": "TaxRegistrationCode5", "BRN": "BusinessRegistrationNumber",
}


class APPostedDocument(SageModel):
    """A row of AP/APPostedDocuments (Endpoint Reference: AP0025 APOBL, GET only).
    Its property names are on the README's unverified list."""

    VendorNumber: str
    DocumentNumber: str
    DocumentType: str | None = None
    DocumentDate: dt.date | None = None
    CurrencyCode: str | None = None
    OriginalDocumentAmount: Amount | None = None
    CurrentBalance: Amount | None = None
    FullyPaid: str | None = None
    BatchNumber: int | None = None
    EntryNumber: int | None = None


def parse_sage_date(value: Any) -> dt.date | None:
    """Sage answers dates as `2026-01-18T00:00:00Z`; pydantic wants the date part."""
    if isinstance(value, str) and "T" in value:
        return dt.date.fromisoformat(value.split("T", 1)[0])
    return value


# ---------------------------------------------------------------------------
# The client

class SageWebApi:
    """The Sage 300 Web API of one tenant's company."""

    def __init__(
        self,
        tenant,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        retries: int = 3,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant_code = tenant.code
        self.company = (tenant.webapi_company or "").upper()
        self.base_url = f"{(tenant.webapi_url or '').rstrip('/')}/{API_ROOT}/{quote(self.company, safe='')}"
        self._password = tenant.webapi_password or ""
        self.session = session or _pooled_session()
        self.session.auth = (tenant.webapi_user or "", self._password)
        self.timeout = timeout
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.calls: Counter[str] = Counter()
        self.last_request: dict[str, Any] = {}
        self._check_settings(tenant)

    def _check_settings(self, tenant) -> None:
        missing = [name for name in ("webapi_url", "webapi_company", "webapi_user") if not getattr(tenant, name)]
        if missing:
            raise WebApiPermanentError(
                "Configuration",
                _("Tenant %(tenant)s: the Sage 300 Web API settings %(names)s are empty. "
                  "Fill them in on the tenant.") % {"tenant": self.tenant_code, "names": ", ".join(missing)},
            )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SageWebApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- AP invoice batches --------------------------------------------------

    def create_invoice_batch(self, batch: APInvoiceBatch) -> APInvoiceBatch:
        """POST one batch with its invoices; the answer carries BatchNumber and EntryNumbers."""
        answer = self.post("AP/APInvoiceBatches", batch.payload())
        return self._batch(answer)

    def invoice_batch(self, batch_number: int) -> APInvoiceBatch:
        return self._batch(self.get_by_key("AP/APInvoiceBatches", batch_number))

    def set_batch_status(self, batch_number: int, status: str) -> APInvoiceBatch:
        return self._batch(self.patch("AP/APInvoiceBatches", batch_number, {"BatchStatus": status}))

    def set_invoice_optional_field(self, batch_number: int, entry_number: int, field: OptionalField, *,
                                   operation: str) -> APInvoiceBatch:
        """PATCH one optional field of one entry of an unposted batch.

        Developer Reference, "Updating a resource entry (HTTP PATCH)": a partial payload changes only
        what it names; each detail is addressed by its key (BatchNumber, EntryNumber; for an optional
        field also OptionalField) and says what to do with UpdateOperation — "Insert" a new detail,
        "Update" an existing one. The Endpoint Reference lists PATCH for APInvoiceBatches (AP0020);
        a posted batch cannot be edited (FIELDS.md)."""
        keys = {"BatchNumber": batch_number, "EntryNumber": entry_number}
        body = {"BatchNumber": batch_number, "Invoices": [{**keys, "InvoiceOptionalFields": [
            {**keys, **field.payload(), "UpdateOperation": operation}]}]}
        return self._batch(self.patch("AP/APInvoiceBatches", batch_number, body))

    def invoice_batches(self, filter: str | None = None) -> Iterator[APInvoiceBatch]:
        for record in self.iterate("AP/APInvoiceBatches", filter=filter):
            yield self._batch(record)

    @staticmethod
    def _batch(record: dict[str, Any]) -> APInvoiceBatch:
        record = dict(record, BatchDate=parse_sage_date(record.get("BatchDate")))
        record["Invoices"] = [
            dict(invoice, DocumentDate=parse_sage_date(invoice.get("DocumentDate")))
            for invoice in record.get("Invoices") or []
        ]
        return APInvoiceBatch.model_validate(record)

    # -- AP vendors ------------------------------------------------------------

    def vendor(self, vendor_number: str) -> APVendor | None:
        try:
            return APVendor.model_validate(self.get_by_key("AP/APVendors", vendor_number))
        except WebApiPermanentError as error:
            if error.code == "RecordNotFound":
                return None
            raise

    def vendors(self, filter: str | None = None, *, select: list[str] | None = None) -> Iterator[APVendor]:
        for record in self.iterate("AP/APVendors", filter=filter, select=select):
            yield APVendor.model_validate(record)

    def vendors_by_tax_id(self, column: str, tax_id: str) -> list[APVendor]:
        """Vendors whose APVEN `column` (the tenant's vendor_rfc_source, e.g. IDTAXREGI1) holds `tax_id`."""
        try:
            field = VENDOR_PROPERTY_BY_COLUMN[column]
        except KeyError:
            raise ValueError(f"APVEN.{column} is not a vendor property the Web API can filter on") from None
        return list(self.vendors(odata_eq(**{field: tax_id})))

    def create_vendor(self, vendor: APVendor) -> APVendor:
        return APVendor.model_validate(self.post("AP/APVendors", vendor.payload()))

    # -- AP posted documents ---------------------------------------------------

    def posted_documents(self, filter: str | None = None) -> Iterator[APPostedDocument]:
        for record in self.iterate("AP/APPostedDocuments", filter=filter):
            record = dict(record, DocumentDate=parse_sage_date(record.get("DocumentDate")))
            yield APPostedDocument.model_validate(record)

    # -- OData reads -----------------------------------------------------------

    def query(
        self,
        resource: str,
        *,
        filter: str | None = None,
        top: int | None = None,
        skip: int | None = None,
        select: list[str] | None = None,
        count: bool = False,
    ) -> dict[str, Any]:
        params: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if top is not None:
            params["$top"] = str(top)
        if skip:
            params["$skip"] = str(skip)
        if select:
            params["$select"] = ",".join(select)
        if count:
            params["$count"] = "true"
        return self._send("GET", resource, params=params)

    def iterate(
        self, resource: str, *, filter: str | None = None, select: list[str] | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every record matching `filter`, a page at a time ($top/$skip).

        The first page asks for the total, so a server that caps pages below
        `page_size` still gets read to the end.
        """
        skip = 0
        total: int | None = None
        while True:
            page = self.query(resource, filter=filter, select=select, top=page_size, skip=skip, count=skip == 0)
            if total is None:
                total = _as_int(page.get("odata.count"))
            records = page.get("value") or []
            yield from records
            skip += len(records)
            if not records or (skip >= total if total is not None else len(records) < page_size):
                return

    def get_by_key(self, resource: str, key: Any) -> dict[str, Any]:
        return self._send("GET", resource + key_segment(key))

    # -- writes ----------------------------------------------------------------

    def post(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", resource, body=body)

    def patch(self, resource: str, key: Any, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("PATCH", resource + key_segment(key), body=body)

    # -- transport -------------------------------------------------------------

    def _send(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        url = f"{self.base_url}/{path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, url, params=params, body=body)
            except WebApiError as error:
                self.last_request.update(error=error.code, message=error.message)
                if not isinstance(error, WebApiRetryableError):
                    raise
                if attempt > self.retries or not self._may_resend(method, error):
                    raise
                delay = self._delay(attempt, error)
                logger.warning(
                    "Sage Web API %s %s (tenant %s) failed with %s, attempt %d; retrying in %.1f s",
                    method, self._scrub(url), self.tenant_code, error.code, attempt, delay,
                )
                self.sleep(delay)

    def _attempt(self, method: str, url: str, *, params: dict | None, body: dict | None) -> dict:
        self.calls["reads" if method == "GET" else "writes"] += 1
        self.last_request = {"method": method, "url": self._scrub(url), "params": dict(params or {}), "body": body,
                             "user": self.session.auth[0] if isinstance(self.session.auth, tuple) else ""}
        started = time.monotonic()
        limit = limit_for("sage_webapi", self.tenant_code)  # the tenant's adaptive window on its Sage server
        try:
            with limit.slot():
                started = time.monotonic()
                try:
                    response = self.session.request(
                        method, url, params=params, json=body, timeout=self.timeout,
                        headers={"Content-Type": "application/json", "Accept": "application/json"},
                    )
                    payload = self._read(method, response)
                except requests.RequestException:
                    limit.answered(time.monotonic() - started, ok=False, throttled=True)
                    raise
                limit.answered(time.monotonic() - started, ok=response.status_code < 400,
                               throttled=response.status_code in (429, 503),
                               kind=call_kind(method, urlsplit(url).path))
        except requests.RequestException as exc:
            # Refused, timed out, or an answer cut short (ChunkedEncodingError and friends).
            count_call("sage_webapi", self.tenant_code, ok=False)
            raise self._transport_error(method, url, exc) from None
        count_call("sage_webapi", self.tenant_code, ok=response.status_code < 400)
        elapsed = (time.monotonic() - started) * 1000
        self.last_request["status"] = response.status_code
        logger.info("Sage Web API %s %s (tenant %s) → %s in %.0f ms",
                    method, self._scrub(url), self.tenant_code, response.status_code, elapsed)
        if response.status_code >= 400:
            raise self._error_from(response, payload)
        return payload if isinstance(payload, dict) else {"value": payload}

    def _read(self, method: str, response: requests.Response) -> Any:
        text = response.content  # reading it here surfaces a dropped connection as a RequestException
        if not text:
            return {}
        try:
            return response.json()
        except ValueError:
            if response.status_code >= 400:
                return {}
            # A write that succeeded with an unreadable answer still happened.
            kind = WebApiRetryableError if method == "GET" else WebApiOutcomeUnknown
            raise kind(
                "MalformedResponse",
                _("Tenant %(tenant)s: the Sage 300 Web API at %(url)s answered with something that is not "
                  "JSON.") % {"tenant": self.tenant_code, "url": self._scrub(response.url.split("?")[0])},
                status=response.status_code,
            ) from None

    def _error_from(self, response: requests.Response, payload: Any) -> WebApiError:
        status = response.status_code
        error = payload.get("error") if isinstance(payload, dict) else None
        code, message = _code_and_message(error, status)
        message = self._scrub(message)
        if status == 429 or code in RETRYABLE_CODES:
            return self._retryable(code, message, status, response)
        if code in PERMANENT_CODES:
            return WebApiPermanentError(code, message, status=status)
        if status >= 500:
            return self._retryable(code, message, status, response)
        return WebApiPermanentError(code, message, status=status)

    @staticmethod
    def _retryable(code: str, message: str, status: int, response: requests.Response) -> WebApiRetryableError:
        error = WebApiRetryableError(code, message, status=status)
        error.retry_after = _retry_after(response.headers.get("Retry-After"))
        return error

    def _transport_error(self, method: str, url: str, exc: Exception) -> WebApiRetryableError:
        reason = self._scrub(_short_reason(exc))
        connect_failed = isinstance(exc, (requests.ConnectTimeout,)) or (
            isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout)
            and _never_connected(exc)
        )
        if method != "GET" and not connect_failed:
            return WebApiOutcomeUnknown(
                "OutcomeUnknown",
                _("Tenant %(tenant)s: the Sage 300 Web API at %(url)s took the %(method)s request but its "
                  "answer was lost (%(reason)s). Check in Sage whether it was recorded before sending it again.")
                % {"tenant": self.tenant_code, "url": self._scrub(url), "method": method, "reason": reason},
            )
        return WebApiUnavailable(
            "Unavailable",
            _("Tenant %(tenant)s: the Sage 300 Web API at %(url)s did not answer (%(reason)s). Check that "
              "the Sage 300 Web API site is running in IIS, that the tenant's Web API base URL and company "
              "are right, and that no firewall blocks the port.")
            % {"tenant": self.tenant_code, "url": self._scrub(self.base_url), "reason": reason},
        )

    @staticmethod
    def _may_resend(method: str, error: WebApiRetryableError) -> bool:
        if method == "GET":
            return True
        # A write is repeated only when Sage surely did not act on it: posting a
        # batch twice is a second batch, not the same one.
        if isinstance(error, WebApiUnavailable):
            return True  # never connected: Sage has not seen the request
        return error.status in _NOT_PROCESSED_STATUSES or error.code in _NOT_PROCESSED_CODES

    def _delay(self, attempt: int, error: WebApiRetryableError) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, 60.0)
        return self.backoff_seconds * (2 ** (attempt - 1))

    def _scrub(self, text: str) -> str:
        if self._password and self._password in text:
            text = text.replace(self._password, "***")
        return text

    def snapshot(self) -> dict[str, Any]:
        """The last request, without secrets, for the run log."""
        return dict(self.last_request)


def _pooled_session() -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _code_and_message(error: Any, status: int) -> tuple[str, str]:
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        message = error.get("message")
        if isinstance(message, dict):
            message = message.get("value")
        if code:
            return code, str(message or code)
    fallback = {401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound", 429: "TooManyRequests"}
    code = fallback.get(status, "InternalServerError" if status >= 500 else "General")
    return code, _("The Sage 300 Web API answered HTTP %(status)s without an error body.") % {"status": status}


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "Read timed out",
                   "Connection aborted", "IncompleteRead", "Connection reset", "No route to host"):
        if marker in text:
            return marker.lower()
    return exc.__class__.__name__


def _never_connected(exc: Exception) -> bool:
    text = str(exc)
    return any(marker in text for marker in (
        "NewConnectionError", "Connection refused", "Name or service not known", "No route to host",
        "Failed to resolve", "ConnectTimeout",
    ))
