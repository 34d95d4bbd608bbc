"""Importing a vector file into a registered layer: typed (thematic model table) or generic (GenericFeature).

All-or-nothing: the file is read, reprojected to EPSG:4490 and validated row by row before anything is
written; rows that cannot be imported are reported (row number counts data rows from 1). Unless
`skip_rejected`, any rejected row aborts the import and the database is unchanged. The write is a bulk
COPY (hex EWKB geometries, CSV-quoted values — data never becomes SQL) inside one transaction, followed by
`refresh_stats(layer, bbox=changed)` so the tileserver drops the affected tiles.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from django.db import connection, transaction
from django.db import models as dj
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from city_gis.accounts.models import Department

from .access import can_write
from .datasets import Dataset, dataset_for, dataset_for_layer
from .models import GenericFeature, Layer, Theme
from .registry import refresh_stats, register_layer
from .sources import LayerImportError, locate_dataset, read_frame

__all__ = ["ImportReport", "LayerImportError", "LayerCreate", "import_file"]

# shapely type ids → registry geometry family
FAMILY = {0: "POINT", 4: "POINT", 1: "LINESTRING", 2: "LINESTRING", 5: "LINESTRING", 3: "POLYGON", 6: "POLYGON"}
PARTS = {"POINT": (0, 4), "LINESTRING": (1, 5), "POLYGON": (3, 6)}
MAX_REPORTED = 200
CHUNK = 10_000


@dataclass
class ImportReport:
    """What an import did: counts, rejected rows with reasons, the changed extent."""

    layer: str
    mode: str
    source_crs: str = ""
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rows_repaired: int = 0
    rows_deleted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    created: bool = False
    bbox: list[float] | None = None

    def reject(self, row: int, reason: str, field_name: str = "geometry") -> None:
        self.rows_rejected += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append({"row": row + 1, "field": field_name, "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LayerCreate:
    """Metadata for creating a new generic layer on import (`--create`)."""

    department: str
    title_zh: str = ""
    title_en: str = ""
    theme: str | None = None
    classification: str = "internal"
    abstract: str = ""


# --- geometry ------------------------------------------------------------------------------------------------
def _prepare_geometries(geoms: np.ndarray, family: str | None, multi: bool | None, report: ImportReport,
                        bad: dict[int, str]) -> tuple[np.ndarray, str]:
    """Force 2D, repair invalid geometries, check the family, promote/demote multi; reject what can't be used.

    Returns (geometries with None for rejected rows, family).
    """
    geoms = np.array(geoms, dtype=object)
    for i, reason in bad.items():
        report.reject(i, reason, reason.split(":", 1)[0])
        geoms[i] = None
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        if int(i) not in bad:
            report.reject(int(i), _('空几何'))
    geoms[missing] = None
    present = ~missing
    geoms[present] = shapely.force_2d(geoms[present])
    # a failed reprojection (outside the CRS's domain) leaves inf coordinates behind
    broken = present.copy()
    broken[present] = ~np.isfinite(shapely.bounds(geoms[present])).all(axis=1)
    for i in np.flatnonzero(broken):
        report.reject(int(i), _('坐标超出源坐标系范围，无法转换到 EPSG:4490'))
    geoms[broken] = None
    present &= ~broken
    types = np.full(len(geoms), -1)
    types[present] = shapely.get_type_id(geoms[present])
    families = {FAMILY.get(int(t)) for t in types[present]}
    if family is None:
        found = families - {None}
        if len(found) != 1:
            raise LayerImportError(_('无法确定几何类型（文件中有：%(value)s）') % {'value': ", ".join(sorted(str(f) for f in found)) or "-"})
        family = found.pop()
    elif present.any() and family not in families:
        raise LayerImportError(
            _('几何类型不符：图层要求 %(family)s，文件中是 %(value)s') % {'family': family, 'value': ', '.join(sorted(str(f) for f in families - {None}))},
            field="file",
        )
    invalid = present.copy()
    invalid[present] = ~shapely.is_valid(geoms[present])
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(geoms[i])
        parts = [g for g in shapely.get_parts(fixed) if shapely.get_type_id(g) in PARTS[family] and not g.is_empty]
        parts = [p for g in parts for p in shapely.get_parts(g)]
        if not parts:
            report.reject(int(i), _("无效几何无法修复：%(value)s") % {"value": shapely.is_valid_reason(geoms[i])})
            geoms[i] = None
            continue
        geoms[i] = parts[0] if len(parts) == 1 else _collect(family, parts)
        report.rows_repaired += 1
    for i in np.flatnonzero(present & ~invalid):
        if FAMILY.get(int(types[i])) != family:
            report.reject(int(i), _("几何类型不符：要求 %(family)s，得到 %(value)s") % {"family": family, "value": geoms[i].geom_type})
            geoms[i] = None
    if multi is not None:
        alive = ~shapely.is_missing(geoms)
        kinds = np.full(len(geoms), -1)
        kinds[alive] = shapely.get_type_id(geoms[alive])
        is_multi = np.isin(kinds, (4, 5, 6))
        if multi:
            single = np.flatnonzero(alive & ~is_multi)
            if len(single):  # one multi-part per row, built in one call
                build = {"POINT": shapely.multipoints, "LINESTRING": shapely.multilinestrings}.get(
                    family, shapely.multipolygons)
                geoms[single] = build(geoms[single], indices=np.arange(len(single)))
        else:
            for i in np.flatnonzero(alive & is_multi):
                g = geoms[i]
                if shapely.get_num_geometries(g) == 1:
                    geoms[i] = shapely.get_geometry(g, 0)
                else:
                    report.reject(int(i), _("图层要求单部件 %(family)s，得到 %(value)s 个部件")
                                  % {"family": family, "value": shapely.get_num_geometries(g)})
                    geoms[i] = None
    return geoms, family


def _collect(family: str, parts: list) -> Any:
    flat = [p for g in parts for p in shapely.get_parts(g)]
    if family == "POINT":
        return shapely.multipoints(flat)
    if family == "LINESTRING":
        return shapely.multilinestrings(flat)
    return shapely.multipolygons(flat)


# --- attribute values ------------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _convert(f: dj.Field, value: Any) -> Any:
    """File value → the text COPY needs for model field `f`; raise ValueError with a reason."""
    if isinstance(f, dj.BooleanField):
        if isinstance(value, (bool, np.bool_)):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text in ("1", "true", "t", "yes", "y", "是"):
            return "true"
        if text in ("0", "false", "f", "no", "n", "否"):
            return "false"
        raise ValueError(_("不是布尔值：%(value)s") % {"value": repr(value)})
    if isinstance(f, (dj.IntegerField,)):
        number = float(value)
        if not number.is_integer():
            raise ValueError(_("不是整数：%(value)s") % {"value": repr(value)})
        if isinstance(f, (dj.PositiveIntegerField, dj.PositiveSmallIntegerField)) and number < 0:
            raise ValueError(_("不能为负数：%(value)s") % {"value": repr(value)})
        out = str(int(number))
    elif isinstance(f, dj.FloatField):
        number = float(value)
        if not np.isfinite(number):
            raise ValueError(_("不是有限数：%(value)s") % {"value": repr(value)})
        out = repr(number)
    elif isinstance(f, dj.DateField):
        if isinstance(value, (dt.date, pd.Timestamp)):
            out = pd.Timestamp(value).date().isoformat()
        else:
            out = dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    else:
        out = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            out = str(int(value))  # codes read as numbers (e.g. 701.0) keep their digits
        if f.max_length and len(out) > f.max_length:
            raise ValueError(_("超过最大长度 %(max_length)s：%(value)s") % {"max_length": f.max_length, "value": repr(out[:40])})
    if f.choices and out not in {str(c) for c, _label in f.flatchoices}:
        raise ValueError(_('取值 %(out)s 不在 %(value)s 中') % {'out': repr(out), 'value': ', '.join((str(c) for c, _label in f.flatchoices))})
    return out


def _map_columns(dataset: Dataset, columns: list[str], report: ImportReport) -> dict[str, str]:
    """{model field → file column} by field name, alias or Chinese verbose name; required fields must be there."""
    by_key: dict[str, str] = {}
    for f in dataset.fields():
        by_key.setdefault(f.name[:10].lower(), f.name)  # Shapefile DBF truncates names to 10 characters
    for f in dataset.fields():
        by_key[f.name.lower()] = f.name
        by_key[str(f.verbose_name).lower()] = f.name
    by_key.update(dataset.aliases)
    mapping: dict[str, str] = {}
    for col in columns:
        target = by_key.get(str(col).strip().lower())
        if target and target not in mapping:
            mapping[target] = col
        else:
            report.ignored_columns.append(str(col))
    missing = [name for name in dataset.required() if name not in mapping]
    if missing:
        raise LayerImportError(_('缺少必填字段：%(value)s') % {'value': ', '.join(missing)}, field="file")
    return mapping


def _typed_rows(dataset: Dataset, frame: pd.DataFrame, alive: np.ndarray, report: ImportReport,
                layer: Layer, mode: str) -> tuple[list[str], dict[int, list[Any]]]:
    """Validate the attribute columns of a typed dataset; return (columns, {row → values})."""
    mapping = _map_columns(dataset, [c for c in frame.columns if c != frame.geometry.name], report)
    fields = dataset.fields()
    rows: dict[int, list[Any]] = {}
    unique_seen: dict[str, dict[str, int]] = {f.name: {} for f in fields if f.unique}
    records = frame[[mapping[f.name] for f in fields if f.name in mapping]].to_dict("records")
    for i in np.flatnonzero(alive):
        record = records[i]
        values: list[Any] = []
        ok = True
        for f in fields:
            raw = record.get(mapping[f.name]) if f.name in mapping else None
            if _is_missing(raw):
                if f.has_default():
                    value = f.get_default()
                    value = ("true" if value else "false") if isinstance(f, dj.BooleanField) else value
                elif f.null:
                    value = None
                elif f.blank:
                    value = ""
                else:
                    report.reject(int(i), _('必填字段为空'), f.name)
                    ok = False
                    break
            else:
                try:
                    value = _convert(f, raw)
                except (ValueError, TypeError, OverflowError) as exc:
                    report.reject(int(i), str(exc), f.name)
                    ok = False
                    break
            if f.unique and value not in (None, ""):
                first = unique_seen[f.name].setdefault(str(value), int(i))
                if first != int(i):
                    report.reject(int(i), _("与第 %(row)s 行重复：%(value)s") % {"row": first + 1, "value": value}, f.name)
                    ok = False
                    break
            values.append(value)
        if ok:
            rows[int(i)] = values
    if mode == "append":  # unique values already in the table would break the COPY: report them per row
        for f_index, f in enumerate(fields):
            if not f.unique or not unique_seen[f.name]:
                continue
            existing = set(dataset.model.objects.filter(**{f"{f.name}__in": list(unique_seen[f.name])})
                           .values_list(f.name, flat=True))
            for i in [i for i, v in rows.items() if v[f_index] in existing]:
                report.reject(i, _("已存在：%(value)s") % {"value": rows.pop(i)[f_index]}, f.name)
    return [f.column for f in fields], rows


# --- writing --------------------------------------------------------------------------------------------------
def _csv(value: Any) -> str:
    if value is None:
        return ""
    return '"' + str(value).replace('"', '""') + '"'


def _copy(table: str, columns: list[str], chunks: Iterator[tuple[int, str]], total: int, progress: bool) -> None:
    """COPY CSV chunks into `table`, building the next chunk while the server ingests the current one.

    psycopg2 releases the GIL while libpq streams, so one worker thread overlaps Python and PostgreSQL work;
    the connection is only ever used by one thread at a time.
    """
    qn = connection.ops.quote_name
    sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN WITH (FORMAT csv)"
    with connection.cursor() as cur, ThreadPoolExecutor(max_workers=1) as pool, \
            tqdm(total=total, unit=_('行'), desc=_('写入'), disable=not progress) as bar:
        pending = None
        for rows, text in chunks:
            if pending is not None:
                bar.update(pending[0])
                pending[1].result()
            pending = (rows, pool.submit(cur.cursor.copy_expert, sql, io.StringIO(text)))
        if pending is not None:
            pending[1].result()
            bar.update(pending[0])


def _attributes_json(frame: pd.DataFrame) -> list[str]:
    attrs = frame.drop(columns=[frame.geometry.name])
    if attrs.columns.empty:
        return ["{}"] * len(frame)
    attrs = attrs.rename(columns=str)
    text = pd.DataFrame(attrs).to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    return text.split("\n")[: len(frame)]


def _delete_existing(layer: Layer, dataset: Dataset | None) -> int:
    with connection.cursor() as cur:
        if dataset is None:
            cur.execute("DELETE FROM layers_genericfeature WHERE layer_id = %s", [layer.pk])
        else:
            where = f" WHERE ({layer.source_filter})" if layer.source_filter else ""
            cur.execute(f"DELETE FROM {connection.ops.quote_name(dataset.table)}{where}")
        return cur.rowcount


def _create_layer(name: str, spec: LayerCreate, family: str) -> Layer:
    if Layer.objects.filter(name=name).exists():
        raise LayerImportError(_("图层已存在：%(name)s") % {"name": name}, field="name")
    if dataset_for(name):
        raise LayerImportError(_("%(name)s 是专题数据图层，不能作为通用图层创建") % {"name": name}, field="name")
    theme = spec.theme or name.split(".", 1)[0]
    if theme not in Theme.values or not name.startswith(theme + "."):
        raise LayerImportError(_("图层名 %(name)s 与主题 %(theme)s 不符") % {"name": name, "theme": theme}, field="theme")
    try:
        dept = Department.objects.get(code=spec.department)
    except Department.DoesNotExist as exc:
        raise LayerImportError(_("未知部门：%(department)s") % {"department": spec.department}, field="department") from exc
    from django.core.exceptions import ValidationError

    try:
        layer = register_layer(
            name, owner=dept, theme=theme, title_zh=spec.title_zh or name, title_en=spec.title_en,
            abstract=spec.abstract, classification=spec.classification, geometry_type=family,
            source_table=GenericFeature._meta.db_table, source_filter="layer_id IS NULL", is_generic=True,
        )
    except ValidationError as exc:
        raise LayerImportError(_('图层元数据无效：%(value)s') % {'value': '; '.join(exc.messages)}, field="name") from exc
    layer.source_filter = f"layer_id = {int(layer.pk)}"
    layer.save(update_fields=["source_filter"])
    return layer


def import_file(path: str | Path, layer_name: str, *, user=None, create: LayerCreate | None = None,
                srs: str | None = None, mode: str = "append", skip_rejected: bool = False,
                progress: bool = False) -> ImportReport:
    """Import `path` into layer `layer_name` (creating a generic layer with `create`); return the report.

    `user` (None = trusted CLI operator) must pass layers.access.can_write. Raises LayerImportError
    (with `.report` when rows were rejected) or PermissionError; the database is then unchanged.
    """
    if mode not in ("append", "replace"):
        raise LayerImportError(_("mode 取 append 或 replace，得到 %(mode)s") % {"mode": repr(mode)}, field="mode")
    layer = Layer.objects.filter(name=layer_name).first()
    if layer is None and create is None:
        raise LayerImportError(_("未知图层：%(layer_name)s（新建通用图层请用 --create）") % {"layer_name": layer_name}, field="layer")
    if layer is not None and create is not None:
        raise LayerImportError(_("图层已存在：%(layer_name)s") % {"layer_name": layer_name}, field="name")
    if layer is not None:
        if layer.kind != "vector":
            raise LayerImportError(_("%(layer_name)s 不是矢量图层") % {"layer_name": layer_name}, field="layer")
        if user is not None and not can_write(user, layer):
            raise PermissionError(_("无权写入图层 %(layer_name)s") % {"layer_name": layer_name})
    elif user is not None and not _may_create(user, create.department):
        raise PermissionError(_("无权为部门 %(department)s 创建图层") % {"department": create.department})
    dataset = dataset_for_layer(layer) if layer else None
    if layer is not None and dataset is None and not layer.is_generic:
        raise LayerImportError(_("%(layer_name)s 的数据表 %(source_table)s 不支持导入") % {"layer_name": layer_name, "source_table": layer.source_table}, field="layer")
    report = ImportReport(layer=layer_name, mode=mode)
    with tempfile.TemporaryDirectory(prefix="citygis-import-") as tmp:
        dataset_path = locate_dataset(Path(path), Path(tmp))
        frame, source_crs, bad = read_frame(dataset_path, srs)
    report.source_crs = source_crs.to_string()
    report.rows_read = len(frame)
    if layer is not None:
        family, multi = (dataset.geometry_type, dataset.multi) if dataset else (layer.geometry_type, None)
    else:
        family, multi = None, None
    geoms, family = _prepare_geometries(frame.geometry.values, family, multi, report, bad)
    alive = ~shapely.is_missing(geoms)
    if dataset is not None:
        columns, rows = _typed_rows(dataset, frame, alive, report, layer, mode)
        keep = np.array(sorted(rows), dtype=int)
    else:
        keep = np.flatnonzero(alive)
    if report.rows_rejected and not skip_rejected:
        raise LayerImportError(
            _("%(count)s 行被拒绝，未写入任何数据（可用 --skip-rejected 只导入有效行）；首个：第 %(row)s 行 %(field)s：%(reason)s")
            % {"count": report.rows_rejected, **report.rejected[0]},
            report=report.to_dict(),
        )
    kept = shapely.set_srid(geoms[keep], 4490) if len(keep) else np.array([], dtype=object)
    now = timezone.now().isoformat()

    def ewkb(part: np.ndarray) -> list[str]:
        # binary WKB + bytes.hex() is ~3× faster than GEOS's own hex writer
        return [b.hex() for b in shapely.to_wkb(kept[part], include_srid=True)]

    def typed_chunks() -> Iterator[tuple[int, str]]:
        stamp = _csv(now)
        for start in range(0, len(keep), CHUNK):
            part = np.arange(start, min(start + CHUNK, len(keep)))
            text = "".join(
                f"{g},{','.join(_csv(v) for v in rows[int(keep[n])])},{stamp}\n" for n, g in zip(part, ewkb(part), strict=True)
            )
            yield len(part), text

    def generic_chunks(pk: int) -> Iterator[tuple[int, str]]:
        for start in range(0, len(keep), CHUNK):
            part = np.arange(start, min(start + CHUNK, len(keep)))
            attrs = _attributes_json(frame.iloc[keep[part]])
            text = "".join(f"{pk},{g},{_csv(a)},{now},{now}\n" for g, a in zip(ewkb(part), attrs, strict=True))
            yield len(part), text

    with transaction.atomic():
        if layer is None:
            layer = _create_layer(layer_name, create, family)
            report.created = True
        old_bbox = layer.bbox
        if mode == "replace":
            report.rows_deleted = _delete_existing(layer, dataset)
        if dataset is not None:
            geom_column = dataset.model._meta.get_field("geom").column
            _copy(dataset.table, [geom_column, *columns, "updated_at"], typed_chunks(), len(keep), progress)
        else:
            _copy(GenericFeature._meta.db_table, ["layer_id", "geom", "attributes", "created_at", "updated_at"],
                  generic_chunks(int(layer.pk)), len(keep), progress)
        report.rows_written = len(keep)
        bounds = list(shapely.total_bounds(kept)) if len(keep) else None
        if bounds and old_bbox and mode == "replace":
            bounds = [min(bounds[0], old_bbox[0]), min(bounds[1], old_bbox[1]),
                      max(bounds[2], old_bbox[2]), max(bounds[3], old_bbox[3])]
        elif not bounds and mode == "replace" and old_bbox:
            bounds = list(old_bbox)
        report.bbox = [float(b) for b in bounds] if bounds else None
        refresh_stats(layer, bbox=tuple(report.bbox) if report.bbox else None)
    return report


def _may_create(user, department: str) -> bool:
    """Admins create layers for any department; data stewards for their own."""
    if not user.is_authenticated:
        return False
    if user.is_superuser or "admin" in user.roles:
        return True
    return "data_steward" in user.roles and user.department is not None and user.department.code == department

