"""Importing a vector file into a registered layer: typed (thematic model table) or generic (GenericFeature).

All-or-nothing: the file is read once; what holds for the whole file (geometry family, column mapping,
attribute names) is decided before anything is written. Rows are then reprojected to EPSG:4490, repaired,
validated and serialised chunk by chunk while PostgreSQL ingests the previous chunk (bulk COPY: hex EWKB
geometries, CSV-quoted values — data never becomes SQL), all in one transaction. Rows that cannot be
imported are reported (row number counts data rows from 1); unless `skip_rejected`, any rejected row
aborts the import after every chunk was validated, and the rollback leaves the database unchanged.
Every import becomes a layer version (layers.versions): in the same transaction, after the rows are written,
the feature history records what was added, changed and removed (a replace first gives re-imported features
their old ids back, matched by key or by content, so unchanged features stay unchanged). Finally
`refresh_stats(layer, bbox=changed)` so the tileserver drops the affected tiles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
from psycopg2 import sql
from tqdm import tqdm

from city_gis.accounts.models import Department

from . import source_filter
from .access import can_write, may_create_layer
from .datasets import Dataset, dataset_for, dataset_for_layer
from .models import GenericFeature, Layer, Theme
from .registry import refresh_stats, register_layer
from .sources import LayerImportError, Read, locate_dataset, read_chunks, to_storage
from .validation import (
    any_value_problem,
    attribute_value_problem,
    validate_abstract,
    validate_attribute_name,
    validate_title,
)
from .versions import (
    VersionError,
    ensure_baseline,
    lock_layer,
    match_replaced,
    max_feature_id,
    record_version,
)

__all__ = ["ImportReport", "LayerImportError", "LayerCreate", "import_file"]

# shapely type ids → registry geometry family
FAMILY = {0: "POINT", 4: "POINT", 1: "LINESTRING", 2: "LINESTRING", 5: "LINESTRING", 3: "POLYGON", 6: "POLYGON"}
PARTS = {"POINT": (0, 4), "LINESTRING": (1, 5), "POLYGON": (3, 6)}
MAX_REPORTED = 200
CHUNK = 10_000  # rows per COPY statement and per prepared chunk (generic layers)
COPY_READ = 1 << 20


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
    version: int | None = None  # the layer version the import made (layers.versions)
    rows_added: int = 0  # …and its counts, after a replace matched re-imported features to the old ones
    rows_changed: int = 0
    rows_removed: int = 0

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
def _geometry_family(geoms: np.ndarray, family: str | None, bad: dict[int, str]) -> str:
    """The geometry family of the import, decided from the whole file before anything is written: the
    layer's own (`family`, which the file must contain), or the file's single one for a new layer."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if bad:
        present[list(bad)] = False
    families = {FAMILY.get(int(t)) for t in np.unique(shapely.get_type_id(geoms[present]))}
    if family is None:
        found = families - {None}
        if len(found) != 1:
            raise LayerImportError(_('无法确定几何类型（文件中有：%(value)s）') % {'value': ", ".join(sorted(str(f) for f in found)) or "-"})
        return found.pop()
    if present.any() and family not in families:
        raise LayerImportError(
            _('几何类型不符：图层要求 %(family)s，文件中是 %(value)s') % {'family': family, 'value': ', '.join(sorted(str(f) for f in families - {None}))},
            field="file",
        )
    return family


