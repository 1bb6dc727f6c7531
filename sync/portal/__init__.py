"""The Focaltec portal client (sync/portal/client.py) and its payloads (schemas.py)."""
from sync.portal.client import CallCounter, PortalCheck, PortalClient, RetryPolicy
from sync.portal.errors import (
    PortalAuthError,
    PortalConflictError,
    PortalError,
    PortalNotFoundError,
    PortalPermanentError,
    PortalResponseError,
    PortalRetryableError,
)

__all__ = [
    "CallCounter", "PortalCheck", "PortalClient", "RetryPolicy", "PortalError", "PortalAuthError",
    "PortalConflictError", "PortalNotFoundError", "PortalPermanentError", "PortalResponseError", "PortalRetryableError",
]
