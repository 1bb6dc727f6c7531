"""What every page's header needs to know about the user."""
from __future__ import annotations


def roles(request) -> dict:
    from sync.dashboard import is_admin

    user = getattr(request, "user", None)
    return {"sageconnect_admin": bool(user is not None and is_admin(user))}