def _prepare_geometries(geoms: np.ndarray, family: str, multi: bool | None, report: ImportReport,
                        bad: dict[int, str], offset: int = 0) -> np.ndarray:
    """Repair invalid 2D geometries, check each row's family, promote/demote multi; reject what can't be used.

    `geoms` are the file's rows from `offset` on (one chunk); returns them with None for rejected rows.
    """
    geoms = np.array(geoms, dtype=object)
    for row, reason in bad.items():
        if offset <= row < offset + len(geoms):
            report.reject(row, reason, reason.split(":", 1)[0])
            geoms[row - offset] = None
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        if int(i) + offset not in bad:
            report.reject(int(i) + offset, _('空几何'))
    geoms[missing] = None
    present = ~missing
    # a failed reprojection (outside the CRS's domain) leaves inf coordinates behind
    broken = present.copy()
    broken[present] = ~np.isfinite(shapely.bounds(geoms[present])).all(axis=1)
    for i in np.flatnonzero(broken):
        report.reject(int(i) + offset, _('坐标超出源坐标系范围，无法转换到 EPSG:4490'))
    geoms[broken] = None
    present &= ~broken
    types = np.full(len(geoms), -1)
    types[present] = shapely.get_type_id(geoms[present])
    invalid = present.copy()
    invalid[present] = ~shapely.is_valid(geoms[present])
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(geoms[i])
        parts = [g for g in shapely.get_parts(fixed) if shapely.get_type_id(g) in PARTS[family] and not g.is_empty]
        parts = [p for g in parts for p in shapely.get_parts(g)]
        if not parts:
            report.reject(int(i) + offset, _("无效几何无法修复：%(value)s") % {"value": shapely.is_valid_reason(geoms[i])})
            geoms[i] = None
            continue
        geoms[i] = parts[0] if len(parts) == 1 else _collect(family, parts)
        report.rows_repaired += 1
    wrong = present & ~invalid & ~np.isin(types, [t for t, f in FAMILY.items() if f == family])
    for i in np.flatnonzero(wrong):
        report.reject(int(i) + offset, _("几何类型不符：要求 %(family)s，得到 %(value)s") % {"family": family, "value": geoms[i].geom_type})
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
                    report.reject(int(i) + offset, _("图层要求单部件 %(family)s，得到 %(value)s 个部件")
                                  % {"family": family, "value": shapely.get_num_geometries(g)})
                    geoms[i] = None
    return geoms


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
        problem = attribute_value_problem(out)
        if problem:
            raise ValueError(problem)
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
                mode: str, mapping: dict[str, str], unique_seen: dict[str, dict[str, int]],
                offset: int = 0) -> dict[int, list[Any]]:
    """Validate the attribute values of a typed dataset's rows (`frame` = the file's rows from `offset` on,
    `mapping` from _map_columns); return {row → values}. `unique_seen` carries unique values across chunks."""
    fields = dataset.fields()
    rows: dict[int, list[Any]] = {}
    new_unique: dict[str, list[str]] = {name: [] for name in unique_seen}
    records = frame[[mapping[f.name] for f in fields if f.name in mapping]].to_dict("records")
    for n in np.flatnonzero(alive):
        record, i = records[n], int(n) + offset
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
                first = unique_seen[f.name].setdefault(str(value), i)
                if first == i:
                    new_unique[f.name].append(str(value))
                else:
                    report.reject(int(i), _("与第 %(row)s 行重复：%(value)s") % {"row": first + 1, "value": value}, f.name)
                    ok = False
                    break
            values.append(value)
        if ok:
            rows[int(i)] = values
    if mode == "append":  # unique values already in the table would break the COPY: report them per row
        for f_index, f in enumerate(fields):
            if not f.unique or not new_unique[f.name]:
                continue
            existing = set(dataset.model.objects.filter(**{f"{f.name}__in": new_unique[f.name]})
                           .values_list(f.name, flat=True))
            for i in [i for i, v in rows.items() if v[f_index] in existing]:
                report.reject(i, _("已存在：%(value)s") % {"value": rows.pop(i)[f_index]}, f.name)
    return rows


# --- writing --------------------------------------------------------------------------------------------------
def _csv(value: Any) -> str:
    if value is None:
        return ""
    return '"' + str(value).replace('"', '""') + '"'


# progress callback: (rows written so far, rows in the file or None when read in chunks)
Progress = Callable[[int, int | None], None]


