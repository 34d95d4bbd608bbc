"""CSV and XLSX export of evaluation results (one row per unit, machine-readable column keys)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Font

from .engine import UnitResult, get_level
from .periods import Period

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def columns(level_name: str) -> list[tuple[str, str]]:
    """(key, zh label) of every export column of a level, in order."""
    level = get_level(level_name)
    cols = [("level", "层级"), ("period", "时段"), ("start", "开始日期"), ("end", "结束日期"),
            ("unit", "单元"), ("name", "名称")]
    for name, (_fs, ind) in level.indicators.items():
        if ind.kind == "count":
            cols.append((name, str(ind.label)))
        else:
            cols += [(f"{name}_numerator", f"{ind.label}分子"), (f"{name}_denominator", f"{ind.label}分母"),
                     (name, str(ind.label))]
    if level.unit_kind == "area":
        cols.append(("case_density", "案件密度(件/平方公里)"))
    if level.volume:
        cols.append(("volume_score", "数量得分"))
    cols += [("score", "综合得分"), ("grade", "等级")]
    return cols


def rows(level_name: str, period: Period, results: Iterable[UnitResult]) -> list[dict]:
    """Flat dicts keyed like `columns(level_name)`."""
    out = []
    last_day = period.end - dt.timedelta(days=1)
    for r in results:
        row = {"level": level_name, "period": period.label, "start": period.start.isoformat(),
               "end": last_day.isoformat(), "unit": r.unit, "name": r.name}
        for name, (num, den) in r.counts.items():
            if name in r.rates:
                row[f"{name}_numerator"], row[f"{name}_denominator"] = num, den
                row[name] = None if r.rates[name] is None else round(r.rates[name], 4)
            else:
                row[name] = den
        row.update(case_density=r.case_density, volume_score=r.volume_score, score=r.score, grade=r.grade)
        out.append(row)
    return out


def to_csv(level_name: str, period: Period, results: Iterable[UnitResult]) -> bytes:
    """UTF-8 CSV with a BOM (so spreadsheet programs read the Chinese names correctly)."""
    keys = [k for k, _ in columns(level_name)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows(level_name, period, results):
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in keys})
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(level_name: str, period: Period, results: Iterable[UnitResult]) -> bytes:
    """Workbook: sheet 评价结果 (header row of keys, one row per unit) and sheet 说明 (key → label)."""
    cols = columns(level_name)
    wb = Workbook()
    ws = wb.active
    ws.title = "评价结果"
    ws.append([k for k, _ in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows(level_name, period, results):
        ws.append([row.get(k) for k, _ in cols])
    ws.freeze_panes = "A2"
    legend = wb.create_sheet("说明")
    legend.append(["key", "label"])
    for key, label in cols:
        legend.append([key, label])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export(level_name: str, period: Period, results: Iterable[UnitResult], fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    return (to_csv if fmt == "csv" else to_xlsx)(level_name, period, list(results))
