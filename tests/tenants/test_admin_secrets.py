import pytest
from django.urls import reverse

from tenants.models import SECRET_FIELDS, Tenant

PLAIN = {
    "sage_db_password": "sage-db-Pa55!",
    "webapi_password": "webapi-Pa55!",
    "portal_key": "portal-key-PLAIN",
    "portal_secret": "portal-secret-PLAIN",
}


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.mx", "a-long-password-9")
    client.force_login(user)
    return client


def _change_url(tenant: Tenant) -> str:
    return reverse("admin:tenants_tenant_change", args=[tenant.pk])


def _post_data(client, tenant: Tenant, **changes) -> dict:
    """The change form as a browser would submit it, with `changes` applied."""
    form = client.get(_change_url(tenant)).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        # BoundField.value() is already prepared for the widget (a JSON field's is its JSON text).
        data[name] = "" if name in SECRET_FIELDS else value
    data.update(changes)
    return data


def test_it_never_shows_a_stored_secret_on_the_change_page(admin_client_, make_tenant):
    tenant = make_tenant(**PLAIN)
    html = admin_client_.get(_change_url(tenant)).content.decode()
    for value in PLAIN.values():
        assert value not in html
    stored = Tenant.objects.filter(pk=tenant.pk).values_list("portal_secret", flat=True).get()
    assert stored not in html
    assert html.count("Currently set.") == len(SECRET_FIELDS)


def test_it_says_not_set_for_an_empty_secret(admin_client_, make_tenant):
    tenant = make_tenant(portal_secret="")
    html = admin_client_.get(_change_url(tenant)).content.decode()
    assert "Not set." in html


def test_it_keeps_a_secret_when_its_input_is_left_blank(admin_client_, make_tenant):
    tenant = make_tenant(**PLAIN)
    response = admin_client_.post(_change_url(tenant), _post_data(admin_client_, tenant, name="Renamed SA"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert tenant.name == "Renamed SA"
    assert {field: getattr(tenant, field) for field in SECRET_FIELDS} == PLAIN


def test_it_replaces_a_secret_that_is_typed(admin_client_, make_tenant):
    tenant = make_tenant(**PLAIN)
    data = _post_data(admin_client_, tenant, portal_secret="a-new-secret")
    assert admin_client_.post(_change_url(tenant), data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.portal_secret == "a-new-secret"
    assert tenant.portal_key == PLAIN["portal_key"]


def test_it_clears_a_secret_when_clear_is_ticked(admin_client_, make_tenant):
    tenant = make_tenant(**PLAIN)
    data = _post_data(admin_client_, tenant, webapi_password_clear="on")
    assert admin_client_.post(_change_url(tenant), data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.webapi_password == ""
    assert tenant.sage_db_password == PLAIN["sage_db_password"]


def test_it_refuses_a_new_value_and_clear_together(admin_client_, make_tenant):
    tenant = make_tenant(**PLAIN)
    data = _post_data(admin_client_, tenant, portal_key="typed", portal_key_clear="on")
    response = admin_client_.post(_change_url(tenant), data)
    assert response.status_code == 200
    assert "portal_key" in response.context["adminform"].form.errors
    assert "typed" not in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.portal_key == PLAIN["portal_key"]


def test_it_groups_the_tenant_form_in_named_sections(admin_client_, make_tenant):
    tenant = make_tenant()
    html = admin_client_.get(_change_url(tenant)).content.decode()
    for section in ("General", "Sage database", "Sage 300 Web API", "Portal", "Site rules", "Steps", "Schedule"):
        assert f">{section}<" in html