def _copy(table: str, columns: list[str], chunks: Iterator[tuple[int, str]], total: int | None, progress: bool,
          on_progress: Progress | None = None) -> None:
    """COPY CSV chunks into `table`, building the next chunk while the server ingests the current one.

    psycopg2 releases the GIL while libpq streams, so one worker thread overlaps Python and PostgreSQL work;
    the connection is only ever used by one thread at a time.
    """
    qn = connection.ops.quote_name
    sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN WITH (FORMAT csv)"
    with connection.cursor() as cur, ThreadPoolExecutor(max_workers=1) as pool, \
            tqdm(total=total, unit=_('行'), desc=_('写入'), disable=not progress) as bar:
        pending = None
        done = 0
        for rows, text in chunks:
            if pending is not None:
                bar.update(pending[0])
                pending[1].result()
                done += pending[0]
                if on_progress is not None:
                    on_progress(done, total)
            # 1 MiB reads: copy_expert takes the GIL back for every read (8 KiB by default), and the
            # main thread is busy preparing the next chunk
            pending = (rows, pool.submit(cur.cursor.copy_expert, sql, io.StringIO(text), COPY_READ))
        if pending is not None:
            pending[1].result()
            bar.update(pending[0])


@contextmanager
def _foreign_keys_checked_per_statement(table: str) -> Iterator[None]:
    """Check `table`'s deferred foreign keys at the end of each COPY rather than at COMMIT.

    Django declares foreign keys DEFERRABLE INITIALLY DEFERRED, which leaves one check per row for COMMIT,
    after the last chunk, when nothing runs alongside; per statement, the checks of chunk k overlap the
    preparation of chunk k+1. The mode is restored afterwards (after an error the transaction is rolled back).
    """
    with connection.cursor() as cur:
        cur.execute("SELECT n.nspname, c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE c.conrelid = %s::regclass AND c.contype = 'f' AND c.condeferrable AND c.condeferred",
                    [connection.ops.quote_name(table)])
        names = sql.SQL(", ").join(sql.Identifier(schema, name) for schema, name in cur.fetchall())
        if names.seq:
            cur.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(names))
        yield
        if names.seq:
            cur.execute(sql.SQL("SET CONSTRAINTS {} DEFERRED").format(names))


def _attributes_csv(frame: pd.DataFrame) -> list[str]:
    """Each row's attributes as a JSON object, CSV-quoted: one to_json and one quote-doubling for the chunk."""
    attrs = frame.drop(columns=[frame.geometry.name])
    if attrs.columns.empty:
        return ['"{}"'] * len(frame)
    attrs = attrs.rename(columns=str)
    text = pd.DataFrame(attrs).to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    # JSON lines hold no raw newline, so splitting after the replace still gives one object per row
    return [f'"{a}"' for a in text.replace('"', '""').split("\n")[: len(frame)]]


# little-endian EWKB header of a 2D geometry of WKB type t (1…7) with SRID 4490 (0x118A)
_EWKB_4490 = {t: f"01{t:02x}0000208a110000" for t in range(1, 8)}


def _ewkb_hex(geoms: np.ndarray) -> list[str]:
    """Hex EWKB (SRID 4490) of 2D geometries: plain WKB with the SRID spliced into the header, which saves
    the set_srid copy of every geometry; binary WKB + bytes.hex() is ~3× faster than GEOS's hex writer."""
    return [_EWKB_4490[b[1]] + b[5:].hex() for b in shapely.to_wkb(geoms, byte_order=1, output_dimension=2)]


