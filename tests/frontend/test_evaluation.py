"""Evaluation dashboard in a real browser: choropleth, rankings, trend chart, drill-down, export links."""

from __future__ import annotations

import pytest

from .conftest import require_backend

pytestmark = pytest.mark.browser


def test_dashboard_renders_choropleth_rankings_and_trend(open_as, committed):
    require_backend("/api/v1/evaluation/")
    page, probe = open_as("leader", "/evaluation/")
    page.wait_for_selector("#dashboard[data-loaded='1']", timeout=60_000)
    assert page.locator("#dash-map .leaflet-overlay-pane path").count() > 0, "areas are drawn"
    assert page.locator("#choro-legend i").count() >= 5
    assert page.locator("#rank-department tbody tr").count() > 0
    assert page.locator("#rank-inspector tbody tr").count() > 0
    assert page.locator("#trend-chart").is_visible()
    assert "export/?" in page.get_attribute("#export-xlsx", "href")
    probe.screenshot("evaluation")
    figures = page.locator("#rank-department .cg-figure")
    if figures.count():
        figures.first.click()
        page.wait_for_selector("#drill.open #drill-table thead")
    assert not probe.errors, probe.errors


def test_switching_level_redraws_the_choropleth(open_as, committed):
    require_backend("/api/v1/evaluation/")
    page, probe = open_as("leader_view", "/evaluation/")
    page.wait_for_selector("#dashboard[data-loaded='1']", timeout=60_000)
    communities = page.locator("#dash-map .leaflet-overlay-pane path").count()
    page.select_option("#dash-level", "street")
    page.wait_for_function(f"document.querySelectorAll('#dash-map .leaflet-overlay-pane path').length !== {communities}")
    assert 0 < page.locator("#dash-map .leaflet-overlay-pane path").count() < communities
    assert not probe.errors, probe.errors
