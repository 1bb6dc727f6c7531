from django.db import connection

from tenants.models import SECRET_FIELDS

PLAIN = {
    "sage_db_password": "sage-db-Pa55!",
    "webapi_password": "webapi-Pa55!",
    "portal_key": "portal-key-PLAIN",
    "portal_secret": "portal-secret-PLAIN",
}


def test_it_stores_no_secret_in_plain_text(make_tenant):
    tenant = make_tenant(**PLAIN)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(SECRET_FIELDS)} FROM tenants_tenant WHERE id = %s", [tenant.pk])
        stored = cursor.fetchone()
    for field, value in zip(SECRET_FIELDS, stored):
        assert value.startswith("fernet:"), field
        assert PLAIN[field] not in value
    tenant.refresh_from_db()
    assert {field: getattr(tenant, field) for field in SECRET_FIELDS} == PLAIN


def test_it_stores_an_unset_secret_as_empty(make_tenant):
    tenant = make_tenant(portal_secret="")
    with connection.cursor() as cursor:
        cursor.execute("SELECT portal_secret FROM tenants_tenant WHERE id = %s", [tenant.pk])
        assert cursor.fetchone() == ("",)
