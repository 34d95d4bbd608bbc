"""Dispatcher console in a real browser: base map tiles, live cases, the case panel and a dispatch that lands."""

from __future__ import annotations

import time

import pytest

from .conftest import a_spot_in_a_cell, require_backend

pytestmark = pytest.mark.browser


def registered_case():
    """A committed case in state `registered` (reported by inspector1, accepted, registered)."""
    from django.contrib.gis.geos import Point

    from city_gis.accounts.models import User
    from city_gis.cases.services import create_case
    from city_gis.cases.workflow import perform

    lon, lat = a_spot_in_a_cell()
    case = create_case(source="inspector", category_code="0102", location=Point(lon, lat, srid=4490),
                       description="前端测试：路边暴露垃圾", reporter=User.objects.get(username="inspector1"))
    case = perform(case, "accept", User.objects.get(username="operator"))
    return perform(case, "register", User.objects.get(username="leader"))


def wait_for(predicate, timeout: float = 15.0):
    """Poll `predicate` until it returns something truthy (the browser acts asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_dispatch_from_the_console_changes_the_case_state(open_as, committed):
    require_backend("/api/v1/cases/", "/api/v1/categories/")
    from city_gis.cases.models import Case

    case = registered_case()
    page, probe = open_as("dispatcher", f"/console/?case={case.pk}")
    page.wait_for_selector(f"#case-list li[data-id='{case.pk}'].selected")
    page.wait_for_selector("#actions button[data-action='dispatch']")
    assert page.locator(".cg-marker, .marker-cluster").count() > 0, "open cases are drawn on the map"
    assert int(page.inner_text("#count-open")) >= 1

    page.keyboard.press("d")  # shortcut: dispatch
    form = page.locator("form.cg-action-form[data-action='dispatch']")
    form.wait_for()
    default_dept = case.category.default_department.code
    assert form.locator("select[name='department']").input_value() == default_dept
    assert "—" not in page.inner_text("#dispatch-deadline"), "the computed disposal deadline is shown"
    probe.screenshot("console")

    form.locator("button[type='submit']").click()
    state = wait_for(lambda: Case.objects.get(pk=case.pk).state == "dispatched")
    assert state, "the dispatch reached the database"
    assert Case.objects.get(pk=case.pk).department.code == default_dept
    page.wait_for_selector(".cg-timeline li >> text=派遣")
    assert not probe.errors, probe.errors


def test_console_loads_our_base_map_tiles(open_as, site_url):
    require_backend("/tiles/base.basemap/webmercator/12/3200/1700.png")
    page, probe = open_as("dispatcher", "/console/")
    page.wait_for_function("document.querySelectorAll('.leaflet-tile-loaded').length > 0")
    assert probe.ok_tiles(), f"no image/200 tile responses: {probe.tiles[:5]}"
    assert all(url.startswith(site_url) for url in probe.ok_tiles()), "tiles come from our own server"


def test_handler_console_is_limited_to_the_department_queue(open_as, committed):
    require_backend("/api/v1/cases/")
    from city_gis.accounts.models import User
    from city_gis.cases.workflow import perform

    case = perform(registered_case(), "dispatch", User.objects.get(username="dispatcher"))
    dept = case.department.code
    other = "market" if dept != "market" else "traffic"
    page, probe = open_as(f"dept_{dept}", "/console/")
    page.wait_for_selector(f"#case-list li[data-id='{case.pk}']")
    assert page.locator("select[name='department']").is_disabled()
    page2, _ = open_as(f"dept_{other}", "/console/")
    page2.wait_for_selector("#case-list li")
    assert page2.locator(f"#case-list li[data-id='{case.pk}']").count() == 0
    assert not probe.errors, probe.errors


def test_a_case_changed_elsewhere_shows_within_ten_seconds(open_as, committed):
    require_backend("/api/v1/cases/")
    page, probe = open_as("operator", "/console/")
    page.wait_for_selector("#case-list li[data-id]")
    started = time.monotonic()
    case = registered_case()  # reported, accepted and registered by others while the console is open
    page.wait_for_selector(f"#case-list li[data-id='{case.pk}']", timeout=12_000)
    assert time.monotonic() - started <= 11, "the console polls at least every 10 s"
    assert not probe.errors, probe.errors
