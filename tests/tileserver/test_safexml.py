"""tileserver.safexml, the one hardened reading of the WFS-T and CSW XML bodies: bounded, DTDs refused before
libxml2 sees them (after parsing when an encoding hides them), no entities, no network. The services' own
answers to these refusals are tested in test_wfst.py and test_csw.py."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from lxml import etree

from tileserver import safexml

ROOT = b'<t:Transaction xmlns:t="urn:t" service="WFS">ok</t:Transaction>'
INTERNAL = b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><t>&a;</t>'
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><t>&xxe;</t>'
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE t SYSTEM "http://127.0.0.1:9/evil.dtd"><t/>'


def _refusal(raw: bytes) -> safexml.Refused:
    with pytest.raises(safexml.Refused) as info:
        safexml.parse(raw)
    return info.value


def test_a_plain_body_is_its_root_without_comments_or_processing_instructions():
    root = safexml.parse(b'<?xml version="1.0"?><?evil x?><a><!-- c --><b>x</b><?pi y?></a>')
    assert [child.tag for child in root] == ["b"]
    assert safexml.parse(ROOT).text == "ok"


@pytest.mark.parametrize("raw", [INTERNAL, EXTERNAL, EXTERNAL_DTD, b"<t><!ENTITY a 'b'></t>"],
                         ids=["internal", "xxe", "dtd", "entity"])
def test_declarations_are_refused_before_libxml2_sees_them(monkeypatch, raw):
    def never(*args, **kwargs):
        raise AssertionError("the parser was called")

    monkeypatch.setattr(safexml.etree, "fromstring", never)
    assert _refusal(raw).reason == "dtd"


@pytest.mark.parametrize("raw", [INTERNAL, EXTERNAL, EXTERNAL_DTD], ids=["internal", "xxe", "dtd"])
def test_a_declaration_another_encoding_hides_is_refused_after_parsing(raw):
    utf16 = raw.replace(b'"1.0"?>', b'"1.0" encoding="UTF-16"?>', 1).decode().encode("utf-16")
    assert not safexml.declares_dtd(utf16)
    refusal = _refusal(utf16)
    assert refusal.reason == "dtd"
    assert "root:" not in str(refusal)


def test_the_parser_loads_no_dtd_resolves_no_entity_and_opens_no_network():
    parser = safexml.PARSER
    root = etree.fromstring(EXTERNAL, parser)
    assert "root:" not in etree.tostring(root, encoding="unicode")  # /etc/passwd stays unread
    assert next(root.iter(etree.Entity)) is not None  # kept as a reference, never expanded
    assert etree.fromstring(EXTERNAL_DTD, parser).tag == "t"  # the DTD's URL is not fetched (no error either)


def test_malformed_xml_is_a_syntax_refusal_with_libxml2s_message_cut():
    refusal = _refusal(b"<a>" + b"<b>" * 50 + b"</c>")
    assert refusal.reason == "syntax" and 0 < len(refusal.detail) <= safexml.MAX_DETAIL
    assert _refusal(b"").reason == "syntax"
    assert _refusal(b"<a>&undefined;</a>").reason == "syntax"  # without a DTD an entity is not well-formed


def _request(body: bytes, content_length: str | None = None):
    request = RequestFactory().post("/x", body, content_type="text/xml")
    if content_length is not None:
        request.META["CONTENT_LENGTH"] = content_length
    return request


def test_read_body_bounds_the_body():
    assert safexml.read_body(_request(b"x" * 10), 10) == b"x" * 10
    with pytest.raises(safexml.Refused) as declared:
        safexml.read_body(_request(b"x" * 11), 10)
    assert declared.value.reason == "size"
    with pytest.raises(safexml.Refused) as sent:  # more bytes than the Content-Length said
        safexml.read_body(_request(b"x" * 20, content_length="5"), 10)
    assert sent.value.reason == "size"
    with pytest.raises(safexml.Refused) as length:
        safexml.read_body(_request(b"x", content_length="many"), 10)
    assert length.value.reason == "length"
