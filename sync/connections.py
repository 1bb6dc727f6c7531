"""Test connections: does each outside system of a tenant answer, and accept its credentials?

The admin's "Test connections" (sync/admin.py) runs these with the same clients
the steps use, which is why they live in sync and not with the tenant.
"""
from __future__ import annotations

from django.db import connections
from django.utils.translation import gettext

from sync.portal.client import PortalClient, RetryPolicy
from sync.portal.errors import PortalAuthError, PortalError, PortalPermanentError, PortalRetryableError
from sync.sage.webapi import PERMANENT_CODES, RETRYABLE_CODES, SageWebApi, WebApiError, WebApiUnavailable
from tenants.models import Tenant
from tenants.sage_db import SageDatabaseUnavailable, sage_alias


def connection_report(tenant: Tenant) -> list[tuple[str, bool]]:
    """One line per outside system of the tenant: whether it answers, and if not why.

    The lines are our own words about what happened (a status, a kind of
    failure), never text the remote server sent: a tenant's URL may point
    anywhere, and this page must not become a way to read what answers there.
    """
    return [check_sage_database(tenant), check_webapi(tenant), check_portal(tenant)]


def _line(tenant: Tenant, system: str, why: str) -> str:
    return gettext("%(code)s — %(system)s: %(why)s") % {"code": tenant.code, "system": system, "why": why}


def check_sage_database(tenant: Tenant) -> tuple[str, bool]:
    system = gettext("Sage database")
    try:
        alias = sage_alias(tenant)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except SageDatabaseUnavailable as unavailable:
        # explain_failure's sentences are ours, naming only the tenant's own settings.
        return _line(tenant, system, tenant.redact(str(unavailable))), False
    except Exception as exc:  # one bad tenant must not hide the others' lines
        return _line(tenant, system, gettext("the query failed (%(kind)s).") % {"kind": exc.__class__.__name__}), False
    return _line(tenant, system, gettext("connected.")), True


def check_webapi(tenant: Tenant) -> tuple[str, bool]:
    system = gettext("Sage Web API")
    try:
        client = SageWebApi(tenant, retries=0, timeout=(5.0, 15.0))
        try:
            # The cheapest authenticated read: one vendor number.
            client.query("AP/APVendors", top=1, select=["VendorNumber"])
        finally:
            client.close()
    except WebApiUnavailable as error:
        # Our own sentence: the tenant's URL and the kind of network failure.
        return _line(tenant, system, tenant.redact(error.message)), False
    except WebApiError as error:
        if error.status is None:  # refused before any request (settings missing)
            return _line(tenant, system, tenant.redact(error.message)), False
        if error.status in (401, 403):
            why = gettext("refused the credentials (HTTP %(status)s); check the Web API user and password.")
        else:
            why = gettext("answered HTTP %(status)s%(code)s; check the Web API base URL and company.")
        # Sage's error code only when it is one of Sage's own (EXTERNAL.md §2), never free text.
        known = error.code in PERMANENT_CODES | RETRYABLE_CODES
        return _line(tenant, system, why % {"status": error.status, "code": f" ({error.code})" if known else ""}), False
    except Exception as exc:
        return _line(tenant, system, gettext("the call failed (%(kind)s).") % {"kind": exc.__class__.__name__}), False
    return _line(tenant, system, gettext("answered and accepted the credentials.")), True


def check_portal(tenant: Tenant) -> tuple[str, bool]:
    system = gettext("portal")
    try:
        # A person is waiting on the page: one try, short timeouts.
        with PortalClient(tenant, connect_timeout=5.0, read_timeout=15.0,
                          retry=RetryPolicy(max_attempts=1)) as client:
            # The cheapest authenticated read: the first provider, if any.
            next(iter(client.iter_providers(page_size=1)), None)
    except PortalAuthError as error:
        why = gettext("refused the credentials (HTTP %(status)s); check the portal key and secret.")
        return _line(tenant, system, why % {"status": error.status}), False
    except PortalPermanentError as error:
        if 300 <= error.status < 400:
            why = gettext("answered with a redirect (HTTP %(status)s), which is not followed; check the portal "
                          "base URL.")
        elif error.status < 300:
            why = gettext("answered with something that is not the portal's API; check the portal base URL.")
        else:
            why = gettext("answered HTTP %(status)s; check the portal base URL and tenant id.")
        return _line(tenant, system, why % {"status": error.status}), False
    except PortalRetryableError as error:
        # The client's own sentence: the tenant's URL, the tries, a reason in our words.
        return _line(tenant, system, tenant.redact(str(error))), False
    except PortalError as error:  # settings missing or unusable: our own words too
        return _line(tenant, system, tenant.redact(str(error))), False
    return _line(tenant, system, gettext("answered and accepted the credentials.")), True
