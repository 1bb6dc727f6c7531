import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from tenants.models import SECRET_FIELDS, Tenant

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _stored(tenant: Tenant, field: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM tenants_tenant WHERE id = %s", [tenant.pk])
        return cursor.fetchone()[0]


def test_it_reencrypts_every_secret_with_the_first_key(make_tenant, settings):
    settings.FERNET_KEYS = [OLD_KEY]
    tenant = make_tenant(sage_db_password="db-pass")
    before = {field: _stored(tenant, field) for field in SECRET_FIELDS}

    settings.FERNET_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_secrets", stdout=io.StringIO())

    settings.FERNET_KEYS = [NEW_KEY]
    for field in SECRET_FIELDS:
        stored = _stored(tenant, field)
        assert stored != before[field]
        assert Fernet(NEW_KEY.encode()).decrypt(stored.removeprefix("fernet:").encode())
    tenant = Tenant.objects.get(pk=tenant.pk)
    assert (tenant.sage_db_password, tenant.portal_key) == ("db-pass", "portal-key-123")


def test_it_cannot_read_secrets_once_the_old_key_is_dropped_unrotated(make_tenant, settings):
    settings.FERNET_KEYS = [OLD_KEY]
    tenant = make_tenant()
    settings.FERNET_KEYS = [NEW_KEY]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Tenant.objects.get(pk=tenant.pk)


def test_it_names_the_tenant_and_field_it_cannot_decrypt_and_changes_nothing(make_tenant, settings):
    settings.FERNET_KEYS = [OLD_KEY]
    tenant = make_tenant()
    before = _stored(tenant, "portal_key")
    settings.FERNET_KEYS = [NEW_KEY]
    with pytest.raises(CommandError, match="Tenant acme: sage_db_password|Tenant acme: webapi_password"):
        call_command("rotate_secrets")
    assert _stored(tenant, "portal_key") == before


def test_it_encrypts_a_secret_stored_in_plain_text(make_tenant):
    tenant = make_tenant()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tenants_tenant SET portal_secret = %s WHERE id = %s", ["legacy-plain", tenant.pk])
    call_command("rotate_secrets", stdout=io.StringIO())
    assert _stored(tenant, "portal_secret").startswith("fernet:")
    assert Tenant.objects.get(pk=tenant.pk).portal_secret == "legacy-plain"
