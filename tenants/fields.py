from django.db import models

from tenants import crypto


class EncryptedTextField(models.TextField):
    """Holds a secret encrypted in the database and plain in Python.

    An empty value means "not set" and is stored empty, so the admin can say
    "set / not set" without decrypting.
    """

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return value
        return crypto.encrypt(value)
