"""Editing in /map/ (frontend/static/frontend/js/mapedit.js, Leaflet-Geoman): the land department's steward draws a
polygon on a layer of their department, fills its attribute form and saves it through OGC API – Features Part 4;
the feature is then in the database with a new version of the layer, appears in the edit log, and "undo" removes
it again as one more version."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

NAME = "land.test_map_edit"


@pytest.fixture
def edit_layer(site_url, django_db_blocker, tmp_path):
    """A committed generic polygon layer of the land department (one feature: version 1), removed after."""
    import geopandas as gpd
    from shapely.geometry import box

    from layers.importer import LayerCreate, import_file
    from layers.models import Layer

    with django_db_blocker.unblock():
        Layer.objects.filter(name=NAME).delete()
        path = tmp_path / "edit.geojson"
        gpd.GeoDataFrame({"code": ["A"], "name": ["甲"]}, geometry=[box(104.86, 26.60, 104.861, 26.601)],
                         crs="EPSG:4490").to_file(path, driver="GeoJSON")
        import_file(str(path), NAME, create=LayerCreate(department="land", title_zh="网页编辑测试"))
        layer = Layer.objects.get(name=NAME)
        yield layer
        Layer.objects.filter(name=NAME).delete()


def test_a_steward_draws_a_polygon_and_saves_it_as_a_new_version(open_as, edit_layer, django_db_blocker):
    from layers.models import GenericFeature, LayerVersion

    page, probe = open_as("dept_land", "/map/")
    page.wait_for_selector("#edit-panel:not([hidden])")
    page.select_option("#edit-layer", NAME)
    page.wait_for_selector(".leaflet-pm-icon-polygon")
    page.wait_for_selector("#edit-log li")  # the import's version 1
    page.click(".leaflet-pm-icon-polygon")
    box = page.locator("#viewer-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((0, 0), (60, 0), (60, 60), (0, 60)):
        page.mouse.click(cx + dx, cy + dy)
    page.mouse.click(cx, cy)  # back on the first vertex: the ring is closed
    page.wait_for_selector('#edit-form input[name="code"]')
    page.fill('#edit-form input[name="code"]', "WEB1")
    page.fill('#edit-form input[name="name"]', "网页绘制")
    page.click("#edit-save")
    page.wait_for_selector('#edit-log li[data-number="2"]')
    with django_db_blocker.unblock():
        feature = GenericFeature.objects.get(layer=edit_layer, attributes__code="WEB1")
        assert feature.attributes == {"code": "WEB1", "name": "网页绘制"}
        assert feature.geom.geom_type == "Polygon" and feature.geom.valid and len(feature.geom.coords[0]) == 5
        version = LayerVersion.objects.get(layer=edit_layer, number=2)
        assert (version.kind, version.rows_added, version.created_by.username) == ("edit", 1, "dept_land")
    # undo: the inverse edit (a delete) is version 3
    page.click("#edit-undo")
    page.wait_for_selector('#edit-log li[data-number="3"]')
    with django_db_blocker.unblock():
        assert not GenericFeature.objects.filter(layer=edit_layer, attributes__code="WEB1").exists()
        version = LayerVersion.objects.get(layer=edit_layer, number=3)
        assert (version.kind, version.rows_removed) == ("edit", 1)
    assert not probe.errors, probe.errors


def test_a_stale_save_shows_the_newer_state(open_as, edit_layer, django_db_blocker):
    from layers.models import GenericFeature
    from layers.versions import apply_edits

    page, probe = open_as("dept_land", "/map/")
    page.wait_for_selector("#edit-panel:not([hidden])")
    page.evaluate("() => CityGIS.viewer.map.fitBounds([[26.5995, 104.8595], [26.6015, 104.8615]])")
    page.select_option("#edit-layer", NAME)
    path = page.locator("#viewer-map path.leaflet-interactive[stroke='#6a1b9a']").first
    path.wait_for()
    path.click()
    page.wait_for_selector('#edit-form input[name="name"]')
    assert page.input_value('#edit-form input[name="name"]') == "甲"
    with django_db_blocker.unblock():  # another steward saves first
        fid = GenericFeature.objects.get(layer=edit_layer).pk
        apply_edits(edit_layer, None, [{"op": "update", "id": fid, "properties": {"name": "他人先改"}}])
    page.fill('#edit-form input[name="name"]', "我的修改")
    page.click("#edit-save")
    page.wait_for_function("() => document.querySelector('#edit-form input[name=name]')?.value === '他人先改'")
    with django_db_blocker.unblock():
        assert GenericFeature.objects.get(pk=fid).attributes["name"] == "他人先改"
    assert [e for e in probe.errors if "412" not in e] == [], probe.errors


def test_a_field_with_a_closed_list_is_a_drop_down_of_its_choices(open_as, django_db_blocker):
    """disaster.hazard_points (typed: HazardPoint) — 灾种 and 风险等级 are chosen from their lists, by label."""
    from layers.models import HazardPoint

    page, probe = open_as("dept_geohazard", "/map/")
    page.wait_for_selector("#edit-panel:not([hidden])")
    page.evaluate("() => CityGIS.viewer.map.setView([26.60, 104.86], 16, {animate: false})")
    page.select_option("#edit-layer", "disaster.hazard_points")
    page.wait_for_selector(".leaflet-pm-icon-marker")
    page.click(".leaflet-pm-icon-marker")
    box = page.locator("#viewer-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector('#edit-form select[name="kind"]')
    labels = page.locator('#edit-form select[name="kind"] option').all_inner_texts()
    assert labels == ["—", "滑坡", "崩塌", "泥石流", "地面塌陷"]
    assert page.locator('#edit-form select[name="risk_level"] option').all_inner_texts() == ["—", "低", "中", "高", "极高"]
    assert page.get_attribute('#edit-form input[name="code"]', "maxlength") == "30"
    page.fill('#edit-form input[name="code"]', "WEB-DD-1")
    page.fill('#edit-form input[name="name"]', "网页新增隐患点")
    page.select_option('#edit-form select[name="kind"]', label="崩塌")
    page.select_option('#edit-form select[name="risk_level"]', label="高")
    page.click("#edit-save")
    try:
        with django_db_blocker.unblock():
            for _ in range(100):  # the save is one OGC API POST; wait for its commit
                point = HazardPoint.objects.filter(code="WEB-DD-1").first()
                if point is not None:
                    break
                page.wait_for_timeout(200)
            assert point is not None, probe.errors
            assert (point.kind, point.risk_level, point.name) == ("collapse", "high", "网页新增隐患点")
    finally:
        with django_db_blocker.unblock():
            HazardPoint.objects.filter(code="WEB-DD-1").delete()
    assert not probe.errors, probe.errors
