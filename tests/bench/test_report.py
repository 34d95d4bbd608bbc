"""The `make bench` summary (bench/_report.py): ratios against the floor, targets met or not, JSON for comparison."""

from __future__ import annotations

import json

import pytest

from bench import _report


@pytest.fixture(autouse=True)
def empty_report(monkeypatch):
    monkeypatch.setattr(_report, "FIGURES", [])


def test_a_throughput_meets_a_lower_bound_and_a_duration_an_upper_one():
    fast = _report.record("getmap_cold", "pooled", ours=42.8, floor=16.6, unit="req/s", target=">= 2.0")
    slow = _report.record("import", "100k", ours=1.9, floor=1.0, unit="s", target="<= 1.5")
    assert round(fast.ratio, 2) == 2.58 and fast.met is True
    assert slow.ratio == 1.9 and slow.met is False


def test_the_table_lists_every_figure_with_its_verdict():
    _report.record("tiles_cached", "via app", ours=300, floor=1000, unit="req/s", target=">= 0.7")
    _report.record("healthz", "latency", ours=6, unit="ms")
    lines = _report.table().splitlines()
    assert lines[0].split(" | ")[0].strip() == "bench" and len(lines) == 4
    assert "0.30" in lines[2] and lines[2].rstrip().endswith("NO")
    assert [c.strip() for c in lines[3].split("|")] == ["healthz", "latency", "6", "", "ms", "", "", ""]


def test_the_json_keeps_ratios_and_verdicts(tmp_path):
    _report.record("geocode", "points", ours=5000, floor=6000, unit="points/s", target=">= 0.8")
    data = json.loads(_report.write_json(tmp_path).read_text(encoding="utf-8"))
    (figure,) = data["figures"]
    assert figure["bench"] == "geocode" and round(figure["ratio"], 3) == 0.833 and figure["met"] is True


def test_a_malformed_target_is_refused():
    with pytest.raises(ValueError, match="target"):
        _report.record("x", "y", ours=1, floor=1, unit="s", target="> 1")
