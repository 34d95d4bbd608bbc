"""Mobile reporter in a real browser (phone viewport): a report made offline arrives exactly once."""

from __future__ import annotations

import io

import pytest

from .conftest import a_spot_in_a_cell, require_backend
from .test_console import wait_for

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def photo_file(tmp_path):
    """A small real JPEG, as a phone camera would give."""
    from PIL import Image

    path = tmp_path / "scene.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 160, 90)).save(buf, "JPEG", quality=80)
    path.write_bytes(buf.getvalue())
    return path


def test_report_made_offline_is_sent_once_when_back_online(open_as, committed, tmp_path):
    require_backend("/api/v1/reports/", "/api/v1/categories/")
    from city_gis.cases.models import Case

    lon, lat = a_spot_in_a_cell()
    page, probe = open_as("inspector1", "/m/", viewport=PHONE, is_mobile=True, has_touch=True,
                          geolocation={"longitude": lon, "latitude": lat}, permissions=["geolocation"])
    page.wait_for_selector("#pos-text >> text=GPS")
    page.fill("#cat-search", "暴露垃圾")
    page.locator(".cg-cat-item", has_text="暴露垃圾").first.click()
    page.set_input_files("#photos", str(photo_file(tmp_path)))
    page.fill("#description", "人行道旁暴露垃圾一堆（离线上报测试）")

    page.context.set_offline(True)
    page.wait_for_selector("#net-state.offline")
    page.click("#btn-submit")
    page.wait_for_selector("#report-msg .cg-alert-info")
    uuids = page.evaluate("CityGIS.queue.all().then(items => items.map(i => i.client_uuid))")
    assert len(uuids) == 1
    assert Case.objects.filter(client_uuid=uuids[0]).count() == 0, "nothing reaches the server while offline"
    probe.screenshot("mobile-offline")

    page.context.set_offline(False)  # the online event triggers the resend
    assert wait_for(lambda: Case.objects.filter(client_uuid=uuids[0]).exists()), "the queued report was sent"
    page.wait_for_function("CityGIS.queue.all().then(items => items.length === 0)")
    page.evaluate("CityGIS.mobile.resend()")  # another resend finds nothing left to send
    assert Case.objects.filter(client_uuid=uuids[0]).count() == 1
    case = Case.objects.get(client_uuid=uuids[0])
    assert case.category.code == "0102"
    assert case.reporter.username == "inspector1"
    assert abs(case.location.x - lon) < 1e-5 and abs(case.location.y - lat) < 1e-5
    page.click(".cg-m-tabs button[data-tab='tab-queue']")
    page.wait_for_selector("#sent-list >> text=暴露垃圾")
    page.click(".cg-m-tabs button[data-tab='tab-report']")
    probe.screenshot("mobile")
    assert not [e for e in probe.errors if "net::ERR_INTERNET_DISCONNECTED" not in e], probe.errors


def test_resending_the_same_report_twice_creates_one_case(open_as, committed):
    """The queue's resend after a lost answer: same client_uuid → the server keeps one case."""
    require_backend("/api/v1/reports/")
    from city_gis.cases.models import Case

    lon, lat = a_spot_in_a_cell()
    page, probe = open_as("inspector1", "/m/", viewport=PHONE)
    page.wait_for_selector(".cg-cat-item")
    uuid = page.evaluate(
        """async ([lon, lat]) => {
            const item = {client_uuid: crypto.randomUUID(), category: "0102", kind: "event", lon, lat,
                          description: "重复发送测试", reported_at: new Date().toISOString(), photos: [], title: "0102"};
            await CityGIS.queue.put(item);
            await CityGIS.mobile.resend();
            await CityGIS.queue.put(item);      // as if the first answer had been lost
            await CityGIS.mobile.resend();
            return item.client_uuid;
        }""",
        [lon, lat],
    )
    assert Case.objects.filter(client_uuid=uuid).count() == 1
    assert not probe.errors, probe.errors


def test_inspector_completes_a_verify_task_from_my_tasks(open_as, committed):
    require_backend("/api/v1/tasks/")
    from django.contrib.gis.geos import Point

    from city_gis.accounts.models import User
    from city_gis.cases.models import Case
    from city_gis.cases.services import create_case
    from city_gis.grid.models import ResponsibilityArea

    inspector = User.objects.get(username="inspector1")
    area = ResponsibilityArea.objects.filter(inspector=inspector).first()
    assert area is not None, "the demo gives inspector1 a responsibility area"
    spot = area.cells.order_by("code").first().geom.point_on_surface
    case = create_case(source="public", category_code="0201", location=Point(spot.x, spot.y, srid=4490),
                       description="市民反映：电线杆上非法小广告", reporter=None)
    assert case.state == "pending_verification" and case.assignee == inspector

    page, probe = open_as("inspector1", "/m/", viewport=PHONE, is_mobile=True, has_touch=True)
    page.click(".cg-m-tabs button[data-tab='tab-tasks']")
    task = page.locator(f".cg-task[data-id='{case.pk}']")
    task.wait_for()
    assert task.locator("a[href^='geo:']").count() == 1, "a navigation link to the spot"
    task.locator("select[name='action']").select_option("verify_confirmed")
    task.locator("textarea[name='note']").fill("现场确认属实")
    probe.screenshot("mobile-tasks")
    task.locator("button[type='submit']").click()
    assert wait_for(lambda: Case.objects.get(pk=case.pk).state == "reported"), "the verification reached the database"
    assert not probe.errors, probe.errors
