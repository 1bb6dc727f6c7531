"""One process writing the Addenda copy of a stored original again and again, for the addenda race test.

python -m tests.cfdi.addenda_race_worker START_AT SHA256 PO_NUMBER ROUNDS
(SAGECONNECT_MEDIA_ROOT names the storage the parent test uses.)
"""
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sageconnect.test_settings")
django.setup()

from cfdi.addenda import AddendaData, add_addenda  # noqa: E402


def main(start_at: float, sha256: str, po_number: str, rounds: int) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    for _round in range(rounds):
        add_addenda(sha256, AddendaData(po_number=po_number, provider_id="P00001", provider_name="Aceros",
                                        provider_rfc="ACE800101AB1", bank_name="BANORTE", clabe="072580000000000011"))


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]))
