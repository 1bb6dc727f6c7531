"""A tenant's time zone is one of the real IANA zones, never a typo that breaks every page showing a time."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tenants.forms import TenantAdminForm
from tenants.validators import time_zone_names


def test_it_refuses_a_misspelt_zone(make_tenant):
    with pytest.raises(ValidationError) as refused:
        make_tenant(time_zone="America/Mexico_Cty")
    assert "is not a time zone of the IANA list" in str(refused.value.message_dict["time_zone"])


def test_it_accepts_the_zones_of_mexico(make_tenant):
    for zone in ("America/Mexico_City", "America/Tijuana", "America/Cancun", "America/Monterrey"):
        assert make_tenant(code=zone.split("/")[1].lower()[:20], portal_tenant_id=zone,
                           time_zone=zone).time_zone == zone


def test_it_offers_the_zone_list_to_pick_from(db):
    choices = [value for value, _label in TenantAdminForm().fields["time_zone"].widget.choices]
    assert choices == list(time_zone_names()) and len(choices) > 300
