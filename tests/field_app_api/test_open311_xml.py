"""Open311 XML stays well-formed whatever text a case holds; control characters are refused on the way in.

Observation 12 of issue 9: a \\x01 in a description made requests.xml unparseable for every client.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from city_gis.cases.models import Case, CaseHistory
from city_gis.text_limits import xml_text
from field_app_api.models import ApiKey

pytestmark = pytest.mark.django_db
BASE = "/open311/v2/"
NASTY = "垃圾\x01堆\x0b在\x1f路口 & <b>\ufffe</b>\x7f"


@pytest.fixture
def stored_nasty_case():
    """A case whose description holds control characters (written before the input rule, or by SQL)."""
    case = Case.objects.exclude(state="merged").order_by("-created_at").first()
    Case.objects.filter(pk=case.pk).update(description=NASTY)
    return case


@pytest.mark.parametrize("url", ["requests.xml", "requests/{number}.xml"])
def test_xml_parses_after_a_control_character_in_a_description(api, stored_nasty_case, url):
    r = api.get(BASE + url.format(number=stored_nasty_case.number),
                {"service_request_id": stored_nasty_case.number} if "{" not in url else {})
    assert r.status_code == 200
    root = ET.fromstring(r.content)  # raised "not well-formed (invalid token)" before
    texts = [el.text for el in root.iter("description")]
    assert "垃圾堆在路口 & <b></b>\x7f" in texts  # forbidden characters dropped, markup kept as text


def test_json_keeps_the_stored_text(api, stored_nasty_case):
    r = api.get(BASE + f"requests/{stored_nasty_case.number}.json")
    assert r.json()[0]["description"] == NASTY


@pytest.mark.parametrize("value,expected", [
    ("a\x00b\x08c", "abc"), ("tab\tnl\ncr\r", "tab\tnl\ncr\r"), ("\ud800x", "x"), ("\uffff\ufffe\ufffd", "\ufffd"),
    (12, "12"), ("中文 &<>", "中文 &<>"),
])
def test_xml_text_removes_exactly_what_xml_forbids(value, expected):
    assert xml_text(value) == expected


@pytest.mark.parametrize("field,value", [
    ("description", "垃圾\x01"), ("description", "x" * 4001), ("address_string", "荷城\x00街道"),
    ("first_name", "\x1b[31m"), ("phone", "138\x7f"), ("device_id", "d\x02"),
])
def test_post_with_control_characters_or_too_long_is_400_and_stores_nothing(api, field_area, field, value):
    key = ApiKey.issue("xml-partner")[1]
    data = {"api_key": key, "service_code": "0102", "lat": field_area["lat"], "long": field_area["lon"],
            "description": "小区门口垃圾", field: value}
    before = Case.objects.count(), CaseHistory.objects.count()
    r = api.post(BASE + "requests.json", data)
    assert r.status_code == 400, r.content[:300]
    body = r.json()
    assert body[0]["code"] == 400 and body[0]["description"].startswith(f"{field}:")
    assert (Case.objects.count(), CaseHistory.objects.count()) == before


def test_xml_renderer_output_is_well_formed_for_any_text():
    """The one renderer of Open311 XML, fed every code point class XML 1.0 forbids, in items and errors."""
    from field_app_api.open311.rendering import Open311XMLRenderer

    hostile = "".join(chr(c) for c in range(32)) + "\ud800\udfff\ufffe\uffff<x>&]]>"
    for data in ([{"description": hostile, "keywords": [hostile]}], [{"code": 400, "description": hostile}]):
        root = ET.fromstring(Open311XMLRenderer().render(data, renderer_context={}))
        assert "<x>&]]>" in "".join(root.itertext())
