"""Addenda on a copy: signed bytes untouched, originals untouched, even under load."""
import hashlib
import multiprocessing
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

from cfdi.addenda import AddendaData, AddendaError, add_addenda, addenda_span, verify_signed_part, with_addenda
from cfdi.parsing import parse_xml
from cfdi.storage import original_path, store_original
from tests.cfdi.samples import SAMPLES, sample

DATA = AddendaData(po_number="PO000123", provider_id="P00007", provider_name="Aceros & Hijos",
                   provider_rfc="H&E951128469",
                   bank_name="BANORTE", bank_account="0123456789", clabe="072580001234567890")


def outside_addenda(xml_bytes: bytes) -> tuple[bytes, bytes]:
    root = parse_xml(xml_bytes)
    span = addenda_span(xml_bytes, root)
    if span is None:
        end = xml_bytes.rindex(b"</")
        return xml_bytes[:end], xml_bytes[end:]
    return xml_bytes[:span.start], xml_bytes[span.end:]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_it_keeps_every_byte_outside_the_addenda(name):
    original = sample(name)
    copy = with_addenda(original, DATA)
    assert outside_addenda(copy) == outside_addenda(original)
    addenda = parse_xml(copy)[-1]
    assert etree.QName(addenda).localname == "Addenda"
    assert addenda.find("AddendaEmisor/OrdenCompra").get("Numero") == "PO000123"
    assert addenda.find("AddendaEmisor/Proveedor").get("Nombre") == "Aceros & Hijos"


def test_it_replaces_an_existing_addenda():
    original = sample("satcfdi-cfdi40-with-addenda.xml")
    copy = with_addenda(original, DATA)
    assert b"diverza" not in copy.split(b"<cfdi:Addenda")[-1]
    assert len(parse_xml(copy).findall("{http://www.sat.gob.mx/cfd/4}Addenda")) == 1
    assert outside_addenda(copy) == outside_addenda(original)


def test_it_replaces_an_empty_self_closing_addenda():
    original = sample("satcfdi-invoice-pue-stamped.xml").replace(b"</cfdi:Comprobante>",
                                                                 b"<cfdi:Addenda/></cfdi:Comprobante>")
    copy = with_addenda(original, DATA)
    assert b"<cfdi:Addenda/>" not in copy
    assert outside_addenda(copy) == outside_addenda(original)


def test_it_refuses_a_copy_whose_signed_part_changed():
    original = sample("satcfdi-invoice-pue-stamped.xml")
    tampered = with_addenda(original, DATA).replace(b'Total="17852.75"', b'Total="17852.76"')
    with pytest.raises(AddendaError, match="signed content"):
        verify_signed_part(original, tampered)


def test_it_refuses_a_broken_original():
    with pytest.raises(AddendaError):
        with_addenda(sample("cfdiutils-cfdi40-real.xml")[:1000], DATA)


def test_it_writes_the_copy_under_its_own_name(cfdi_storage_dir):
    original = sample("satcfdi-invoice-ppd-stamped.xml")
    digest = store_original(original)
    path = add_addenda(digest, DATA)
    assert path != original_path(digest) and path.is_relative_to(cfdi_storage_dir)
    assert original_path(digest).read_bytes() == original
    assert outside_addenda(path.read_bytes()) == outside_addenda(original)


def _writer_plan(digests: list[str], writers: int, seed: int) -> list[tuple[str, AddendaData]]:
    rng = random.Random(seed)
    # More writers than files: several write the same document at once.
    return [(rng.choice(digests), AddendaData(po_number=f"PO{i:06d}", provider_id=f"P{i:05d}"))
            for i in range(writers * 4)]


def _write_many(jobs):
    for digest, data in jobs:
        add_addenda(digest, data)


def _stored_originals(count: int) -> dict[str, bytes]:
    originals = {}
    names = sorted(SAMPLES)
    for i in range(count):
        # Distinct bytes per file: the comment sits before the root element.
        xml_bytes = sample(names[i % len(names)]).replace(b"<cfdi:Comprobante",
                                                          f"<!-- copy {i} --><cfdi:Comprobante".encode(), 1)
        originals[store_original(xml_bytes)] = xml_bytes
    return originals


def _assert_all_intact(originals: dict[str, bytes]) -> None:
    for digest, xml_bytes in originals.items():
        assert hashlib.sha256(original_path(digest).read_bytes()).hexdigest() == digest
        copy = (original_path(digest).parent / f"{digest}.addenda.xml").read_bytes()
        assert outside_addenda(copy) == outside_addenda(xml_bytes)
        assert parse_xml(copy)[-1].find("AddendaEmisor/OrdenCompra").get("Numero").startswith("PO")
    leftovers = [p for p in original_path(next(iter(originals))).parent.parent.rglob(".tmp-*")]
    assert leftovers == []


def _read_while_written(originals: dict[str, bytes], writing: threading.Event) -> int:
    """Parse every copy that exists, over and over until the writers are done
    (and once more after): none may ever be partial."""
    seen = 0
    last_pass = False
    while not last_pass:
        last_pass = not writing.is_set()
        for digest in originals:
            path = original_path(digest).parent / f"{digest}.addenda.xml"
            if path.exists():
                parse_xml(path.read_bytes())
                seen += 1
    return seen


def test_it_survives_50_threads_adding_addenda_to_20_files(cfdi_storage_dir):
    originals = _stored_originals(20)
    jobs = _writer_plan(list(originals), 50, seed=1)
    writing = threading.Event()
    writing.set()
    with ThreadPoolExecutor(max_workers=52) as pool:
        readers = [pool.submit(_read_while_written, originals, writing) for _ in range(2)]
        list(pool.map(lambda i: _write_many(jobs[i::50]), range(50)))
        writing.clear()
        assert sum(reader.result() for reader in readers) > 0
    _assert_all_intact(originals)


def test_it_survives_50_processes_adding_addenda_to_20_files(cfdi_storage_dir):
    originals = _stored_originals(20)
    jobs = _writer_plan(list(originals), 50, seed=2)
    # fork: the children inherit Django's settings, including this test's storage.
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_many, args=(jobs[i::50],)) for i in range(50)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * 50
    _assert_all_intact(originals)
