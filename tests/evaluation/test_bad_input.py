"""Bad period, date, level, unit, indicator and format parameters of the evaluation API → 400 naming them.

`end=9999-12-31` and `period=9999-W52` used to overflow `date` when computing the day after the last (500).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from city_gis.accounts.models import User

pytestmark = pytest.mark.django_db
URLS = ["/api/v1/evaluation/", "/api/v1/evaluation/drilldown/", "/api/v1/evaluation/export/"]
GOOD = {"level": "department", "unit": "sanitation", "indicator": "closing_rate"}

# (query change, parameter named in the 400 body)
BAD = [
    ({"period": "9999-W52"}, "period"),
    ({"period": "9999"}, "period"),
    ({"period": "9999-12"}, "period"),
    ({"period": "9999-Q4"}, "period"),
    ({"period": "9999-12-31"}, "period"),
    ({"period": "0000-01"}, "period"),
    ({"period": "2026-W60"}, "period"),
    ({"period": "2026-13"}, "period"),
    ({"period": "2026-02-30"}, "period"),
    ({"period": "2026\x00"}, "period"),
    ({"period": "x" * 5000}, "period"),
    ({"start": "2026-01-01", "end": "9999-12-31"}, "end"),
    ({"start": "0001-01-01", "end": "2026-01-01"}, "start"),
    ({"start": "2026-02-30", "end": "2026-03-01"}, "start"),
    ({"start": "2026-01-01", "end": "20261231"}, "end"),
    ({"start": "2026-01-01", "end": "2025-12-31"}, "end"),
    ({"end": "2026-01-01"}, "start"),
    ({"level": "\x00"}, "level"),
    ({"level": "nope"}, "level"),
]
BAD_DRILL = [
    ({"unit": "\x00"}, "unit"),
    ({"unit": "u" * 151}, "unit"),
    ({"indicator": "\x00"}, "indicator"),
]


def leader() -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.get(username="leader"))
    return c


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("change,param", BAD)
def test_bad_period_or_level_is_400_naming_it(url, change, param):
    r = leader().get(url, {**GOOD, **change})
    assert r.status_code == 400, (change, r.content[:300])
    assert param in r.json()


@pytest.mark.parametrize("change,param", BAD_DRILL)
def test_bad_drilldown_is_400_naming_it(change, param):
    r = leader().get("/api/v1/evaluation/drilldown/", {**GOOD, "period": "2026-10", **change})
    assert r.status_code == 400, (change, r.content[:300])
    assert param in r.json()


def test_bad_export_format_is_400():
    r = leader().get("/api/v1/evaluation/export/", {**GOOD, "period": "2026-10", "format": "\x00"})
    assert r.status_code == 400 and "format" in r.json()


@pytest.mark.parametrize("period", ["2999-W52", "2999-12", "1900"])
def test_extreme_but_valid_periods_are_answered(period):
    assert leader().get("/api/v1/evaluation/", {"level": "department", "period": period}).status_code == 200
