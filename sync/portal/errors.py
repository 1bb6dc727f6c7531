"""What can go wrong talking to a tenant's portal, in words a person can act on.

Messages name the tenant and the server, never a key or a secret.
"""
from __future__ import annotations


class PortalError(Exception):
    """Base of every portal failure."""


class PortalRetryableError(PortalError):
    """The portal did not give a usable answer after every try: network, 5xx, 429, malformed JSON."""

    def __init__(self, message: str, *, url: str, attempts: int, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts
        self.status = status


class PortalPermanentError(PortalError):
    """The portal refused the request (4xx other than 429): retrying the same request will not help."""

    def __init__(self, message: str, *, code: str | int | None, description: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.description = description
        self.status = status


class PortalAuthError(PortalPermanentError):
    """401/403: the tenant's PDPTenantKey / PDPTenantSecret were not accepted."""


class PortalNotFoundError(PortalPermanentError):
    """404: the portal does not know the id asked for."""


class PortalConflictError(PortalPermanentError):
    """409: the record already exists (e.g. a purchase order with that external_id)."""


class PortalResponseError(PortalPermanentError):
    """A 2xx answer whose JSON does not have the shape the contract promises."""
