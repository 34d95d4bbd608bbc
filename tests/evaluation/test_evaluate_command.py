"""`citygis evaluate`: export files and CLI errors naming the option."""

from __future__ import annotations

import csv

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

pytestmark = pytest.mark.django_db


def test_exports_one_level_to_csv(world, tmp_path):
    out = tmp_path / "dept.csv"
    call_command("evaluate", "--period", "2031-03", "--level", "department", "-o", str(out), "--quiet", "--no-map")
    rows = {r["unit"]: r for r in csv.DictReader(out.open(encoding="utf-8-sig"))}
    assert rows["evaltest_y"]["grade"] == "A"


def test_exports_several_levels_to_xlsx_files(world, tmp_path):
    out = tmp_path / "march.xlsx"
    call_command("evaluate", "--start", "2031-03-01", "--end", "2031-03-31", "--level", "cell", "--level",
                 "leader", "-o", str(out), "--quiet")
    for level in ("cell", "leader"):
        assert load_workbook(tmp_path / f"march-{level}.xlsx")["评价结果"].max_row >= 2


@pytest.mark.parametrize("args,option", [
    (["--period", "2031-13"], "--period"), (["--start", "2031-03-01"], "--end"),
    (["--period", "2031-03", "-o", "x.pdf"], "--format"),
])
def test_bad_options(args, option):
    with pytest.raises(CommandError, match=option):
        call_command("evaluate", *args, "--quiet", "--no-map")


def test_prints_a_ranking_and_refreshes_the_map(world, capsys):
    from city_gis.evaluation.models import AreaScore

    call_command("evaluate", "--period", "2031-03", "--level", "community", "--level", "leader")
    out = capsys.readouterr()
    assert "999901001001" in out.out and "eval_lead" in out.out
    assert AreaScore.objects.get(level="community", code="999901001001", period="2031-03").is_current
