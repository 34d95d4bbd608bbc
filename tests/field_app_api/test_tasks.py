"""Tasks: inspectors verify and check in their cells, nearest first; handlers dispose their department's cases."""

import pytest
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile

from city_gis.accounts.models import User
from city_gis.cases import services, workflow
from city_gis.cases.models import Case

pytestmark = pytest.mark.django_db


def public_case(lon, lat, code="0102") -> Case:
    return services.create_case(source="public", category_code=code, location=Point(lon, lat, srid=4490),
                                description="市民反映", reporter=None)


def ids(response):
    return [t["id"] for t in response.json()["results"]]


def test_public_report_becomes_a_verify_task_of_the_cell_inspector(client_as, field_area):
    case = public_case(field_area["lon"], field_area["lat"])
    r = client_as("inspector1").get("/api/v1/tasks/", {"limit": 500})
    assert r.status_code == 200
    task = next(t for t in r.json()["results"] if t["id"] == case.pk)
    assert task["kind"] == "verify" and set(task["actions"]) == {"verify_confirmed", "verify_not_found"}
    assert case.pk not in ids(client_as("inspector2").get("/api/v1/tasks/", {"limit": 500}))


def test_nearest_task_comes_first_when_the_phone_sends_its_position(client_as, field_area):
    near = public_case(field_area["other_lon"], field_area["other_lat"])
    far = public_case(field_area["lon"], field_area["lat"])
    r = client_as("inspector1").get("/api/v1/tasks/", {"lon": field_area["other_lon"], "lat": field_area["other_lat"],
                                                       "limit": 500})
    order = [i for i in ids(r) if i in (near.pk, far.pk)]
    assert order == [near.pk, far.pk]
    assert r.json()["results"][0]["distance_m"] < 1


def test_half_a_position_is_a_400_naming_the_missing_one(client_as):
    r = client_as("inspector1").get("/api/v1/tasks/", {"lon": "104.8"})
    assert r.status_code == 400 and "lat" in r.json()
    assert client_as("inspector1").get("/api/v1/tasks/", {"lon": "east", "lat": "1"}).status_code == 400


def test_full_cycle_through_task_completion_with_photos(client_as, field_area, jpeg):
    case = public_case(field_area["lon"], field_area["lat"])
    inspector = client_as("inspector1")
    r = inspector.post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "verify_confirmed", "note": "属实"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "reported"
    for action, username, extra in [("accept", "operator", {}), ("register", "leader", {}),
                                    ("dispatch", "dispatcher", {"department": "sanitation"})]:
        workflow.perform(case, action, User.objects.get(username=username), **extra)
    assert case.pk in ids(client_as("dept_sanitation").get("/api/v1/tasks/", {"limit": 500}))
    assert case.pk not in ids(client_as("dept_land").get("/api/v1/tasks/", {"limit": 500}))
    assert client_as("dept_land").post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "dispose", "result": "x"},
                                       format="json").status_code == 404
    photo = SimpleUploadedFile("done.jpg", jpeg(color="green"), "image/jpeg")
    r = client_as("dept_sanitation").post(f"/api/v1/tasks/{case.pk}/complete/",
                                          {"action": "dispose", "result": "已清运", "photos": [photo]}, format="multipart")
    assert r.status_code == 200 and r.json()["state"] == "disposed" and len(r.json()["photos"]) == 1
    case.refresh_from_db()
    assert case.attachments.get().history.action == "dispose"
    check = client_as("inspector1").get("/api/v1/tasks/", {"limit": 500}).json()["results"]
    assert next(t for t in check if t["id"] == case.pk)["kind"] == "check"
    r = inspector.post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "check_passed"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "checked"


def test_completing_twice_is_a_conflict(client_as, field_area):
    case = public_case(field_area["lon"], field_area["lat"])
    c = client_as("inspector1")
    assert c.post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "verify_not_found"}, format="json").status_code == 200
    assert c.post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "verify_confirmed"}, format="json").status_code == 409


def test_handler_may_return_or_ask_for_an_extension_naming_missing_fields(client_as, field_area):
    case = public_case(field_area["lon"], field_area["lat"])
    workflow.perform(case, "verify_confirmed", User.objects.get(username="inspector1"))
    for action, username, extra in [("accept", "operator", {}), ("register", "leader", {}),
                                    ("dispatch", "dispatcher", {"department": "sanitation"})]:
        workflow.perform(case, action, User.objects.get(username=username), **extra)
    handler = client_as("dept_sanitation")
    url = f"/api/v1/tasks/{case.pk}/complete/"
    r = handler.post(url, {"action": "request_extension", "reason": "需协调"}, format="json")
    assert r.status_code == 400 and "working_days" in r.json()
    assert handler.post(url, {"action": "request_extension", "reason": "需协调", "working_days": 2},
                        format="json").status_code == 200
    assert Case.objects.get(pk=case.pk).pending_request == "extension"


def test_unknown_action_is_a_400(client_as, field_area):
    case = public_case(field_area["lon"], field_area["lat"])
    r = client_as("inspector1").post(f"/api/v1/tasks/{case.pk}/complete/", {"action": "close"}, format="json")
    assert r.status_code == 400 and "action" in r.json()


def test_sync_returns_changes_since_and_a_server_time_to_continue_from(client_as, field_area):
    c = client_as("inspector1")
    first = c.get("/api/v1/sync/").json()
    case = public_case(field_area["lon"], field_area["lat"])
    r = c.get("/api/v1/sync/", {"since": first["server_time"]})
    assert r.status_code == 200
    out = r.json()
    assert case.pk in out["task_ids"] and case.pk in [t["id"] for t in out["tasks"]]
    assert case.pk in [x["id"] for x in out["cases"]] and out["complete"] is True
    later = c.get("/api/v1/sync/", {"since": out["server_time"]}).json()
    assert case.pk not in [t["id"] for t in later["tasks"]] and case.pk in later["task_ids"]


def test_sync_refuses_a_bad_since(client_as):
    r = client_as("inspector1").get("/api/v1/sync/", {"since": "last tuesday"})
    assert r.status_code == 400 and "since" in r.json()
