"""Who the stand-ins answer: sandbox tenants only, and only with their own credentials.

The stand-ins are served by the same site as the product (when
SAGECONNECT_SANDBOX is on), so they must not become a door into it: a tenant
answers here only if `manage.py sandbox company` made it (Tenant.sandbox),
with the credentials that command generated for it. A refused call changes
nothing (no counter, no record), and an unknown company or portal tenant is
refused exactly like a wrong password, so a caller without credentials learns
no company name.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import secrets

from django.http import HttpRequest

# What a real server's refusal says does not depend on whether the company exists.
SAGE_REFUSAL = "Invalid user name or password."
_NOTHING = b"\0" * 32


def generated_secret() -> str:
    """A fresh credential for one sandbox tenant; none is written in the source."""
    return secrets.token_urlsafe(24)


def _same(given: str, expected: str | None) -> bool:
    # Compared even when there is nothing to compare with, so timing says nothing either.
    return hmac.compare_digest(given.encode(), (expected or "").encode() or _NOTHING) and bool(expected)


def basic_credentials(request: HttpRequest) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""
    return user, password


def sage_tenant(request: HttpRequest, company: str):
    """The sandbox tenant whose Web API company this is, if the call carries its user and password; else None."""
    from tenants.models import Tenant

    user, password = basic_credentials(request)
    tenant = (Tenant.objects.filter(sandbox=True, webapi_company__iexact=company)
              .exclude(webapi_user="").order_by("code").first())
    good_user = _same(user.upper(), (tenant.webapi_user or "").upper() if tenant else None)
    good_password = _same(password, tenant.webapi_password if tenant else None)
    return tenant if good_user and good_password else None


def portal_tenant(request: HttpRequest, tenant_id: str):
    """The portal stand-in's tenant, if a sandbox tenant owns that id and the call carries its key and secret."""
    from sandbox.portal.models import SandboxPortalTenant
    from tenants.models import Tenant

    found = SandboxPortalTenant.objects.filter(tenant_id=tenant_id).first()
    if found is not None and not Tenant.objects.filter(sandbox=True, portal_tenant_id=tenant_id).exists():
        found = None
    good_key = _same(request.headers.get("PDPTenantKey", ""), found.key if found else None)
    good_secret = _same(request.headers.get("PDPTenantSecret", ""), found.secret if found else None)
    return found if good_key and good_secret else None


def require_sandbox_tenant(tenant) -> None:
    """Only tenants `sandbox company` made get stand-in state."""
    if not getattr(tenant, "sandbox", False):
        raise NotSandbox(
            f"Tenant '{tenant.code}' is not a sandbox tenant: the stand-ins serve only tenants made by "
            f"`manage.py sandbox company`."
        )


class NotSandbox(Exception):
    pass
