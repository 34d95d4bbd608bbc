"""Open311 GeoReport v2: discovery, services, requests in JSON and XML, API keys, spec-format errors."""

from xml.etree import ElementTree as ET

import pytest
from django.contrib.gis.geos import Point

from city_gis.accounts.models import Department, User
from city_gis.cases import services, workflow
from city_gis.cases.models import Case
from field_app_api.models import ApiKey

pytestmark = pytest.mark.django_db
BASE = "/open311/v2/"


@pytest.fixture
def api_key():
    return ApiKey.issue("test-partner")[1]


def xml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


def post_request(api, key, area, **over):
    data = {"api_key": key, "service_code": "0102", "lat": area["lat"], "long": area["lon"],
            "description": "小区门口垃圾", "email": "citizen@example.org", "first_name": "张", "phone": "13800000000",
            "media_url": "https://example.org/p.jpg"}
    data.update(over)
    return api.post(BASE + "requests.json", {k: v for k, v in data.items() if v is not None})


def test_discovery_in_both_formats(api):
    j = api.get(BASE + "discovery.json").json()
    assert j["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    root = xml(api.get(BASE + "discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["application/json", "text/xml"]


def test_services_are_the_small_classes(api):
    services_ = api.get(BASE + "services.json").json()
    garbage = next(s for s in services_ if s["service_code"] == "0102")
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境"
    assert garbage["metadata"] is False and garbage["type"] == "realtime"
    assert any(s["service_code"] == "component:0101" for s in services_)
    root = xml(api.get(BASE + "services.xml"))
    assert root.tag == "services" and root.find("service/service_code").text
    assert len(root.findall("service")) == len(services_)


def test_service_definition_and_unknown_service(api):
    assert api.get(BASE + "services/0102.json").json() == {"service_code": "0102", "attributes": []}
    assert xml(api.get(BASE + "services/0102.xml")).tag == "service_definition"
    r = api.get(BASE + "services/9999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    root = xml(api.get(BASE + "services/9999.xml"))
    assert root.tag == "errors" and root.find("error/code").text == "404"


def test_post_creates_a_public_report_pending_verification(api, api_key, field_area):
    r = post_request(api, api_key, field_area)
    assert r.status_code == 201, r.content
    out = r.json()[0]
    case = Case.objects.get(number=out["service_request_id"])
    assert case.state == "pending_verification" and case.source == "open311" and case.reporter is None
    assert case.contact["email"] == "citizen@example.org"
    assert ApiKey.objects.get(name="test-partner").last_used_at is not None


def test_post_xml_answer(api, api_key, field_area):
    data = {"api_key": api_key, "service_code": "0102", "lat": field_area["lat"], "long": field_area["lon"],
            "description": "x"}
    root = xml(api.post(BASE + "requests.xml", data))
    assert root.tag == "service_requests" and root.find("request/service_request_id").text


@pytest.mark.parametrize(
    ("override", "status", "word"),
    [
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "wrong"}, 403, "api_key"),
        ({"service_code": "9999"}, 400, "service_code"),
        ({"lat": None, "long": None}, 400, "lat"),
        ({"lat": 0.0, "long": 0.0}, 400, "location"),
        ({"lat": 123.0}, 400, "lat"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"description": "长" * 4001}, 400, "description"),
    ],
)
def test_post_errors_are_in_the_spec_format(api, api_key, field_area, override, status, word):
    before = Case.objects.count()
    r = post_request(api, api_key, field_area, **override)
    assert r.status_code == status
    errors = r.json()
    assert isinstance(errors, list) and errors[0]["code"] == status and word in errors[0]["description"]
    assert Case.objects.count() == before


def test_address_string_locates_a_named_community(api, api_key, field_area):
    name = field_area["cell"].community.name
    r = post_request(api, api_key, field_area, lat=None, long=None, address_string=f"六盘水市{name}门口")
    assert r.status_code == 201, r.content
    assert Case.objects.get(number=r.json()[0]["service_request_id"]).community_code == field_area["cell"].community.code


def test_get_requests_maps_states_and_hides_the_reporter(api, api_key, field_area):
    number = post_request(api, api_key, field_area).json()[0]["service_request_id"]
    case = Case.objects.get(number=number)
    workflow.perform(case, "verify_confirmed", User.objects.get(username="inspector1"))
    for action, username, extra in [("accept", "operator", {}), ("register", "leader", {}),
                                    ("dispatch", "dispatcher", {"department": "sanitation"})]:
        workflow.perform(case, action, User.objects.get(username=username), **extra)
    got = api.get(BASE + f"requests/{number}.json").json()[0]
    assert got["status"] == "open" and got["status_notes"] == "已派遣"
    assert got["agency_responsible"] == Department.objects.get(code="sanitation").name_zh
    assert got["expected_datetime"] and got["media_url"] == "https://example.org/p.jpg"
    text = api.get(BASE + f"requests/{number}.json").content.decode()
    assert "citizen@example.org" not in text and "13800000000" not in text
    root = xml(api.get(BASE + f"requests/{number}.xml"))
    assert root.find("request/status").text == "open" and root.find("request/service_code").text == "0102"


def test_closed_states_are_closed(api, field_area):
    case = services.create_case(source="public", category_code="0102", location=Point(field_area["lon"], field_area["lat"], srid=4490),
                                description="x", reporter=None)
    workflow.perform(case, "verify_not_found", User.objects.get(username="inspector1"))
    got = api.get(BASE + f"requests/{case.number}.json").json()[0]
    assert got["status"] == "closed" and got["status_notes"] == "不予受理"
    listed = api.get(BASE + "requests.json", {"status": "closed", "service_code": "0102"}).json()
    assert case.number in [x["service_request_id"] for x in listed]
    assert case.number not in [x["service_request_id"] for x in api.get(BASE + "requests.json", {"status": "open"}).json()]


def test_list_filters_and_window(api, api_key, field_area):
    number = post_request(api, api_key, field_area).json()[0]["service_request_id"]
    assert [x["service_request_id"] for x in api.get(BASE + "requests.json", {"service_request_id": number}).json()] == [number]
    old = api.get(BASE + "requests.json", {"end_date": "2020-01-01T00:00:00Z"}).json()
    assert old == []
    assert number in [x["service_request_id"] for x in api.get(BASE + "requests.json").json()]
    r = api.get(BASE + "requests.json", {"start_date": "2026-11-30T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = api.get(BASE + "requests.xml", {"status": "pending"})
    assert r.status_code == 400 and xml(r).find("error/description").text.startswith("status")


def test_unknown_request_is_a_spec_404(api):
    r = api.get(BASE + "requests/000000.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
