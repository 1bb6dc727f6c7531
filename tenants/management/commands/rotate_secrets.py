"""Re-encrypt every tenant secret with the first key of SAGECONNECT_FERNET_KEYS.

Rotation: put the new key first, keep the old one after it, run this, then
drop the old key. Values stored before encryption existed are encrypted too.
"""
from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from tenants import crypto
from tenants.models import SECRET_FIELDS, Tenant


def _raw(field: str) -> str:
    return f"raw_{field}"


class Command(BaseCommand):
    help = _("Re-encrypt every stored tenant secret with the first key of SAGECONNECT_FERNET_KEYS.")

    def handle(self, *args, **options) -> None:
        # Cast to a plain text field reads the stored ciphertext without the
        # field decrypting it.
        rows = Tenant.objects.annotate(
            **{_raw(field): Cast(field, models.TextField()) for field in SECRET_FIELDS}
        ).values("pk", "code", *(_raw(field) for field in SECRET_FIELDS))
        count = 0
        with transaction.atomic():
            for row in rows:
                updates = {field: self._reencrypt(row["code"], field, row[_raw(field)]) for field in SECRET_FIELDS
                           if row[_raw(field)]}
                if updates:
                    Tenant.objects.filter(pk=row["pk"]).update(
                        **{field: models.Value(value, output_field=models.TextField())
                           for field, value in updates.items()}
                    )
                    count += len(updates)
        self.stdout.write(_("Re-encrypted %(count)d secret(s) with the first key.") % {"count": count})

    def _reencrypt(self, code: str, field: str, stored: str) -> str:
        if not stored.startswith(crypto.PREFIX):
            return crypto.encrypt(stored)
        try:
            return crypto.rotate(stored)
        except InvalidToken as exc:
            raise CommandError(_(
                "Tenant %(code)s: %(field)s cannot be decrypted with any key in SAGECONNECT_FERNET_KEYS; "
                "add the key it was written with (after the new one) and run this again. Nothing was changed."
            ) % {"code": code, "field": field}) from exc
