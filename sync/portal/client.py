"""The Focaltec portal client: one instance per tenant, over one pooled session.

Only this module talks HTTP to the portal. Every call carries the tenant's
PDPTenantKey / PDPTenantSecret headers, explicit timeouts, and bounded retries
(exponential back-off with full jitter) for what may pass: 429, 5xx, network
errors and malformed JSON. Anything else the portal refuses raises at once.
"""
from __future__ import annotations

import copy
import datetime as dt
import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from django.utils.translation import gettext as _
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from sageconnect.outside_calls import call_kind, count_call, limit_for
from sync.portal import schemas as s
from sync.portal.errors import (
    PortalAuthError,
    PortalConflictError,
    PortalError,
    PortalNotFoundError,
    PortalPermanentError,
    PortalResponseError,
    PortalRetryableError,
)
from sync.portal.files import fetch_file, file_session

logger = logging.getLogger("sync.portal")
Model = TypeVar("Model", bound=BaseModel)
_jitter = random.Random()
REDACTED = "***"
SECRET_HEADERS = ("PDPTenantKey", "PDPTenantSecret")
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass
class CallCounter:
    """What a client has asked of the portal: logical calls (retries not counted) and HTTP attempts."""

    reads: int = 0
    writes: int = 0
    attempts: int = 0
    downloads: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5   # seconds before the 2nd try; doubles each time
    backoff_cap: float = 8.0
    retry_after_cap: float = 60.0  # a portal asking for longer is not waited for beyond this

    def backoff(self, attempt: int) -> float:
        # Full jitter: many tenants' clients retrying together must not stampede the portal.
        return _jitter.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def retry_after(self, response: requests.Response) -> float | None:
        header = response.headers.get("Retry-After")
        if not header:
            return None
        try:
            seconds = float(header)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(header) - dt.datetime.now(dt.timezone.utc)).total_seconds()
            except (TypeError, ValueError):
                return None
        return max(0.0, min(seconds, self.retry_after_cap))


@dataclass(frozen=True)
class PortalCheck:
    answers: bool
    credentials_accepted: bool
    detail: str


