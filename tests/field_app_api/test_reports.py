"""POST /api/v1/reports/: validation, geocoded answer, idempotency on client_uuid, EXIF, no orphan files."""

import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from city_gis.cases.models import Case, CaseAttachment
from field_app_api.models import ReportReceipt

from .conftest import purge_cases

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/"


def body(area, **over):
    data = {
        "client_uuid": str(uuid.uuid4()),
        "category": "0102",
        "location": {"type": "Point", "coordinates": [area["lon"], area["lat"]]},
        "observed_at": "2026-11-25T09:30:00+08:00",
        "description": "路边暴露垃圾一堆",
    }
    data.update(over)
    return data


def test_report_is_created_geocoded_and_reported(client_as, field_area):
    r = client_as("inspector1").post(URL, body(field_area), format="json")
    assert r.status_code == 201, r.content
    out = r.json()
    case = Case.objects.get(pk=out["id"])
    assert out["number"] == case.number and out["state"] == "reported" == case.state
    assert out["geocode"]["cell"] == field_area["cell"].code
    assert out["geocode"]["community"]["name"] and out["geocode"]["street"]["name"]
    assert out["next_deadline"] and out["observed_at"].startswith("2026-11-25T09:30:00")
    assert case.reporter.username == "inspector1" and str(case.client_uuid) == out["client_uuid"]


def test_nearby_open_case_of_the_same_class_is_listed_as_possible_duplicate(client_as, field_area):
    c = client_as("inspector1")
    first = c.post(URL, body(field_area), format="json").json()
    second = c.post(URL, body(field_area), format="json").json()
    assert first["number"] in [d["number"] for d in second["duplicates"]]
    assert all(d["distance_m"] <= 50 for d in second["duplicates"])


