"""Fetching a CFDI file from the pre-signed link the portal hands out.

The link is outside data: the portal (or anyone who can put a document on it)
chooses where it points. So the fetch
- accepts http:// and https:// only;
- sends no credentials: a session of its own, without the tenant's PDP
  headers, cookies, .netrc or proxy settings from the environment;
- streams the body and stops reading at settings.CFDI_MAX_BYTES (counted on
  the decoded bytes, so a compressed body is cut too), so memory stays flat
  whatever the server sends;
- for a tenant that is not a sandbox tenant, refuses to talk to an address in
  a loopback, private, link-local or otherwise non-public range — checked on
  the socket actually connected, after DNS, so a name that resolves (or
  re-resolves) inside the network is refused as well;
- retries what may pass (network errors, 429, 5xx) like the client's own calls.
Every refusal is a PortalError naming the tenant and the link's host, so the
download step fails that one CFDI with the reason and goes on.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from urllib.parse import urlsplit

import requests
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from cfdi.parsing import max_bytes
from sageconnect.outside_calls import count_call
from sync.portal.errors import PortalError, PortalPermanentError, PortalRetryableError

logger = logging.getLogger("sync.portal")
CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3  # storage links may bounce once or twice; each hop's address is checked again


class AddressRefused(Exception):
    """Not an OSError on purpose: urllib3 and requests must not turn it into a retryable network error."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is at {address}")
        self.host, self.address = host, address


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PublicPeerOnly:
    """A urllib3 connection that hangs up when the peer it reached is not a public address."""

    host: str

    def _new_conn(self):
        sock = super()._new_conn()  # type: ignore[misc]  # a mixin: the urllib3 connection it is mixed into has it
        peer = sock.getpeername()[0]
        if not is_public(peer):
            sock.close()
            raise AddressRefused(self.host, peer)
        return sock


class _PublicHTTPConnection(_PublicPeerOnly, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerOnly, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def file_session(*, public_only: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, .netrc or CA settings from the environment: nothing is added
    session.max_redirects = MAX_REDIRECTS
    adapter = PublicOnlyAdapter(max_retries=0) if public_only else HTTPAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch_file(client, url: str) -> bytes:
    """The file's bytes, or a PortalError saying why not. `client` is the tenant's PortalClient."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = urlsplit(""), None
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"  # never the query: it holds the signature
    values = {"tenant": client.tenant_code, "url": shown, "host": host or "?"}
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise PortalPermanentError(
            _("The portal of tenant '%(tenant)s' gave a file link that is not an http(s) address (%(url)s); "
              "it was not fetched.") % values, code=None, description="scheme refused", status=0)
    try:
        return _fetch(client, url, shown, values)
    except PortalError:
        raise
    except Exception as exc:
        # Whatever else a hostile link provokes fails this one file, never the whole step.
        logger.exception("portal %s GET %s failed unexpectedly", client.tenant_code, shown)
        raise PortalPermanentError(
            _("The file link of tenant '%(tenant)s' at %(url)s cannot be fetched (%(kind)s).")
            % {**values, "kind": exc.__class__.__name__}, code=None, description="unusable link", status=0) from None


def _fetch(client, url: str, shown: str, values: dict) -> bytes:
    session = client.file_session()
    reason, status = "", None
    for attempt in range(1, client.retry.max_attempts + 1):
        client.calls.attempts += 1
        delay = client.retry.backoff(attempt)
        started = time.monotonic()
        try:
            with session.get(url, timeout=client.timeout, stream=True, auth=_NO_AUTH) as response:
                status = response.status_code
                count_call("portal_files", client.tenant_code, ok=status < 400)
                logger.info("portal %s GET %s -> %s in %.0f ms (try %s)", client.tenant_code, shown, status,
                            (time.monotonic() - started) * 1000, attempt)
                if status < 400:
                    return _read_capped(response, values)
                if status != 429 and status < 500:
                    raise _refused_by_storage(client, response, values)
                reason = f"HTTP {status}"
                asked = client.retry.retry_after(response)
                delay = asked if asked is not None else delay
        except AddressRefused as refused:
            raise PortalPermanentError(
                _("The file link of tenant '%(tenant)s' points to %(host)s, an address inside this network "
                  "(%(address)s); it was not fetched.") % {**values, "address": refused.address},
                code=None, description="address refused", status=0) from None
        except requests.TooManyRedirects:
            raise PortalPermanentError(
                _("The file link of tenant '%(tenant)s' at %(url)s redirected more than %(max)s times; it was not "
                  "fetched.") % {**values, "max": MAX_REDIRECTS},
                code=None, description="redirects", status=0) from None
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            reason, status = exc.__class__.__name__, None
            count_call("portal_files", client.tenant_code, ok=False)
        except requests.RequestException as exc:
            raise PortalPermanentError(
                _("The file link of tenant '%(tenant)s' at %(url)s cannot be fetched (%(kind)s).")
                % {**values, "kind": exc.__class__.__name__},
                code=None, description="unusable link", status=0) from None
        if attempt < client.retry.max_attempts:
            logger.warning("portal %s GET %s failed (%s); retrying in %.1f s", client.tenant_code, shown, reason, delay)
            time.sleep(delay)
    raise PortalRetryableError(
        _("The file link of tenant '%(tenant)s' at %(url)s did not give the file after %(tries)s tries (%(reason)s).")
        % {**values, "tries": client.retry.max_attempts, "reason": reason},
        url=shown, attempts=client.retry.max_attempts, status=status)


def _no_auth(request):
    # An explicit (empty) auth keeps requests from adding .netrc credentials for the file's host.
    return request


_NO_AUTH = _no_auth


def _read_capped(response: requests.Response, values: dict) -> bytes:
    limit = max_bytes()
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > limit:
        raise _too_large(values, int(announced), limit)
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise _too_large(values, None, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(values: dict, announced: int | None, limit: int) -> PortalPermanentError:
    size = _("%(n)s bytes") % {"n": announced} if announced is not None else _("more than %(n)s bytes") % {"n": limit}
    return PortalPermanentError(
        _("The file at %(url)s of tenant '%(tenant)s' is %(size)s; the limit (setting SAGECONNECT_CFDI_MAX_BYTES) "
          "is %(limit)s, so it was not read further.") % {**values, "size": size, "limit": limit},
        code="too_large", description="too large", status=200)


def _refused_by_storage(client, response: requests.Response, values: dict) -> PortalPermanentError:
    # The storage's own short reason (S3 answers <Error><Code>…), for the run log.
    description = client._scrub(response.raw.read(500, decode_content=True).decode("utf-8", "replace"))
    message = _("The file link of tenant '%(tenant)s' at %(url)s was refused: HTTP %(status)s, %(description)s") % {
        **values, "status": response.status_code, "description": description}
    return PortalPermanentError(message, code=None, description=description, status=response.status_code)
