"""The review report as PDF: figures, the map (our own WMS with the redline and conflicts drawn on it), the
rule-set and data versions — with an embedded CJK TrueType font (Debian fonts-wqy-zenhei).

The map is a WMS 1.1.1 GetMap in EPSG:4490 sent in-process to whatever view serves `/ows` (resolved by URL, so
the domain imports no edge), as an anonymous client: only public layers are drawn under the redline. If the
map service is unavailable the report still renders, with a blank map and a note saying so.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FONT_NAME = "CityGISCJK"
MAP_LAYERS = ("base.basemap", "land.farmland", "land.eco_redline", "planning.urban_boundary", "planning.zoning")
MAP_SIZE = (900, 600)
STATUS_ZH = {"pass": "通过", "fail": "冲突", "not_applicable": "不适用", "not_checked": "未审查"}
OUTCOME_ZH = {"pass": "通过", "warning": "有提示（需补充审查）", "blocking": "不通过（存在禁止性冲突）"}
SEVERITY_ZH = {"blocking": "禁止", "warning": "提示"}


class FontMissing(RuntimeError):
    """No CJK TrueType font found (install fonts-wqy-zenhei or set CITYGIS_REVIEW_FONT)."""


@lru_cache(maxsize=1)
def font_name() -> str:
    """Register the CJK TrueType font with ReportLab once; its registered name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    paths = [settings.CITYGIS_REVIEW_FONT, *FONT_CANDIDATES]
    path = next((p for p in paths if p and Path(p).is_file()), None)
    if path is None:
        raise FontMissing("no CJK TrueType font: install fonts-wqy-zenhei or set CITYGIS_REVIEW_FONT")
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
    return FONT_NAME


