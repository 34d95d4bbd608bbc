"""CSV and XLSX exports parse back to the same figures."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from city_gis.evaluation.engine import evaluate
from city_gis.evaluation.export import columns, export

pytestmark = pytest.mark.django_db


def test_csv_parses_back(world, march):
    results = evaluate("department", march)
    data = export("department", march, results, "csv").decode("utf-8-sig")
    rows = {r["unit"]: r for r in csv.DictReader(io.StringIO(data))}
    x = rows["evaltest_x"]
    assert (x["period"], x["start"], x["end"]) == ("2031-03", "2031-03-01", "2031-03-31")
    assert (x["closing_rate_numerator"], x["closing_rate_denominator"], x["closing_rate"]) == ("3", "4", "0.75")
    assert (float(x["score"]), x["grade"]) == (64.0, "C")
    assert list(rows["evaltest_x"]) == [k for k, _ in columns("department")]


def test_xlsx_parses_back(world, march):
    results = evaluate("inspector", march)
    wb = load_workbook(io.BytesIO(export("inspector", march, results, "xlsx")))
    sheet = wb["评价结果"]
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("unit")]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    a = rows["insp_a"]
    assert (a["miss_rate_numerator"], a["miss_rate_denominator"]) == (2, 7)
    assert a["on_time_verify_rate"] is None
    assert a["grade"] == "A"
    assert dict(wb["说明"].iter_rows(min_row=2, values_only=True))["miss_rate"] == "漏报率"


def test_unknown_format_is_refused(march):
    with pytest.raises(ValueError, match="format"):
        export("cell", march, [], "pdf")
