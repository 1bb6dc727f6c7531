"""The XML guard refuses a DTD whatever bytes spell it: a UTF-16 or UTF-32 file with a DOCTYPE
and an external entity is refused like its UTF-8 twin, before any fact is read from it."""
from __future__ import annotations

import pytest

from cfdi.parsing import ParseError, parse_xml
from tests.cfdi.samples import sample

GOOD = "satcfdi-invoice-ppd-stamped.xml"


def _reencoded(python_codec: str, declared: str, doctype: str) -> bytes:
    text = sample(GOOD).decode("utf-8")
    head, _sep, body = text.partition("?>")
    return (f'<?xml version="1.0" encoding="{declared}"?>{doctype}' + body).encode(python_codec)


@pytest.mark.parametrize("python_codec,declared", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE"),
                                                   ("utf-32", "UTF-32")])
@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE cfdi:Comprobante [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE cfdi:Comprobante SYSTEM "http://127.0.0.1:9/evil.dtd">',
    "<!DOCTYPE cfdi:Comprobante>",
], ids=["external entity", "external DTD", "bare doctype"])
def test_it_refuses_a_dtd_in_any_encoding(python_codec, declared, doctype):
    hostile = _reencoded(python_codec, declared, doctype)
    assert b"<!DOCTYPE" not in hostile  # the byte check alone cannot see it
    with pytest.raises(ParseError) as refused:
        parse_xml(hostile)
    assert refused.value.code == "doctype"


@pytest.mark.parametrize("python_codec,declared", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_it_still_reads_the_same_cfdi_without_a_dtd_in_those_encodings(python_codec, declared):
    root = parse_xml(_reencoded(python_codec, declared, ""))
    assert root.get("Version") == "4.0"