def _delete_existing(layer: Layer, dataset: Dataset | None) -> int:
    with connection.cursor() as cur:
        if dataset is None:
            cur.execute("DELETE FROM layers_genericfeature WHERE layer_id = %s", [layer.pk])
        else:
            where, params = source_filter.compose(layer)
            cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(dataset.table), where), params)
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
            source_table=GenericFeature._meta.db_table, source_where=[{"column": "layer_id", "op": "is_null"}], is_generic=True,
        )
    except ValidationError as exc:
        raise LayerImportError(_('图层元数据无效：%(value)s') % {'value': '; '.join(exc.messages)}, field="name") from exc
    layer.source_where = [{"column": "layer_id", "op": "=", "value": layer.pk}]
    layer.save(update_fields=["source_where"])
    return layer


def _clean_create(spec: LayerCreate) -> LayerCreate:
    """The new layer's title and abstract checked (layers.validation) before the file is even read."""
    from django.core.exceptions import ValidationError

    try:
        return dataclasses.replace(spec, title_zh=validate_title(spec.title_zh, "title_zh"),
                                   title_en=validate_title(spec.title_en, "title_en"),
                                   abstract=validate_abstract(spec.abstract))
    except ValidationError as exc:
        field_name, messages = next(iter(exc.message_dict.items()))
        raise LayerImportError(f"{field_name}: {'; '.join(messages)}", field=field_name) from exc


def _check_generic_attributes(frame: pd.DataFrame) -> dict[int, tuple[str, str]]:
    """Attribute names must be clean text (else the file is refused); text values too: {row → (column, reason)}."""
    from django.core.exceptions import ValidationError

    problems: dict[int, tuple[str, str]] = {}
    for col in frame.columns:
        if col == frame.geometry.name:
            continue
        try:
            validate_attribute_name(str(col))
        except ValidationError as exc:
            raise LayerImportError(_("列名 %(col)s：%(reason)s") % {"col": repr(str(col)[:40]), "reason": "; ".join(exc.messages)}) from exc
        values = frame[col]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        cells = values.to_numpy(dtype=object)
        if not any_value_problem([v for v in cells if isinstance(v, str)]):
            continue
        for i, value in enumerate(cells):
            if isinstance(value, str) and i not in problems:
                problem = attribute_value_problem(value)
                if problem:
                    problems[i] = (str(col), problem)
    return problems