def test_retry_with_same_payload_returns_the_same_case(client_as, field_area):
    c = client_as("inspector1")
    data = body(field_area)
    first = c.post(URL, data, format="json")
    again = c.post(URL, data, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Case.objects.filter(client_uuid=data["client_uuid"]).count() == 1


def test_same_uuid_with_other_payload_is_a_conflict(client_as, field_area):
    c = client_as("inspector1")
    data = body(field_area)
    assert c.post(URL, data, format="json").status_code == 201
    r = c.post(URL, {**data, "description": "别的问题"}, format="json")
    assert r.status_code == 409 and "client_uuid" in r.json()


def test_same_uuid_from_another_inspector_is_a_conflict_and_leaks_nothing(client_as, field_area):
    data = body(field_area)
    assert client_as("inspector1").post(URL, data, format="json").status_code == 201
    r = client_as("inspector2").post(URL, data, format="json")
    assert r.status_code == 409 and "number" not in r.json()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"client_uuid": None}, "client_uuid"),
        ({"client_uuid": "not-a-uuid"}, "client_uuid"),
        ({"category": "9999"}, "category"),
        ({"location": {"type": "Point", "coordinates": [0.0, 0.0]}}, "location"),
        ({"location": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}, "location"),
        ({"location": None}, "location"),
        ({"description": "很" * 2001}, "description"),
        ({"observed_at": "2099-01-01T00:00:00Z"}, "observed_at"),
        ({"observed_at": "yesterday"}, "observed_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(client_as, field_area, override, field):
    data = {k: v for k, v in body(field_area, **override).items() if v is not None}
    before = Case.objects.count()
    r = client_as("inspector1").post(URL, data, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert Case.objects.count() == before
    if field != "client_uuid":
        assert not ReportReceipt.objects.filter(client_uuid=data["client_uuid"]).exists()


def multipart(area, photos, **over):
    data = body(area, **over)
    data["location"] = __import__("json").dumps(data["location"]) if data.get("location") else None
    data = {k: v for k, v in data.items() if v is not None}
    data["photos"] = photos
    return data


def test_multipart_with_photos_stores_stripped_copies_served_only_to_allowed_users(client_as, field_area, jpeg):
    photo = SimpleUploadedFile("a.jpg", jpeg(gps=(field_area["lon"], field_area["lat"])), "image/jpeg")
    r = client_as("inspector1").post(URL, multipart(field_area, [photo]), format="multipart")
    assert r.status_code == 201, r.content
    ref = r.json()["photos"][0]
    att = CaseAttachment.objects.get(pk=ref["id"])
    assert att.gps is not None and b"CityGIS test phone" not in Path(att.image.path).read_bytes()
    assert "/media/" not in ref["url"]
    got = client_as("inspector1").get(ref["url"])
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    assert client_as("inspector1").get(ref["thumbnail_url"]).status_code == 200
    assert client_as("inspector2").get(ref["url"]).status_code == 404
    assert client_as("operator").get(ref["url"]).status_code == 200
    assert client_as(None).get(ref["url"]).status_code == 401
    # The console's case detail links to the same permission-checked endpoint, never to /media/.
    detail = client_as("operator").get(f"/api/v1/cases/{att.case_id}/").json()
    links = {a["image"] for a in detail["attachments"]} | {a["thumbnail"] for a in detail["attachments"]}
    assert all(link.startswith(f"/api/v1/cases/{att.case_id}/photos/") for link in links)
    assert all(client_as("operator").get(link).status_code == 200 for link in links)


def test_location_and_time_come_from_exif_when_missing(client_as, field_area, jpeg):
    photo = SimpleUploadedFile("a.jpg", jpeg(gps=(field_area["lon"], field_area["lat"]), taken="2026:11:24 16:05:00"),
                               "image/jpeg")
    data = multipart(field_area, [photo], location=None, observed_at=None)
    r = client_as("inspector1").post(URL, data, format="multipart")
    assert r.status_code == 201, r.content
    assert r.json()["geocode"]["cell"] == field_area["cell"].code
    assert r.json()["observed_at"] == "2026-11-24T16:05:00+08:00"


def test_a_bad_photo_rejects_the_whole_report_and_leaves_no_file(client_as, field_area, jpeg, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    good = SimpleUploadedFile("a.jpg", jpeg(), "image/jpeg")
    bad = SimpleUploadedFile("b.jpg", b"%PDF-1.4 not an image", "image/jpeg")
    data = multipart(field_area, [good, bad])
    r = client_as("inspector1").post(URL, data, format="multipart")
    assert r.status_code == 400 and "photos" in r.json()
    assert not Case.objects.filter(client_uuid=data["client_uuid"]).exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_failure_after_files_are_written_removes_them(client_as, field_area, jpeg, settings, tmp_path, monkeypatch):
    """A failure inside the transaction (after the photos were saved) rolls back the case and deletes the files."""
    from field_app_api import domain

    settings.MEDIA_ROOT = str(tmp_path)
    real = domain.attach_photos

    def attach_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        assert [p for p in tmp_path.rglob("*.jpg")]
        raise RuntimeError("disk full")

    monkeypatch.setattr(domain, "attach_photos", attach_then_fail)
    data = multipart(field_area, [SimpleUploadedFile("a.jpg", jpeg(), "image/jpeg")])
    client = client_as("inspector1")
    client.raise_request_exception = False
    assert client.post(URL, data, format="multipart").status_code == 500
    assert not Case.objects.filter(client_uuid=data["client_uuid"]).exists()
    assert not list(tmp_path.rglob("*.jpg"))


def test_oversized_and_too_many_photos_are_400(client_as, field_area, jpeg, settings):
    settings.CITYGIS_PHOTO_MAX_COUNT = 1
    photos = [SimpleUploadedFile(f"{i}.jpg", jpeg(), "image/jpeg") for i in range(2)]
    r = client_as("inspector1").post(URL, multipart(field_area, photos), format="multipart")
    assert r.status_code == 400 and "photos" in r.json()
    settings.CITYGIS_PHOTO_MAX_COUNT = 6
    settings.CITYGIS_PHOTO_MAX_BYTES = 100
    r = client_as("inspector1").post(URL, multipart(field_area, [SimpleUploadedFile("a.jpg", jpeg(), "image/jpeg")]),
                                     format="multipart")
    assert r.status_code == 400 and "photos" in r.json()


@pytest.mark.parametrize("username", ["operator", "dispatcher", "dept_sanitation", "planner", "leader_view"])
def test_only_inspectors_may_report(client_as, field_area, username):
    assert client_as(username).post(URL, body(field_area), format="json").status_code == 403


def in_own_connection(fn, *args):
    """Run fn in a thread: its own DB connection, outside the test's transaction (so it really commits)."""
    import threading

    from django.db import connection

    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            out["error"] = exc
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_concurrent_retries_create_exactly_one_case(field_area):
    """16 threads, each with its own connection, send the same report at the same moment."""
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    from city_gis.accounts.models import User

    user = User.objects.get(username="inspector1")
    data = body(field_area)
    barrier = threading.Barrier(16)
    statuses, numbers = [], []

    def send():
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            r = client.post(URL, data, format="json")
            statuses.append(r.status_code)
            numbers.append(r.json().get("number"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(16)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] * 15 + [201]
        assert len(set(numbers)) == 1
        assert in_own_connection(lambda: Case.objects.filter(client_uuid=data["client_uuid"]).count()) == 1
    finally:
        in_own_connection(lambda: purge_cases(client_uuid__in=[data["client_uuid"]]))


def test_a_report_reads_nothing_it_already_knows(client_as, field_area):
    """The category is read once (the view passes it on), the area names come from the geocode, the duplicate
    links are not read back when none was flagged, no receipt is read before its INSERT (no photos), and the
    case makes no savepoint of its own inside the view's transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from city_gis.grid.models import Community

    client = client_as("inspector1")
    with CaptureQueriesContext(connection) as q:
        r = client.post(URL, body(field_area), format="json")
    assert r.status_code == 201, r.content
    sql = [x["sql"] for x in q.captured_queries]
    assert len([s for s in sql if '"cases_category"' in s]) == 1
    assert not [s for s in sql if "grid_community" in s or s.startswith('SELECT "cases_duplicatelink"')]
    assert not [s for s in sql if s.startswith('SELECT "field_app_api_reportreceipt"')]
    assert len([s for s in sql if s.startswith("SAVEPOINT")]) == 1  # the view's (the test is a transaction)
    community = Community.objects.select_related("street").get(code=r.json()["geocode"]["community"]["code"])
    assert r.json()["geocode"]["community"]["name"] == community.name
    assert r.json()["geocode"]["street"] == {"code": community.street.code, "name": community.street.name}
    assert r.json()["duplicates"] == []


def test_a_retry_answers_with_the_stored_names_and_duplicates(client_as, field_area):
    """The replay reads what the first answer had in memory: same geocode, same duplicates, same JSON."""
    c = client_as("inspector1")
    first = c.post(URL, body(field_area), format="json").json()
    data = body(field_area)
    second = c.post(URL, data, format="json")
    again = c.post(URL, data, format="json")
    assert (second.status_code, again.status_code) == (201, 200)
    assert second.json()["duplicates"] and second.json()["duplicates"][0]["number"] == first["number"]
    assert again.json() == second.json()
