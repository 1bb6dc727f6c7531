"""Who may do what, in one place for every app.

Three kinds of people (README "Staff pages"): superusers and members of the
"SageConnect admins" group manage tenants in /admin/; staff (`is_staff`, or the
group "SageConnect staff") use the staff pages; anyone else logged in gets 403.
The tenant admin, the admin site, the run log's admin and the staff pages all
ask here, so this module imports none of them.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

ADMINS_GROUP = "SageConnect admins"
STAFF_GROUP = "SageConnect staff"


def _in_group(user: Any, name: str) -> bool:
    # Cached per request object: templates and views ask more than once.
    cache = user.__dict__.setdefault("_sageconnect_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user.__dict__["_sageconnect_groups"] = cache
    return name in cache


def is_admin(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or _in_group(user, ADMINS_GROUP)))


def is_staff_member(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active
                and (user.is_staff or is_admin(user) or _in_group(user, STAFF_GROUP)))


def ensure_access_groups() -> None:
    """Create the two groups people are put in; cheap and safe to call again."""
    for name in (ADMINS_GROUP, STAFF_GROUP):
        Group.objects.get_or_create(name=name)


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A staff page: the login page for anyone not logged in, 403 for anyone logged in who is not staff."""
    # HttpResponseBase, not HttpResponse: a file download is a FileResponse, a streaming response.
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_staff_member(request.user):
            raise PermissionDenied(_("These pages are for SageConnect staff."))
        return view(request, *args, **kwargs)

    return wrapped
