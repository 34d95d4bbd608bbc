"""Bench: our importer vs GDAL's ogr2ogr on the same 100,000-polygon GeoPackage (EPSG:4544 → EPSG:4490).

Both write into the same database (`citygis`, or DATABASE_URL): ours into a temporary generic layer
(GenericFeature), ogr2ogr into a scratch table; both are removed afterwards. Prints the two times and
ours / ogr2ogr (target ≤ 1.5×, issue 15). BENCH_IMPORT_FEATURES overrides the feature count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench._report import record
from bench._support import setup_django

SCRATCH_TABLE = "bench_ogr2ogr_import"
BENCH_LAYER = "land.bench_import"
ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", 2))


def make_gpkg(path: Path, count: int) -> Path:
    """`count` small random quadrilaterals around Liupanshui in EPSG:4544 with a few attributes."""
    import geopandas as gpd
    import numpy as np
    import shapely

    if path.exists():
        return path
    rng = np.random.default_rng(20261125)
    x0, y0 = 483_000.0, 2_942_000.0  # ~104.83E 26.59N in CGCS2000 / 3-degree GK CM 105E
    xs = x0 + rng.uniform(0, 20_000, count)
    ys = y0 + rng.uniform(0, 20_000, count)
    w, h = rng.uniform(10, 60, count), rng.uniform(10, 60, count)
    geoms = shapely.box(xs, ys, xs + w, ys + h)
    frame = gpd.GeoDataFrame(
        {"code": [f"B{i:06d}" for i in range(count)], "kind": rng.choice(["住宅", "商业", "工业", "绿地"], count),
         "value": rng.uniform(0, 1000, count).round(2)},
        geometry=geoms, crs="EPSG:4544",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_file(path, driver="GPKG", layer="parcels")
    return path


def _pg_dsn() -> str:
    from django.db import connection

    s = connection.settings_dict
    parts = [f"dbname={s['NAME']}"]
    for key, opt in (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password")):
        if s.get(key):
            parts.append(f"{opt}={s[key]}")
    return "PG:" + " ".join(parts)


def run_ogr2ogr(gpkg: Path) -> float:
    cmd = ["ogr2ogr", "-f", "PostgreSQL", _pg_dsn(), str(gpkg), "-t_srs", "EPSG:4490", "-nln", SCRATCH_TABLE,
           "-lco", "GEOMETRY_NAME=geom", "-overwrite", "-nlt", "PROMOTE_TO_MULTI"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def run_ours(gpkg: Path, department: str) -> tuple[float, int]:
    """Time `import_file` (what `citygis import_layer` runs) in a warm process: Python/Django start-up is not
    the importer's cost, as ogr2ogr's own start-up is negligible."""
    from layers.importer import LayerCreate, import_file

    start = time.perf_counter()
    report = import_file(gpkg, BENCH_LAYER, create=LayerCreate(department=department, title_zh="导入基准"))
    return time.perf_counter() - start, report.rows_written


def cleanup() -> None:
    from django.db import connection

    from layers.models import GenericFeature, Layer

    deleted, _by_model = Layer.objects.filter(name=BENCH_LAYER).delete()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(SCRATCH_TABLE)}")
        if deleted:  # 100k dead rows per round bloat the table and its GiST index and slow every later round
            cur.execute(f"VACUUM {connection.ops.quote_name(GenericFeature._meta.db_table)}")


def main() -> None:
    setup_django()
    from django.conf import settings

    from city_gis.accounts.models import Department

    if not shutil.which("ogr2ogr"):
        print("import_vs_ogr2ogr: ogr2ogr not found (Debian gdal-bin), skipped")
        return
    dept = Department.objects.order_by("code").values_list("code", flat=True).first()
    if dept is None:
        print("import_vs_ogr2ogr: no department in the database (run `citygis load_demo`), skipped")
        return
    count = int(os.environ.get("BENCH_IMPORT_FEATURES", 100_000))
    gpkg = make_gpkg(Path(settings.VAR_DIR) / "bench" / f"polygons_{count}.gpkg", count)
    import layers.importer  # noqa: F401 — load pandas/geopandas before the clock starts

    t_ogr, t_ours, written = [], [], 0
    cleanup()
    try:
        for _round in range(ROUNDS):  # alternate and keep the best of each: the machine is shared
            t_ogr.append(run_ogr2ogr(gpkg))
            elapsed, written = run_ours(gpkg, dept)
            t_ours.append(elapsed)
            cleanup()
    finally:
        cleanup()
    best_ogr, best_ours = min(t_ogr), min(t_ours)
    record("import_vs_ogr2ogr", f"import {written} polygons", ours=best_ours, floor=best_ogr, unit="s", target="<= 1.5")
    print(f"import_vs_ogr2ogr: {written} polygons (EPSG:4544 → 4490, best of {ROUNDS})  ogr2ogr {best_ogr:.2f} s  "
          f"citygis import_layer {best_ours:.2f} s  ratio {best_ours / best_ogr:.2f}× (target ≤ 1.5×)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