class PortalClient:
    """The portal as one tenant sees it. Not shared between threads: make one per worker."""

    def __init__(
        self,
        tenant,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
    ) -> None:
        self.tenant_code: str = tenant.code
        self.base_url: str = (tenant.portal_url or "").rstrip("/")
        self.tenant_id: str = tenant.portal_tenant_id
        self._secrets = tuple(value for value in (tenant.portal_key, tenant.portal_secret) if value)
        self._auth = {"PDPTenantKey": tenant.portal_key or "", "PDPTenantSecret": tenant.portal_secret or ""}
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self.calls = CallCounter()
        self.limit = limit_for("portal", tenant.code)
        # Sandbox tenants' files come from the stand-ins on this machine; everyone else's from outside only.
        self.private_addresses_ok = bool(getattr(tenant, "sandbox", False))
        self._file_session: requests.Session | None = None
        self._last_request: dict[str, Any] | None = None
        self.session = requests.Session()
        # Our own retry loop decides; urllib3 must not retry behind its back.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._check_settings()

    def _check_settings(self) -> None:
        missing = [name for name, value in (
            ("portal_url", self.base_url), ("portal_tenant_id", self.tenant_id),
            ("portal_key", self._auth["PDPTenantKey"]), ("portal_secret", self._auth["PDPTenantSecret"]),
        ) if not value]
        if missing:
            raise PortalError(_("Tenant '%(tenant)s' has no %(fields)s for the portal; set it in the tenant's "
                                "settings.")
                              % {"tenant": self.tenant_code, "fields": ", ".join(missing)})

    def close(self) -> None:
        self.session.close()
        if self._file_session is not None:
            self._file_session.close()

    def file_session(self) -> requests.Session:
        """The session file links are fetched with: no credentials, and (unless sandbox) public addresses only."""
        if self._file_session is None:
            self._file_session = file_session(public_only=not self.private_addresses_ok)
        return self._file_session

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- providers -----------------------------------------------------------

    def iter_providers(
        self,
        *,
        rfc: str | None = None,
        external_id: str | None = None,
        status: str | None = None,
        status_expedient: str | None = None,
        expedient_accepted_from: dt.date | None = None,
        expedient_accepted_to: dt.date | None = None,
        page_size: int = s.PAGE_SIZE_MAX,
    ) -> Iterator[s.ProviderResponse]:
        filters = {
            "rfc": rfc, "externalId": external_id, "status": status, "statusExpedient": status_expedient,
            "expedientAcceptedFrom": _date(expedient_accepted_from),
            "expedientAcceptedTo": _date(expedient_accepted_to),
        }
        return self._pages(self._extern("providers"), filters, page_size, s.ProvidersResponse)

    def get_provider(self, provider_id: str, *, id_type: s.IdType = "INTERNAL") -> s.ProviderResponse:
        return self._call("GET", self._extern("providers", provider_id), s.ProviderResponse,
                          params={"id_type": id_type})

    def update_provider(self, provider_id: str, provider: s.ProviderRequest, *,
                        id_type: s.IdType = "INTERNAL") -> s.ProviderResponse:
        # This one operation spells the parameter idType (the spec's own inconsistency).
        return self._call("PUT", self._extern("providers", provider_id), s.ProviderResponse,
                          params={"idType": id_type}, body=provider)

    def set_provider_external_id(self, provider_id: str, external_id: str) -> s.ProviderResponse:
        return self._call("PUT", self._extern("providers", provider_id, "external-id"), s.ProviderResponse,
                          body=s.ProviderExternalIdUpdateRequest(external_id=external_id))

    # --- purchase orders -----------------------------------------------------

    def create_purchase_order(self, order: s.ExternPurchaseOrderRequest) -> s.PurchaseOrderCoreResponse:
        return self._call("POST", self._extern("purchase-orders"), s.PurchaseOrderCoreResponse, body=order)

    def iter_purchase_orders(
        self,
        *,
        status: s.PurchaseOrderStatus | None = None,
        external_ids: Iterable[str] | None = None,
        provider_external_id: str | None = None,
        page_size: int = s.PAGE_SIZE_MAX,
    ) -> Iterator[s.PurchaseOrderCoreResponse]:
        """list_1 (GET …/purchase-orders): the portal's POs as it holds them now, page by page."""
        filters = {"status": status, "external_ids": list(external_ids) if external_ids is not None else None,
                   "providerExternalId": provider_external_id}
        return self._pages(self._extern("purchase-orders"), filters, page_size, s.PurchaseOrdersCoreResponse)

    def get_purchase_order(self, po_number: str, *, id_type: s.IdType = "EXTERNAL") -> s.PurchaseOrderCoreResponse:
        return self._call("GET", self._extern("purchase-orders", po_number), s.PurchaseOrderCoreResponse,
                          params={"id_type": id_type})

    def replace_purchase_order(self, po_number: str,
                               order: s.ExternPurchaseOrderRequest) -> s.PurchaseOrderCoreResponse:
        return self._call("PUT", self._extern("purchase-orders", po_number), s.PurchaseOrderCoreResponse,
                          params={"id_type": "EXTERNAL"}, body=order)

    def change_purchase_order_status(
        self, po_number: str, status: s.PurchaseOrderStatus, *, id_type: s.IdType = "EXTERNAL"
    ) -> s.IPurchaseOrdeChangeStatusResponse:
        return self._call("PUT", self._extern("purchase-orders", po_number, "status"),
                          s.IPurchaseOrdeChangeStatusResponse,
                          params={"id_type": id_type}, body=s.PurchaseOrderChangeStatusRequest(status=status))

    def upsert_purchase_orders(self,
                               orders: Iterable[s.ExternPurchaseOrderRequest]) -> s.BatchUpsertPurchaseOrdersResponse:
        """One batch of at most 50 orders; the answer holds CREATED/UPDATED/ERROR per order (or a batch to poll)."""
        batch = s.BatchUpsertPurchaseOrdersRequest(purchase_orders=list(orders))
        return self._call("PUT", self._batch("purchase-orders"), s.BatchUpsertPurchaseOrdersResponse, body=batch)

    def purchase_order_batch_status(self, batch_id: str) -> s.BatchUpsertPurchaseOrdersResponse:
        return self._call("GET", self._batch("purchase-orders", "batches", batch_id, "status"),
                          s.BatchUpsertPurchaseOrdersResponse)

    # --- CFDIs ---------------------------------------------------------------

    def iter_cfdis(
        self,
        *,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        created_from: dt.date | None = None,
        created_until: dt.date | None = None,
        cfdi_type: s.CfdiType | None = None,
        stage: s.CfdiStage | None = None,
        status: str | None = None,
        uuids: Iterable[str] | None = None,
        provider_external_id: str | None = None,
        hide_validations: bool = True,
        page_size: int = s.PAGE_SIZE_MAX,
    ) -> Iterator[s.CfdiExternResponse]:
        """`date_from`/`date_to` are the spec's from/to (which date they filter on it does not say);
        `created_from`/`created_until` are createdFrom/createdUntil: the day the CFDI reached the portal."""
        filters = {
            "from": _date(date_from), "to": _date(date_to),
            "createdFrom": _date(created_from), "createdUntil": _date(created_until),
            "cfdiType": cfdi_type, "stage": stage,
            "status": status, "uuids": list(uuids) if uuids is not None else None,
            "providerExternalId": provider_external_id,
            # The portal's own validation results are not read: asking without them keeps pages small.
            "hideValidations": "true" if hide_validations else None,
        }
        return self._pages(self._extern("cfdis"), filters, page_size, s.CfdisExternResponse)

    def get_cfdi(self, cfdi_uuid: str) -> s.CfdiResponse:
        return self._call("GET", self._extern("cfdis", cfdi_uuid), s.CfdiResponse, params={"id_type": "EXTERNAL"})

    def cfdi_files(self, cfdi_id: str) -> s.CfdiFilesResponse:
        return self._call("GET", self._extern("cfdis", cfdi_id, "files"), s.CfdiFilesResponse)

    def download_cfdi_xml(self, cfdi_id: str) -> bytes:
        """The original XML, byte for byte, from the pre-signed URL the portal hands out."""
        files = self.cfdi_files(cfdi_id)
        if not files.xml:
            raise PortalResponseError(
                _("The portal of tenant '%(tenant)s' gave no XML link for CFDI %(cfdi)s.")
                % {"tenant": self.tenant_code, "cfdi": cfdi_id},
                code=None, description="no xml url", status=200)
        return self.download_file(files.xml)

    def update_cfdi_erp_status(self, updates: Iterable[s.CfdiProgressRequest]) -> s.BatchCfdiResponse:
        return self._call("PUT", self._batch("cfdis"), s.BatchCfdiResponse,
                          body=s.BatchCfdiProgressRequest(cfdis=list(updates)))

    # --- payments ------------------------------------------------------------

    def create_payment(self, payment: s.OnePaymentRequest) -> s.ExternalPaymentResponse:
        return self._call("POST", self._extern("payments"), s.ExternalPaymentResponse, body=payment)

    def get_payment(self, payment_id: str, *, id_type: s.IdType = "EXTERNAL") -> s.ExternalPaymentResponse:
        return self._call("GET", self._extern("payments", payment_id), s.ExternalPaymentResponse,
                          params={"id_type": id_type})

    def create_payments(self, payments: Iterable[s.OnePaymentRequest]) -> s.BatchPaymentResponse:
        return self._call("POST", self._batch("payments"), s.BatchPaymentResponse,
                          body=s.BatchPaymentRequest(payments=list(payments)))

    # --- health --------------------------------------------------------------

    def check(self) -> PortalCheck:
        """Whether the portal answers, and whether it accepts this tenant's credentials (one cheap read)."""
        try:
            self._call("GET", self._extern("providers"), s.ProvidersResponse, params={"offset": 0, "pageSize": 1})
        except PortalPermanentError as exc:
            # A 404 or 400 here usually means a wrong portal tenant id: not a working setup either.
            return PortalCheck(True, False, str(exc))
        except PortalError as exc:
            return PortalCheck(False, False, str(exc))
        return PortalCheck(True, True, "")

    def snapshot(self) -> dict[str, Any] | None:
        """The last request, for the run log: method, URL, parameters, body, status; credentials redacted."""
        return copy.deepcopy(self._last_request)

    # --- plumbing ------------------------------------------------------------

    def _extern(self, *parts: str) -> str:
        return self._path("extern", parts)

    def _batch(self, *parts: str) -> str:
        return self._path("batch", parts)

    def _path(self, kind: str, parts: tuple[str, ...]) -> str:
        tail = "/".join(quote(str(part), safe="") for part in parts)
        return f"/api/1.0/{kind}/tenants/{quote(self.tenant_id, safe='')}/{tail}"

    def _pages(self, path: str, filters: dict, page_size: int, page_model: type[Model]) -> Iterator[Any]:
        if not 1 <= page_size <= s.PAGE_SIZE_MAX:
            # pageSize=0 silently means 200 on the portal: never send it, nor more than it serves.
            raise ValueError(f"page_size must be between 1 and {s.PAGE_SIZE_MAX}, not {page_size}")
        offset = 0
        while True:
            # Any of the paged answers (ProvidersResponse, CfdisExternResponse, …): each has items and total.
            page: Any = self._call("GET", path, page_model, params={**filters, "offset": offset, "pageSize": page_size})
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def _call(self, method: str, path: str, model: type[Model], *, params: dict | None = None,
              body: s.PortalRequest | None = None) -> Model:
        payload = self._send(method, path, params=_clean(params), body=body.to_json() if body is not None else None)
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}" for e in exc.errors()[:3])
            raise PortalResponseError(
                _("The portal of tenant '%(tenant)s' answered %(method)s %(path)s with an unexpected shape "
                  "(%(problems)s).")
                % {"tenant": self.tenant_code, "method": method, "path": path, "problems": problems},
                code=None, description=problems, status=200) from None

    def _send(self, method: str, path: str, *, params: dict | None, body: dict | None) -> Any:
        url = self.base_url + path
        if method == "GET":
            self.calls.reads += 1
        else:
            self.calls.writes += 1
        self._last_request = {"method": method, "url": url, "params": params, "body": body,
                              "headers": {name: REDACTED for name in SECRET_HEADERS}, "status": None, "attempts": 0}
        # Never follow a redirect: it would carry the tenant's key and secret to wherever it points.
        return self._with_retries(
            lambda: self.session.request(method, url, params=params, json=body, headers=self._auth,
                                         timeout=self.timeout, allow_redirects=False),
            what=f"{method} {path}", url=url, api_call=True,
        )

    def download_file(self, url: str) -> bytes:
        """Bytes from a pre-signed storage link the portal handed out (sync/portal/files.py says how)."""
        self.calls.downloads += 1
        return fetch_file(self, url)

    def _with_retries(self, send, *, what: str, url: str, api_call: bool) -> Any:
        """API calls answer JSON and are kept for snapshot(); storage downloads answer bytes."""
        reason, status = "", None
        for attempt in range(1, self.retry.max_attempts + 1):
            self.calls.attempts += 1
            if api_call and self._last_request is not None:
                self._last_request["attempts"] = attempt
            started = time.monotonic()
            delay = self.retry.backoff(attempt)
            try:
                # The tenant's adaptive window on the portal, shared by every thread of this process.
                with self.limit.slot():
                    started = time.monotonic()
                    try:
                        response = send()
                    except _TRANSIENT:
                        self.limit.answered(time.monotonic() - started, ok=False, throttled=True)
                        raise
                    self.limit.answered(time.monotonic() - started, ok=response.status_code < 400,
                                        throttled=response.status_code in (429, 503),
                                        kind=call_kind(*what.split(" ", 1)))
            except _TRANSIENT as exc:
                reason, status = _network_reason(exc), None
                count_call("portal", self.tenant_code, ok=False)
            except requests.RequestException as exc:
                # An unusable URL (ftp://, no host, …): nothing to retry, and no traceback to show.
                raise PortalError(_("The portal URL of tenant '%(tenant)s' cannot be used (%(kind)s); check the "
                                    "tenant's portal base URL.") % {"tenant": self.tenant_code,
                                                                    "kind": exc.__class__.__name__}) from None
            else:
                status = response.status_code
                count_call("portal", self.tenant_code, ok=status < 400)
                if api_call and self._last_request is not None:
                    self._last_request["status"] = status
                logger.info("portal %s %s -> %s in %.0f ms (try %s)", self.tenant_code, what, status,
                            (time.monotonic() - started) * 1000, attempt)
                if api_call and 300 <= status < 400:
                    raise self._redirected(response, what)
                if status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                    asked = self.retry.retry_after(response)
                    delay = asked if asked is not None else delay
                elif status >= 400:
                    raise self._refusal(response, what)
                else:
                    content = _parsed(response) if api_call else response.content
                    if content is not _MALFORMED:
                        return content
                    reason = _("malformed JSON")
            if attempt < self.retry.max_attempts:
                logger.warning("portal %s %s failed (%s); retrying in %.1f s", self.tenant_code, what, reason, delay)
                time.sleep(delay)
        raise PortalRetryableError(self._gave_up(url, reason, status), url=url, attempts=self.retry.max_attempts,
                                   status=status)

    def _gave_up(self, url: str, reason: str, status: int | None) -> str:
        values = {"tenant": self.tenant_code, "url": url, "tries": self.retry.max_attempts, "reason": reason}
        if status is None:
            return _("The portal of tenant '%(tenant)s' at %(url)s did not answer after %(tries)s tries (%(reason)s); "
                     "check the tenant's portal URL and that this machine can reach that server.") % values
        return _("The portal of tenant '%(tenant)s' at %(url)s kept failing after %(tries)s tries (%(reason)s); "
                 "check the portal's service status, or try again later.") % values

    def _refusal(self, response: requests.Response, what: str) -> PortalPermanentError:
        code, description = _error_body(response)
        description = self._scrub(description)
        status = response.status_code
        values = {"tenant": self.tenant_code, "what": what, "status": status, "code": code, "description": description}
        if status in (401, 403):
            message = _("The portal of tenant '%(tenant)s' refused its credentials (HTTP %(status)s) on %(what)s; "
                        "check the tenant's portal key and secret.") % values
            return PortalAuthError(message, code=code, description=description, status=status)
        message = _("The portal of tenant '%(tenant)s' refused %(what)s: HTTP %(status)s, code %(code)s: "
                    "%(description)s") % values
        kind = {404: PortalNotFoundError, 409: PortalConflictError}.get(status, PortalPermanentError)
        return kind(message, code=code, description=description, status=status)

    def _redirected(self, response: requests.Response, what: str) -> PortalPermanentError:
        target = urlsplit(response.headers.get("Location", ""))
        # Where it pointed, without its query string (which may carry a signature or token).
        where = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else target.path or "?"
        message = _("The portal of tenant '%(tenant)s' answered %(what)s with a redirect (HTTP %(status)s) to "
                    "%(where)s; it is not followed, so the tenant's key and secret were not sent there. Check the "
                    "tenant's portal base URL.") % {"tenant": self.tenant_code, "what": what,
                                                    "status": response.status_code, "where": where}
        return PortalPermanentError(message, code=None, description="redirect", status=response.status_code)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


_MALFORMED = object()


def _parsed(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _MALFORMED


def _error_body(response: requests.Response) -> tuple[str | int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or response.reason or "")[:200]
    if isinstance(body, dict):
        code = body.get("code", body.get("error_code"))
        description = body.get("description") or body.get("error_message") or body.get("message") or ""
        return code, str(description)[:500]
    return None, str(body)[:200]


def _network_reason(exc: Exception) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return _("connection timed out")
    if isinstance(exc, requests.Timeout):
        return _("no answer within the read timeout")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return _("connection dropped mid-answer")
    text = str(exc)
    if "refused" in text.lower():
        return _("connection refused")
    if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text.lower():
        return _("host name not found")
    return _("connection failed")


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _clean(params: dict | None) -> dict | None:
    if not params:
        return None
    return {name: value for name, value in params.items() if value is not None and value != []}
