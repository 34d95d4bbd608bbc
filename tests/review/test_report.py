"""The PDF report: it parses, carries the Chinese text, the figures and the rule-set version, and its map comes
from our own WMS with the redline drawn on it."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from city_gis.review.engine import Proposal, create_review
from city_gis.review.redline import area_and_city_check
from city_gis.review.report import map_bbox, map_image, render_pdf
from city_gis.review.rules import get_ruleset
from tests.review.conftest import plot_geom
from tests.tileserver.conftest import tile_data, tile_settings, tiles_var  # noqa: F401 — generated map config

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(planner):
    redline = plot_geom("ZS-KZ01")
    return create_review(user=planner, redline=redline, area_m2=area_and_city_check(redline, "plot"),
                         proposal=Proposal("R2", 2.0, 50.0), ruleset=get_ruleset(), source="plot", title="城东扩展区住宅项目")


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_parses_and_holds_the_chinese_text_figures_and_versions(review):
    pdf = render_pdf(review)
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    farmland = next(r for r in review.results["rules"] if r["id"] == "farmland")
    for expected in ("建设项目规划合规性审查报告", review.number, "城东扩展区住宅项目", "永久基本农田", "生态保护红线",
                     "城镇开发边界", "不通过", "LPS-GH-2026.1", f"{farmland['conflict_area_m2']:,.2f}",
                     f"{review.redline_area_m2:,.2f}", farmland["features"][0]["code"], "土地利用现状构成"):
        assert expected in text, expected
    fonts = {f for page in PdfReader(io.BytesIO(pdf)).pages
             for f in (page["/Resources"].get("/Font") or {}).values()}
    # the CJK TrueType font is embedded (as a subset, hence the AAAAAA+ prefix)
    assert any("WenQuanYi" in str(f.get_object().get("/BaseFont")) for f in fonts)


@pytest.mark.usefixtures("tile_data")
def test_the_map_comes_from_our_wms_with_the_redline_drawn_in_red(review):
    png, from_wms = map_image(review)
    assert from_wms is True
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (900, 600)
    minx, miny, maxx, maxy = map_bbox(review)
    lon, lat = review.redline.extent[0], (review.redline.extent[1] + review.redline.extent[3]) / 2
    x = round((lon - minx) / (maxx - minx) * 900)
    y = round((maxy - lat) / (maxy - miny) * 600)
    reds = [image.getpixel((x + dx, y)) for dx in range(-2, 3)]
    assert any(r > 180 and g < 60 and b < 60 for r, g, b in reds), reds  # the redline's western edge
    colours = len(set(image.getdata()))
    assert colours > 20  # a rendered base map, not a blank canvas
