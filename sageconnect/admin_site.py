"""The admin site as the README's roles describe it: superusers, and members of the
"SageConnect admins" group, manage tenants in /admin/ without anyone having to tick
`is_staff` for them by hand. What each of them may see there stays with each
ModelAdmin (tenants and the run log: sageconnect.access.is_admin)."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from sageconnect.access import is_admin


class AdminLoginForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        if is_admin(user):
            # Active is still required; staff status is not, for the admins group.
            AuthenticationForm.confirm_login_allowed(self, user)
            return
        super().confirm_login_allowed(user)


class SageConnectAdminSite(admin.AdminSite):
    site_header = _("SageConnect administration")
    site_title = "SageConnect"
    login_form = AdminLoginForm

    def has_permission(self, request) -> bool:
        return super().has_permission(request) or is_admin(request.user)