class _Chunks:
    """The file's rows prepared and serialised for COPY chunk by chunk: reading (GeoPackage, Shapefile),
    reprojection, repair, validation and CSV text of chunk k+1 run in Python while PostgreSQL ingests chunk k
    (see _copy).

    Decided before anything is written: the column mapping, the attribute names, and the geometry family —
    from the whole file, or from its first chunk when it is read in chunks (later rows of another family are
    then rejected rows). Typed datasets are read and validated in one pass before their first COPY (their
    duplicate check queries the table, which must not happen while a COPY is in flight).
    """

    def __init__(self, read: Read, dataset: Dataset | None, family: str | None, multi: bool | None, mode: str,
                 report: ImportReport) -> None:
        self.first, self.rest, self.chunked, self.bad = read.frame, read.rest, read.chunked, read.bad
        self.dataset, self.multi, self.mode, self.report = dataset, multi, mode, report
        self.family = _geometry_family(np.asarray(self.first.geometry.array), family, self.bad)
        self.reproject = to_storage(read.source)
        report.rows_read = len(self.first)
        if dataset is None:
            _check_generic_attributes(self.first.iloc[:0])  # the names: a bad one refuses the file now
            self.mapping: dict[str, str] = {}
        else:
            self.mapping = _map_columns(dataset, [c for c in self.first.columns if c != self.first.geometry.name], report)
        self.unique_seen: dict[str, dict[str, int]] = {f.name: {} for f in dataset.fields() if f.unique} if dataset else {}
        self.written = 0
        self.bounds: list[float] | None = None
        self.now = timezone.now().isoformat()

    def pieces(self) -> Iterator[tuple[int, pd.DataFrame]]:
        """(first row number, rows) per chunk: slices of what was read, then the chunks still unread."""
        step = CHUNK if self.dataset is None else max(len(self.first), 1)
        for start in range(0, len(self.first), step):
            yield start, self.first.iloc[start:start + step]
        for chunk in self.rest:
            self.report.rows_read += len(chunk)
            yield int(chunk.index[0]), chunk.reset_index(drop=True)

    def prepare(self, start: int, piece: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[int, list[Any]]]:
        """Rows start… (`piece`): (row numbers kept, their EPSG:4490 geometries, typed values by row)."""
        report = self.report
        geoms = _prepare_geometries(self.reproject(np.asarray(piece.geometry.array)), self.family, self.multi,
                                    report, self.bad, start)
        if self.dataset is None:
            for i, (col, problem) in sorted(_check_generic_attributes(piece).items()):
                if geoms[i] is not None:
                    report.reject(start + i, problem, col)
                    geoms[i] = None
        alive = ~shapely.is_missing(geoms)
        rows: dict[int, list[Any]] = {}
        if self.dataset is not None:
            rows = _typed_rows(self.dataset, piece, alive, report, self.mode, self.mapping, self.unique_seen, start)
            keep = np.array(sorted(rows), dtype=int)
        else:
            keep = start + np.flatnonzero(alive)
        kept = geoms[keep - start]
        if len(kept):
            box = shapely.total_bounds(kept)
            self.bounds = list(box) if self.bounds is None else [
                min(self.bounds[0], box[0]), min(self.bounds[1], box[1]),
                max(self.bounds[2], box[2]), max(self.bounds[3], box[3])]
        return keep, kept, rows

    def texts(self, layer_pk: int, *, stop_on_reject: bool) -> Iterator[tuple[int, str]]:
        """(row count, COPY CSV text) per chunk; after a rejected row with `stop_on_reject`, the remaining
        chunks are still validated (the report lists every rejected row) but no more text is produced."""
        for start, piece in self.pieces():
            keep, kept, rows = self.prepare(start, piece)
            if stop_on_reject and self.report.rows_rejected:
                continue
            self.written += len(keep)
            for sub in range(0, len(keep), CHUNK):
                part = slice(sub, sub + CHUNK)
                yield len(keep[part]), self._text(layer_pk, piece, keep[part] - start, kept[part], rows, start)

    def _text(self, layer_pk: int, piece: pd.DataFrame, local: np.ndarray, kept: np.ndarray,
              rows: dict[int, list[Any]], start: int) -> str:
        hexes = _ewkb_hex(kept)
        if self.dataset is not None:
            stamp = _csv(self.now)
            return "".join(f"{g},{','.join(_csv(v) for v in rows[int(n) + start])},{stamp}\n"
                           for n, g in zip(local, hexes, strict=True))
        head, tail = f"{layer_pk},", f",{self.now},{self.now}\n"
        attrs = _attributes_csv(piece.iloc[local])
        return "".join(f"{head}{g},{a}{tail}" for g, a in zip(hexes, attrs, strict=True))


