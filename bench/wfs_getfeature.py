"""Bench: page through a polygon layer 1,000 features at a time with WFS 2.0 GetFeature (GeoJSON, through
tileserver.wfs.serve_wfs in this process: validation, access check, mapserv CGI) against a floor measured in the
same run: the same pages straight from PostGIS (`ST_AsGeoJSON` + `json_agg`, one query per page).
Prints features/s of each and WFS / floor (issue 16 target ≥ 0.4).

A scratch layer of BENCH_WFS_FEATURES (default 20,000) small parcels is created and removed again;
BENCH_WFS_PAGE sets the page size.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from bench._report import record
from bench._support import setup_django

LAYER = "land.bench_wfs"
PREFIX = "BENCHWFS-"
FEATURES = int(os.environ.get("BENCH_WFS_FEATURES", 20_000))
PAGE = int(os.environ.get("BENCH_WFS_PAGE", 1000))


@contextmanager
def scratch_layer(var_dir: Path, n: int):
    """`n` public square parcels in a grid around Zhongshan, registered as LAYER; configuration generated."""
    from django.conf import settings
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from django.db import transaction

    from city_gis.accounts.models import Department
    from layers.models import LandParcel, Layer
    from layers.registry import register_layer
    from tileserver.generate import generate_all

    settings.CITYGIS_MAPFILE_DIR = var_dir / "mapserver"
    settings.CITYGIS_MAPPROXY_DIR = var_dir / "mapproxy"
    settings.CITYGIS_TILE_CACHE_DIR = var_dir / "tilecache"
    settings.CITYGIS_OGC_RATE_ANON = "100000000/min"
    Department.objects.get_or_create(code="land", defaults={"name_zh": "自然资源局"})
    side, step = int(n ** 0.5) + 1, 0.0004
    with transaction.atomic():
        LandParcel.objects.filter(parcel_code__startswith=PREFIX).delete()
        rows = []
        for k in range(n):
            x, y = 104.70 + (k % side) * step, 26.50 + (k // side) * step
            poly = Polygon(((x, y), (x + step * 0.8, y), (x + step * 0.8, y + step * 0.6), (x + step * 0.4, y + step * 0.8),
                            (x, y + step * 0.8), (x, y)))
            rows.append(LandParcel(parcel_code=f"{PREFIX}{k:06d}", landuse_code="0701", landuse_name="基准",
                                   name=f"基准{k}", area_m2=1000.0, geom=MultiPolygon(poly, srid=4490)))
        LandParcel.objects.bulk_create(rows, batch_size=5000)
        register_layer(LAYER, owner="land", title_zh="WFS 基准宗地", classification="public", kind="vector",
                       geometry_type="POLYGON", source_table="layers_landparcel",
                       source_where=[{"column": "parcel_code", "op": "like", "value": PREFIX + "%"}],
                       attribute_columns=["id", "parcel_code", "landuse_code", "landuse_name", "name", "area_m2"])
    generate_all(caches_enabled=False)
    try:
        yield
    finally:
        with transaction.atomic():
            Layer.objects.filter(name=LAYER).delete()
            LandParcel.objects.filter(parcel_code__startswith=PREFIX).delete()


def floor_pages(n: int) -> float:
    """Seconds to read every page from PostGIS as a GeoJSON FeatureCollection (the same SQL as the mapfile)."""
    from django.db import connection

    from layers.models import Layer
    from tileserver.specs import layer_spec

    spec = layer_spec(Layer.objects.get(name=LAYER))
    select = spec.select_sql.replace("%", "%%")  # the registry's SQL holds a LIKE pattern; ours are parameters
    sql = ("select json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
           f"'type', 'Feature', 'id', p.{spec.id_column}, 'geometry', ST_AsGeoJSON(p.{spec.geom_column})::json,"
           f" 'properties', to_jsonb(p) - '{spec.geom_column}')), '[]'::json))::text"
           f" from (select * from ({select}) as sub order by {spec.id_column} limit %s offset %s) as p")
    start, seen = time.perf_counter(), 0
    with connection.cursor() as cur:
        for offset in range(0, n, PAGE):
            cur.execute(sql, [PAGE, offset])
            seen += len(json.loads(cur.fetchone()[0])["features"])
    assert seen == n, seen
    return time.perf_counter() - start


def wfs_pages(n: int) -> float:
    """Seconds to read every page with WFS 2.0 GetFeature (GeoJSON) through serve_wfs, anonymously."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from tileserver.params import parse_ogc_query
    from tileserver.wfs import serve_wfs

    factory, seen = RequestFactory(), 0
    start = time.perf_counter()
    for offset in range(0, n, PAGE):
        query = urlencode({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": LAYER,
                           "COUNT": PAGE, "STARTINDEX": offset, "OUTPUTFORMAT": "application/json"})
        resp = serve_wfs(factory.get("/ows?" + query), AnonymousUser(), parse_ogc_query(query))
        assert resp.status_code == 200, resp.content[:300]
        seen += len(json.loads(resp.content)["features"])
    assert seen == n, seen
    return time.perf_counter() - start


def main() -> None:
    setup_django()
    with tempfile.TemporaryDirectory(prefix="bench-wfs-") as tmp, scratch_layer(Path(tmp), FEATURES):
        floor_pages(PAGE)  # warm the database cache for both
        floor = floor_pages(FEATURES)
        wfs = wfs_pages(FEATURES)
    record("wfs_getfeature", "WFS GetFeature GeoJSON paging", ours=FEATURES / wfs, floor=FEATURES / floor,
           unit="features/s", target=">= 0.4")
    print(f"wfs_getfeature: {FEATURES} polygons in pages of {PAGE}: PostGIS floor {FEATURES / floor:,.0f} features/s,"
          f" WFS GeoJSON {FEATURES / wfs:,.0f} features/s, ratio {floor / wfs:.2f} (target >= 0.4)")


if __name__ == "__main__":
    main()
