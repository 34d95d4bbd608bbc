"""The review engine against the demo city: per-rule verdicts, areas in EPSG:4544, tolerances, zoning checks,
reproducibility, and the read rights of the author."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from city_gis.review.engine import Proposal, check_proposal, create_review, evaluate, rerun
from city_gis.review.redline import RedlineError, area_and_city_check
from city_gis.review.rules import get_ruleset
from tests.review.conftest import inner_square, plot_geom, to_lonlat, to_metric

pytestmark = pytest.mark.django_db


RESIDENTIAL = Proposal("R2", 2.0, 50.0)


def _run(redline, user, proposal=RESIDENTIAL):
    area = round(area_and_city_check(redline, "geometry"), 2)
    return evaluate(redline, area, proposal, get_ruleset(), user)["results"]


def _rule(results, rule_id):
    return next(r for r in results["rules"] if r["id"] == rule_id)


def test_an_expansion_plot_drawn_over_farmland_is_blocked_by_the_farmland_rule(planner):
    results = _run(plot_geom("ZS-KZ01"), planner)
    farmland = _rule(results, "farmland")
    assert farmland["status"] == "fail" and farmland["severity"] == "blocking"
    assert farmland["conflict_area_m2"] > 1000
    assert 0 < farmland["conflict_pct"] <= 100
    assert farmland["features"][0]["code"].startswith("520201JBNT")
    assert farmland["features"][0]["owner"] == "六盘水市自然资源局（国土）"
    assert results["outcome"] == "blocking"
    assert _rule(results, "zoning")["status"] == "pass"  # R2 on an R2 plot, within FAR 2.5 and 60 m


def test_conflict_areas_agree_with_shapely_in_4544_within_half_a_percent(planner):
    """An independent computation: the same features, reprojected with pyproj, intersected by shapely."""
    from layers.models import BasicFarmland

    redline = plot_geom("ZS-KZ01")
    farmland = _rule(_run(redline, planner), "farmland")
    metric_redline = to_metric(redline)
    for feature in farmland["features"]:
        block = BasicFarmland.objects.get(pk=feature["id"])
        expected = to_metric(shapely.from_wkb(bytes(block.geom.wkb))).intersection(metric_redline).area
        assert feature["area_m2"] == pytest.approx(expected, rel=0.005)
    total = sum(f["area_m2"] for f in farmland["features"])
    assert farmland["conflict_area_m2"] == pytest.approx(total, abs=0.05)
    assert farmland["conflict_pct"] == pytest.approx(100 * total / metric_redline.area, rel=0.005)


def test_a_clean_town_plot_passes_the_control_lines_and_the_zoning(planner, town_plot):
    results = _run(inner_square(town_plot), planner)
    for rule in ("farmland", "eco_redline", "urban_boundary", "cultivated", "hazard_zones", "mining", "zoning"):
        assert _rule(results, rule)["status"] == "pass", rule
    assert results["outcome"] == "pass"
    [landuse] = results["landuse"]
    assert (landuse["code"], landuse["pct"]) == ("0701", 100.0)


def test_zoning_checks_use_class_far_and_height_against_the_plot(planner, town_plot):
    redline = inner_square(town_plot)
    zoning = _rule(_run(redline, planner, Proposal("M1", 2.0, 50.0)), "zoning")
    assert zoning["status"] == "fail" and zoning["conflict_pct"] == 100.0
    [plot] = zoning["features"]
    assert (plot["code"], plot["use_ok"], plot["far_ok"], plot["height_ok"]) == (town_plot, False, True, True)
    [plot] = _rule(_run(redline, planner, Proposal("R2", 9.0, 200.0)), "zoning")["features"]
    assert (plot["use_ok"], plot["far_ok"], plot["height_ok"]) == (True, False, False)
    # a subclass fits its parent's plot; the rule set declares B1/B2 compatible
    assert _rule(_run(redline, planner, Proposal("R2", 1.0, 20.0)), "zoning")["status"] == "pass"


def test_the_urban_boundary_blocks_urban_projects_outside_it_only(planner):
    from django.db import connection

    from layers.models import BasicFarmland

    with connection.cursor() as cur:  # farmland far from the boundary
        cur.execute("""SELECT f.id FROM layers_basicfarmland f, (SELECT ST_Union(geom) AS g FROM review_urbanboundary) u
                       WHERE NOT ST_DWithin(f.geom, u.g, 0.005) ORDER BY f.block_code LIMIT 1""")
        block = BasicFarmland.objects.get(pk=cur.fetchone()[0])
    c = to_metric(shapely.from_wkb(bytes(block.geom.wkb))).representative_point()
    redline = MultiPolygon([to_lonlat(box(c.x - 30, c.y - 30, c.x + 30, c.y + 30))])
    rule = _rule(_run(redline, planner, Proposal("R2", 1.0, 20.0)), "urban_boundary")
    assert rule["status"] == "fail" and rule["outside_pct"] == 100.0
    assert rule["conflict_area_m2"] == pytest.approx(3600, rel=0.005)
    assert _rule(_run(redline, planner, Proposal("E2", 0.0, 0.0)), "urban_boundary")["status"] == "not_applicable"


def test_slivers_below_the_tolerance_are_no_conflict(planner):
    from layers.models import BasicFarmland

    block = to_metric(shapely.from_wkb(bytes(BasicFarmland.objects.order_by("block_code").first().geom.wkb)))
    ring = max(block.geoms, key=lambda g: g.area).exterior.coords
    top = max(y for _x, y in ring)
    x = next(x for x, y in ring if y == top)  # the block's northernmost vertex
    # 30 m × 0.01 m across that vertex: well under 1 m² of overlap
    sliver = MultiPolygon([to_lonlat(box(x - 15, top - 0.01, x + 15, top + 4))])
    assert _rule(_run(sliver, planner), "farmland")["status"] == "pass"
    overlap = MultiPolygon([to_lonlat(box(x - 15, top - 5, x + 15, top + 4))])
    assert _rule(_run(overlap, planner), "farmland")["status"] == "fail"


def test_a_rule_on_a_layer_the_author_may_not_read_is_not_checked(user_factory):
    outsider = user_factory("planner_sanitation", roles=["planner"], department="sanitation")
    results = _run(plot_geom("ZS-KZ01"), outsider)
    mining = _rule(results, "mining")
    assert mining["status"] == "not_checked" and mining["features"] == [] and "land.mining" in mining["reason"]
    assert results["outcome"] != "pass"


def test_a_stored_review_re_runs_to_the_same_figures(planner):
    redline = plot_geom("ZS-KZ02")
    review = create_review(user=planner, redline=redline, area_m2=area_and_city_check(redline, "plot"),
                           proposal=Proposal("M1", 1.0, 20.0), ruleset=get_ruleset(), source="plot")
    assert review.number.startswith("GH-20") and len(review.number) == 14
    assert review.ruleset_version == "LPS-GH-2026.1"
    assert review.data_versions["land.farmland"]["rows"] > 0
    again = rerun(review)
    assert again["same_data"] is True
    assert again["results"] == review.results


@pytest.mark.parametrize("use_class, far, height, field", [
    ("X9", 1, 10, "use_class"), ("", 1, 10, "use_class"), ("R2", -1, 10, "far"), ("R2", "nan", 10, "far"),
    ("R2", 1, 5000, "height_m"), ("R2", "abc", 10, "far"),
])
def test_a_bad_proposal_names_its_field(use_class, far, height, field):
    with pytest.raises(RedlineError) as exc:
        check_proposal(use_class, far, height)
    assert exc.value.field == field
