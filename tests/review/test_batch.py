"""Batch review: every zoning plot against farmland and the eco redline, published as a layer, run as a job."""

from __future__ import annotations

import pytest

from city_gis.review.batch import LAYER, batch_review
from city_gis.review.models import BatchConflict, BatchRun
from city_gis.review.rules import RulesetError, get_ruleset, parse_ruleset

pytestmark = pytest.mark.django_db


def test_the_demo_publishes_the_conflicts_of_every_plot_as_a_layer():
    from layers.models import Layer

    layer = Layer.objects.select_related("owner").get(name=LAYER)
    assert (layer.owner.code, layer.source_table, layer.classification) == ("planning", "review_batchconflict", "internal")
    assert layer.feature_count == BatchConflict.objects.count() > 0
    run = BatchRun.objects.get()
    assert run.ruleset_version == "LPS-GH-2026.1" and run.plots > 100
    assert set(run.summary) == {"farmland", "eco_redline"}
    assert BatchConflict.objects.filter(plot_code="ZS-KZ01", rule="farmland").exists()
    assert BatchConflict.objects.filter(rule="eco_redline").exclude(plot_use="G1").exists()  # the widened hill park


def test_batch_areas_equal_the_single_review_of_the_same_plot(planner):
    from city_gis.review.engine import Proposal, evaluate
    from city_gis.review.redline import area_and_city_check
    from tests.review.conftest import plot_geom

    run = batch_review(planner)
    redline = plot_geom("ZS-KZ01")
    results = evaluate(redline, area_and_city_check(redline, "plot"), Proposal("R2", 1, 10), get_ruleset(), planner)
    farmland = next(r for r in results["results"]["rules"] if r["id"] == "farmland")
    batch = {c.feature_code: c.area_m2 for c in BatchConflict.objects.filter(run=run, plot_code="ZS-KZ01", rule="farmland")}
    assert batch == pytest.approx({f["code"]: f["area_m2"] for f in farmland["features"]}, abs=0.01)


def test_a_new_run_replaces_the_previous_one():
    first = batch_review()
    second = batch_review()
    assert list(BatchRun.objects.values_list("pk", flat=True)) == [second.pk]
    assert second.conflicts == first.conflicts == BatchConflict.objects.count()


def test_the_batch_runs_as_a_background_job_for_planners_only(client):
    from city_gis.accounts.models import User
    from layers import jobs

    client.force_login(User.objects.get(username="inspector1"))
    assert client.post("/api/v1/reviews/batch/").status_code == 403
    client.force_login(User.objects.get(username="planner"))
    response = client.post("/api/v1/reviews/batch/")
    assert response.status_code == 202 and response["Location"] == f"/api/v1/jobs/{response.json()['id']}/"
    job = jobs.claim("test-worker", kinds=["review.batch"])
    assert job is not None and job.pk == response.json()["id"]
    job = jobs.run(job, "test-worker")
    assert job.state == "succeeded", job.error
    assert job.result["conflicts"] == BatchConflict.objects.count() > 0 and job.result["layer"] == LAYER
    summary = client.get("/api/v1/reviews/batch/").json()
    assert summary["run"] == job.result["run"] and summary["by_rule"]["farmland"]["conflicts"] > 0


def test_batch_rules_must_be_overlap_rules_of_the_rule_set():
    doc = {**get_ruleset().document, "batch_rules": ["zoning"]}
    with pytest.raises(RulesetError, match=r"batch_rules\[0\]"):
        parse_ruleset(doc)
