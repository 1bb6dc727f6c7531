import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Creates the first admin user if there is none. The password comes from "
        "SAGECONNECT_ADMIN_PASSWORD, or is generated and printed once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("SAGECONNECT_ADMIN_USER", "admin"))

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("==> an admin user exists already")
            return
        password = os.environ.get("SAGECONNECT_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        shown = "(from SAGECONNECT_ADMIN_PASSWORD)" if os.environ.get("SAGECONNECT_ADMIN_PASSWORD") else password
        self.stdout.write(f"==> admin user created: {username} / {shown}")
