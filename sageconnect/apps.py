from django.contrib.admin.apps import AdminConfig


class SageConnectAdminConfig(AdminConfig):
    """django.contrib.admin with our site (sageconnect/admin_site.py)."""

    default_site = "sageconnect.admin_site.SageConnectAdminSite"
