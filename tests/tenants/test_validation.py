import pytest
from django.core.exceptions import ValidationError


def test_it_rejects_a_malformed_rfc_as_a_field_error(make_tenant):
    with pytest.raises(ValidationError) as caught:
        make_tenant(rfc="ABC12345")
    assert set(caught.value.message_dict) == {"rfc"}
    assert "ABC12345" in caught.value.message_dict["rfc"][0]


def test_it_rejects_a_bad_url_as_a_field_error(make_tenant):
    with pytest.raises(ValidationError) as caught:
        make_tenant(portal_url="api.portaldeproveedores.mx/no-scheme", webapi_url="ftp//nope")
    assert set(caught.value.message_dict) == {"portal_url", "webapi_url"}


@pytest.mark.parametrize("rfc", ["A&C850101AB1", "MUÑ8001011A1", "ñoñ800101ab1", "GODE561231GR8"])
def test_it_accepts_rfcs_with_ampersand_and_enie(make_tenant, rfc):
    tenant = make_tenant(rfc=rfc)
    tenant.refresh_from_db()
    assert tenant.rfc == rfc.upper()