def import_file(path: str | Path, layer_name: str, *, user=None, create: LayerCreate | None = None,
                srs: str | None = None, mode: str = "append", skip_rejected: bool = False,
                progress: bool = False, comment: str = "", key: str | None = None,
                on_progress: Progress | None = None) -> ImportReport:
    """Import `path` into layer `layer_name` (creating a generic layer with `create`); return the report.

    `user` (None = trusted CLI operator) must pass layers.access.can_write. Raises LayerImportError
    (with `.report` when rows were rejected) or PermissionError; the database is then unchanged.
    `comment` describes the new layer version; `key` (replace) is the attribute that identifies a feature across
    the old and the new data (typed layers: their first unique column by default; else equal content);
    `on_progress(rows written, rows in file or None)` is called after each chunk.
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
    elif user is not None and not may_create_layer(user, create.department, create.theme or layer_name.split(".", 1)[0]):
        raise PermissionError(_("无权为部门 %(department)s 创建图层") % {"department": create.department})
    if create is not None:
        create = _clean_create(create)
    dataset = dataset_for_layer(layer) if layer else None
    if layer is not None and dataset is None and not layer.is_generic:
        raise LayerImportError(_("%(layer_name)s 的数据表 %(source_table)s 不支持导入") % {"layer_name": layer_name, "source_table": layer.source_table}, field="layer")
    with tempfile.TemporaryDirectory(prefix="citygis-import-") as tmp:  # read from until the last chunk
        dataset_path, kind = locate_dataset(Path(path), Path(tmp))
        read = read_chunks(dataset_path, srs, kind, name=Path(path).name, size=CHUNK if dataset is None else None)
        return _write(read, layer_name, layer, dataset, create, mode, skip_rejected, progress,
                      user=user, comment=comment, key=key, on_progress=on_progress)


def _write(read: Read, layer_name: str, layer: Layer | None, dataset: Dataset | None, create: LayerCreate | None,
           mode: str, skip_rejected: bool, progress: bool, *, user=None, comment: str = "", key: str | None = None,
           on_progress: Progress | None = None) -> ImportReport:
    """Prepare and COPY the rows `read` in one transaction; see the module docstring."""
    report = ImportReport(layer=layer_name, mode=mode, source_crs=read.source.to_string())
    if layer is not None:
        family, multi = (dataset.geometry_type, dataset.multi) if dataset else (layer.geometry_type, None)
    else:
        family, multi = None, None
    chunks = _Chunks(read, dataset, family, multi, mode, report)
    with transaction.atomic():  # all-or-nothing: a rejected row in any chunk rolls back every chunk written
        if layer is None:
            layer = _create_layer(layer_name, create, chunks.family)
            report.created = True
        else:
            lock_layer(layer)  # one versioned writer per layer at a time
            ensure_baseline(layer, user)  # rows written before versioning become version 1
        above = max_feature_id(layer) if mode == "append" and not report.created else None
        old_bbox = layer.bbox
        if mode == "replace":
            report.rows_deleted = _delete_existing(layer, dataset)
        texts = chunks.texts(int(layer.pk), stop_on_reject=not skip_rejected)
        total = None if chunks.chunked else report.rows_read
        if dataset is not None:
            columns = [dataset.model._meta.get_field("geom").column, *[f.column for f in dataset.fields()], "updated_at"]
            table = dataset.table
        else:
            columns, table = ["layer_id", "geom", "attributes", "created_at", "updated_at"], GenericFeature._meta.db_table
        with _foreign_keys_checked_per_statement(table):
            _copy(table, columns, texts, total, progress, on_progress)
        if report.rows_rejected and not skip_rejected:
            report.rejected.sort(key=lambda r: r["row"])
            raise LayerImportError(
                _("%(count)s 行被拒绝，未写入任何数据（可用 --skip-rejected 只导入有效行）；首个：第 %(row)s 行 %(field)s：%(reason)s")
                % {"count": report.rows_rejected, **report.rejected[0]},
                report=report.to_dict(),
            )
        report.rows_written = chunks.written
        try:
            if mode == "replace":
                match_replaced(layer, key)
            version = record_version(layer, user, mode, comment, above=above)
        except VersionError as exc:
            raise LayerImportError(str(exc), field=exc.field) from exc
        report.version, report.rows_added = version.number, version.rows_added
        report.rows_changed, report.rows_removed = version.rows_changed, version.rows_removed
        bounds = chunks.bounds
        if bounds and old_bbox and mode == "replace":
            bounds = [min(bounds[0], old_bbox[0]), min(bounds[1], old_bbox[1]),
                      max(bounds[2], old_bbox[2]), max(bounds[3], old_bbox[3])]
        elif not bounds and mode == "replace" and old_bbox:
            bounds = list(old_bbox)
        report.bbox = [float(b) for b in bounds] if bounds else None
        refresh_stats(layer, bbox=tuple(report.bbox) if report.bbox else None)
    return report
