"""What every page's header needs to know about the user."""
from __future__ import annotations

from sageconnect.access import is_admin


def roles(request) -> dict:
    user = getattr(request, "user", None)
    return {"sageconnect_admin": bool(user is not None and is_admin(user))}
