"""REST: leaders and the command centre read everything; inspectors and handlers only their own figures;
bad parameters → 400 naming the parameter."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from .conftest import _user

pytestmark = pytest.mark.django_db
URL, DRILL, EXPORT = "/api/v1/evaluation/", "/api/v1/evaluation/drilldown/", "/api/v1/evaluation/export/"


def client_for(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def leader_view(db):
    return _user("eval_viewer", ["leader_view"])


def test_anonymous_is_refused(world):
    assert APIClient().get(URL, {"level": "cell", "period": "2031-03"}).status_code == 401


def test_leader_view_reads_a_level(world, leader_view):
    r = client_for(leader_view).get(URL, {"level": "department", "period": "2031-03"})
    assert r.status_code == 200
    body = r.json()
    assert body["period"] == {"label": "2031-03", "start": "2031-03-01", "end": "2031-03-31"}
    x = next(u for u in body["results"] if u["unit"] == "evaltest_x")
    assert x["counts"]["closing_rate"] == {"numerator": 3, "denominator": 4}
    assert (x["score"], x["grade"]) == (64.0, "C")


def test_start_end_range_equals_the_month(world, leader_view):
    c = client_for(leader_view)
    month = c.get(URL, {"level": "dispatcher", "period": "2031-03"}).json()["results"]
    rng = c.get(URL, {"level": "dispatcher", "start": "2031-03-01", "end": "2031-03-31"}).json()["results"]
    assert month == rng


@pytest.mark.parametrize("params,field", [
    ({"level": "planet", "period": "2031-03"}, "level"), ({"period": "2031-03"}, "level"),
    ({"level": "cell", "period": "2031-3x"}, "period"), ({"level": "cell", "start": "2031-03-01"}, "end"),
])
def test_bad_parameters_are_400_naming_them(world, leader_view, params, field):
    r = client_for(leader_view).get(URL, params)
    assert r.status_code == 400 and field in r.json()


def test_inspector_sees_only_their_own_row(world):
    c = client_for(world.users["insp_a"])
    r = c.get(URL, {"level": "inspector", "period": "2031-03"})
    assert r.status_code == 200 and [u["unit"] for u in r.json()["results"]] == ["insp_a"]
    assert c.get(URL, {"level": "department", "period": "2031-03"}).status_code == 403
    ok = c.get(DRILL, {"level": "inspector", "unit": "insp_a", "indicator": "miss_rate", "period": "2031-03"})
    assert ok.status_code == 200 and (ok.json()["numerator"], ok.json()["denominator"]) == (2, 7)
    other = c.get(DRILL, {"level": "inspector", "unit": "insp_b", "indicator": "miss_rate", "period": "2031-03"})
    assert other.status_code == 403


def test_handler_sees_only_their_department(world):
    c = client_for(world.users["hy"])
    r = c.get(URL, {"level": "department", "period": "2031-03"})
    assert [u["unit"] for u in r.json()["results"]] == ["evaltest_y"]
    assert c.get(DRILL, {"level": "department", "unit": "evaltest_x", "indicator": "due",
                         "period": "2031-03"}).status_code == 403


def test_planner_is_refused(world):
    planner = _user("eval_planner", ["planner"])
    assert client_for(planner).get(URL, {"level": "cell", "period": "2031-03"}).status_code == 403


def test_drilldown_lists_case_numbers(world, leader_view):
    r = client_for(leader_view).get(DRILL, {"level": "dispatcher", "unit": "eval_disp",
                                            "indicator": "accurate_dispatch_rate", "period": "2031-03"})
    assert r.status_code == 200
    body = r.json()
    assert (body["numerator"], body["denominator"]) == (5, 6)
    returned = [c["number"] for c in body["cases"] if not c["in_numerator"]]
    assert returned == [world.cases[3].number]


@pytest.mark.parametrize("params,field", [
    ({"level": "cell", "unit": "x", "indicator": "miss_rate"}, "indicator"),
    ({"level": "inspector", "unit": "nobody-here", "indicator": "miss_rate"}, "unit"),
    ({"level": "inspector", "indicator": "miss_rate"}, "unit"),
])
def test_drilldown_400s(world, leader_view, params, field):
    r = client_for(leader_view).get(DRILL, {**params, "period": "2031-03"})
    assert r.status_code == 400 and field in r.json()


def test_export_csv_and_xlsx(world, leader_view):
    c = client_for(leader_view)
    r = c.get(EXPORT, {"level": "leader", "period": "2031-03", "format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    lead = next(x for x in rows if x["unit"] == "eval_lead")
    assert (lead["on_time_close_rate_numerator"], lead["on_time_close_rate_denominator"]) == ("3", "4")
    r = c.get(EXPORT, {"level": "leader", "period": "2031-03", "format": "xlsx"})
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(r.content))["评价结果"]
    assert sheet.max_row >= 2
    refused = c.get(EXPORT, {"level": "leader", "period": "2031-03", "format": "pdf"})
    assert refused.status_code == 400 and "format" in refused.json()