def map_bbox(review, size: tuple[int, int] = MAP_SIZE) -> tuple[float, float, float, float]:
    """The redline's extent with a 25 % margin, widened to the image's aspect (lon/lat, EPSG:4490)."""
    minx, miny, maxx, maxy = review.redline.extent
    w, h = max(maxx - minx, 1e-4), max(maxy - miny, 1e-4)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w, h = w * 1.5, h * 1.5
    aspect = size[0] / size[1]
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def fetch_wms(bbox: tuple[float, float, float, float], size: tuple[int, int] = MAP_SIZE) -> bytes | None:
    """A GetMap of the public control layers from our own `/ows`, in-process; None when it did not answer a PNG."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory
    from django.urls import Resolver404, resolve

    from layers.models import Layer

    names = [n for n in MAP_LAYERS if Layer.objects.filter(name=n, classification="public").exists() or n == "base.basemap"]
    params = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": ",".join(names), "STYLES": "",
              "SRS": "EPSG:4490", "BBOX": ",".join(f"{v:.7f}" for v in bbox), "WIDTH": str(size[0]),
              "HEIGHT": str(size[1]), "FORMAT": "image/png", "TRANSPARENT": "FALSE"}
    request = RequestFactory().get("/ows", params)
    request.user = AnonymousUser()
    try:
        match = resolve("/ows")
        response = match.func(request, *match.args, **match.kwargs)
        body = b"".join(response) if getattr(response, "streaming", False) else response.content
    except Resolver404:
        return None
    except Exception:  # noqa: BLE001 — the map is an illustration: whatever the map service raises, the report renders
        logger.warning("review report: the map service failed; rendering without a base map", exc_info=True)
        return None
    if response.status_code != 200 or not body.startswith(b"\x89PNG"):
        return None
    return body


def _rings(geometry: dict[str, Any]) -> list[list[tuple[float, float]]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    if kind == "GeometryCollection":
        return [r for g in geometry.get("geometries", []) for r in _rings(g)]
    return [ring for poly in polys for ring in poly]


def map_image(review, size: tuple[int, int] = MAP_SIZE) -> tuple[bytes, bool]:
    """(PNG bytes, from_wms): the WMS map with conflicts (red fill) and the redline (red outline) drawn on it."""
    import shapely

    from .engine import redline_geojson

    bbox = map_bbox(review, size)
    base = fetch_wms(bbox, size)
    image = Image.open(io.BytesIO(base)).convert("RGBA") if base else Image.new("RGBA", size, (245, 245, 245, 255))
    minx, miny, maxx, maxy = bbox

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - minx) / (maxx - minx) * size[0], (maxy - y) / (maxy - miny) * size[1]

    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # warnings first, blocking conflicts on top of them
    for rule in sorted(review.results.get("rules", []), key=lambda r: r.get("severity") == "blocking"):
        if rule.get("status") != "fail":
            continue
        colour = (215, 25, 28, 170) if rule.get("severity") == "blocking" else (253, 174, 97, 150)
        for geometry in rule.get("geometries", []):
            for ring in _rings(geometry or {}):
                if len(ring) < 3:
                    continue
                if rule.get("kind") == "zoning":  # whole plots: outlined, so the overlaps under them stay visible
                    draw.line([px(x, y) for x, y in ring], fill=(123, 50, 148, 255), width=3)
                else:
                    draw.polygon([px(x, y) for x, y in ring], fill=colour)
    for ring in _rings(redline_geojson(shapely.from_wkb(bytes(review.redline.wkb)))):
        draw.line([px(x, y) for x, y in ring], fill=(200, 0, 0, 255), width=4, joint="curve")
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, "PNG")
    return out.getvalue(), base is not None


def _fmt_area(value: float | None) -> str:
    return f"{value:,.2f}" if value is not None else "—"


def _local(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def render_pdf(review) -> bytes:
    """The report of `review` as PDF bytes."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image as RLImage
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = font_name()
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
    results = review.results

    def p(text: object, style=body) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(text)), style)  # Paragraph reads markup: every value is escaped

    def table(rows: list[list[object]], widths: list[float]) -> Table:
        t = Table([[p(c, small) for c in row] for row in rows], colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    story: list[Any] = [
        p("建设项目规划合规性审查报告", h1),
        table([["审查编号", review.number, "审查时间", _local(review.created_at)],
               ["项目名称", review.title or "—", "审查人", f"{review.author.label}（{review.department.name_zh if review.department else '—'}）"],
               ["拟用地性质", review.use_class, "容积率 / 高度", f"{review.far:g} / {review.height_m:g} 米"],
               ["红线面积", f"{_fmt_area(review.redline_area_m2)} 平方米", "规则集版本", review.ruleset_version],
               ["审查结论", OUTCOME_ZH.get(review.outcome, review.outcome), "红线来源", review.source]],
              [24, 60, 26, 60]),
        Spacer(1, 4 * mm),
    ]
    png, from_wms = map_image(review)
    story += [p("图 1　红线（红色轮廓）、冲突范围（红色：禁止，橙色：提示）与不符合控规的地块（紫色轮廓）", h2),
              RLImage(io.BytesIO(png), width=170 * mm, height=170 * mm * MAP_SIZE[1] / MAP_SIZE[0])]
    if not from_wms:
        story.append(p("（地图服务暂不可用，仅绘制红线与冲突范围。）", small))
    story += [p("一、审查结论（面积按 CGCS2000 3 度带高斯-克吕格 EPSG:4544 计算）", h2),
              table([["规则", "图层", "责任部门", "级别", "结论", "冲突面积（平方米）", "占红线"]] + [
                  [r["title"], r["layer"], r["owner"], SEVERITY_ZH.get(r["severity"], r["severity"]),
                   STATUS_ZH.get(r["status"], r["status"]) + (f"：{r['reason']}" if r.get("reason") else ""),
                   _fmt_area(r["conflict_area_m2"]), f"{r['conflict_pct']:.2f}%"] for r in results.get("rules", [])],
                  [30, 30, 30, 12, 26, 26, 16])]
    story.append(p("二、冲突要素", h2))
    rows = [["规则", "编号", "类别", "名称", "权利人", "面积（平方米）"]]
    for r in results.get("rules", []):
        if r["status"] != "fail":
            continue
        for f in r.get("features", [])[:30]:
            if r["kind"] == "zoning" and f.get("ok"):
                continue
            rows.append([r["title"], f.get("code") or "—", f.get("class") or "—", f.get("name") or "—",
                         f.get("holder") or "—", _fmt_area(f.get("area_m2"))])
    story.append(table(rows, [30, 30, 20, 40, 30, 20]) if len(rows) > 1 else p("无。"))
    zoning = next((r for r in results.get("rules", []) if r["kind"] == "zoning" and r.get("features")), None)
    if zoning:
        story.append(p("三、控规符合性", h2))
        story.append(table([["地块", "用地性质", "容积率上限", "限高（米）", "性质", "容积率", "高度", "面积（平方米）"]] + [
            [f.get("code"), f.get("class"), f.get("far_max") if f.get("far_max") is not None else "—",
             f.get("height_max") if f.get("height_max") is not None else "—",
             "符合" if f["use_ok"] else "不符", "符合" if f["far_ok"] else "超出", "符合" if f["height_ok"] else "超出",
             _fmt_area(f.get("area_m2"))] for f in zoning["features"][:40]], [24, 20, 20, 18, 14, 16, 14, 24]))
    story.append(p("四、土地利用现状构成（GB/T 21010）", h2))
    comp = results.get("landuse", [])
    story.append(table([["地类编码", "地类名称", "面积（平方米）", "占红线"]] +
                       [[c["code"], c["name"], _fmt_area(c["area_m2"]), f"{c['pct']:.2f}%"] for c in comp],
                       [30, 60, 40, 30]) if comp else p("无数据。"))
    story.append(p("五、数据版本", h2))
    story.append(table([["图层", "要素数", "数据最后更新", "登记最后更新"]] + [
        [name, v.get("rows"), (v.get("latest_update") or "—")[:19], (v.get("layer_last_update") or "—")[:19]]
        for name, v in sorted(review.data_versions.items())], [50, 25, 50, 50]))
    story.append(Spacer(1, 4 * mm))
    story.append(p(f"本报告由 CityGIS 依据规则集 {review.ruleset_version} 自动生成；面积单位平方米，小于容差的碎片不计为冲突。", small))

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"规划合规性审查报告 {review.number}", author="CityGIS")
    doc.build(story)
    return out.getvalue()
