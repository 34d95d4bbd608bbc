"""Farmland change monitoring: cultivated land of one land-use layer that is another class in a later one, per
community, published as `land.farmland_changes` and exportable."""

from __future__ import annotations

import pytest
from django.db import connection

from city_gis.review.changes import LAYER, farmland_changes
from city_gis.review.models import ChangeRun, FarmlandChange

pytestmark = pytest.mark.django_db


def test_the_demo_finds_the_expansion_plots_built_on_cropland_and_a_parcel_returned_to_forest():
    from layers.models import Layer

    layer = Layer.objects.select_related("owner").get(name=LAYER)
    assert (layer.owner.code, layer.source_table) == ("land", "review_farmlandchange")
    run = ChangeRun.objects.get()
    assert (run.before_layer, run.after_layer) == ("land.parcels", "land.landuse_2026")
    construction = FarmlandChange.objects.filter(run=run, to_group="construction")
    assert set(construction.values_list("to_code", flat=True)) <= {"0701", "0601", "0501"} and construction.exists()
    forest = FarmlandChange.objects.get(run=run, to_group="other")
    assert (forest.from_code, forest.to_code) == ("0103", "0301")
    assert layer.feature_count == FarmlandChange.objects.count()


def test_change_areas_equal_an_independent_overlay_and_the_summary_adds_up():
    run = ChangeRun.objects.get()
    with connection.cursor() as cur:  # the expansion plots over the cultivated parcels of the earlier layer
        cur.execute("""SELECT sum(ST_Area(ST_Transform(ST_Intersection(p.geom, z.geom), 4544)))
                       FROM layers_landparcel p JOIN layers_zoningplot z ON ST_Intersects(p.geom, z.geom)
                       WHERE p.landuse_code LIKE '01%%' AND z.plot_code LIKE 'ZS-KZ%%'""")
        expected = cur.fetchone()[0]
    built = sum(FarmlandChange.objects.filter(run=run, to_group="construction").values_list("area_m2", flat=True))
    assert built == pytest.approx(expected, rel=0.005)
    assert run.area_m2 == pytest.approx(sum(r["area_m2"] for r in run.summary), abs=0.05)
    assert run.changes == sum(r["patches"] for r in run.summary) == FarmlandChange.objects.count()
    assert all(r["community_name"] for r in run.summary)  # inside a community, else its district (社区外)


def test_comparing_a_layer_with_itself_or_an_unknown_one_names_the_field(planner):
    from city_gis.review.redline import RedlineError

    with pytest.raises(RedlineError) as exc:
        farmland_changes("land.parcels", "land.parcels", planner)
    assert exc.value.field == "after"
    with pytest.raises(RedlineError) as exc:
        farmland_changes("land.nope", "land.landuse_2026", planner)
    assert exc.value.field == "before"


@pytest.mark.parametrize("body, field", [
    ({"before": "land.nope", "after": "land.landuse_2026"}, "before"),
    ({"before": "land.parcels", "after": "cases.open"}, "after"),  # a layer the planner may not read = missing
    ({"before": "land.parcels", "after": "land.parcels"}, "after"),
    ({"before": "../etc", "after": "land.parcels"}, "before"),
])
def test_bad_requests_are_400_naming_the_field_and_queue_nothing(client, body, field):
    from city_gis.accounts.models import User
    from layers.models import Job

    client.force_login(User.objects.get(username="planner"))
    before = Job.objects.count()
    response = client.post("/api/v1/reviews/farmland-changes/", body, content_type="application/json")
    assert response.status_code == 400 and field in response.json()
    assert Job.objects.count() == before


def test_the_comparison_runs_as_a_job_and_the_changes_export(client):
    from city_gis.accounts.models import User
    from layers import jobs

    client.force_login(User.objects.get(username="planner"))
    response = client.post("/api/v1/reviews/farmland-changes/", {"before": "land.parcels", "after": "land.landuse_2026"},
                           content_type="application/json")
    assert response.status_code == 202
    job = jobs.run(jobs.claim("test-worker", kinds=["review.farmland_change"]), "test-worker")
    assert job.state == "succeeded", job.error
    summary = client.get("/api/v1/reviews/farmland-changes/").json()
    assert summary["run"] == job.result["run"] and summary["changes"] == job.result["changes"] > 0
    export = client.get(f"/api/v1/layers/{LAYER}/export/", {"format": "geojson"})
    assert export.status_code == 200
