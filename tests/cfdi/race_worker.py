"""One download worker for the store_cfdi race test, run as its own process.

python -m tests.cfdi.race_worker SETUP|STORE START_AT XML_FILE
"""
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sageconnect.test_settings")
django.setup()

from cfdi.services import store_cfdi  # noqa: E402
from tenants.models import Tenant  # noqa: E402

RECEPTOR = "KIJ0906199R1"


def setup() -> None:
    Tenant.objects.get_or_create(code="race", defaults=dict(
        name="Race SA de CV", rfc=RECEPTOR, sage_db_engine="sqlite", sage_db_name=":memory:",
        webapi_url="http://127.0.0.1:9/", webapi_company="RACE", webapi_user="ADMIN", webapi_password="x",
        portal_url="http://127.0.0.1:9/", portal_tenant_id="race", portal_key="k", portal_secret="s"))


def store(start_at: float, xml_file: str) -> None:
    tenant = Tenant.objects.get(code="race")
    xml_bytes = open(xml_file, "rb").read()
    time.sleep(max(0.0, start_at - time.time()))
    print(store_cfdi(tenant, xml_bytes, {"worker": os.getpid()}).pk)


if __name__ == "__main__":
    if sys.argv[1] == "SETUP":
        setup()
    else:
        store(float(sys.argv[2]), sys.argv[3])
