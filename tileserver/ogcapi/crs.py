"""The CRSs of the OGC API (Part 2): their URIs, PostGIS SRIDs, axis order and output precision.

Axis order follows each CRS's definition, as Part 2 requires for `crs`, `bbox-crs` and `filter-crs`:
CRS84 and EPSG:3857 are east/north (x, y); EPSG:4490, EPSG:4326 and EPSG:4544 are north first (lat/lon,
northing/easting). PostGIS always stores x = east, so the north-first CRSs are flipped on the way out
(ST_FlipCoordinates) and their input coordinates swapped on the way in. Without `crs` the output is CRS84,
as Part 1 requires and as QGIS and GDAL expect by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from .problems import Problem


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int  # PostGIS SRID (CRS84 has the coordinates of SRID 4326 in x/y order)
    north_first: bool
    digits: int  # decimals of ST_AsGeoJSON: 1e-7° ≈ 1 cm, 1 mm in metres

    @property
    def curie(self) -> str:
        return "[OGC:CRS84]" if self.srid == 4326 and not self.north_first else f"[EPSG:{self.srid}]"


CRS84 = Crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, 7)
STORAGE = Crs("http://www.opengis.net/def/crs/EPSG/0/4490", 4490, True, 7)
SUPPORTED: tuple[Crs, ...] = (
    CRS84,
    STORAGE,
    Crs("http://www.opengis.net/def/crs/EPSG/0/4544", 4544, True, 3),
    Crs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 7),
    Crs("http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 3),
)
STORAGE_SRID = 4490
_BY_URI = {c.uri: c for c in SUPPORTED}
# Spellings clients use for the same CRSs (GDAL sends the http URIs, some clients CURIEs or EPSG:n).
_ALIASES = {
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84": CRS84, "[OGC:CRS84]": CRS84, "OGC:CRS84": CRS84,
    "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84, "CRS84": CRS84,
}
for _crs in SUPPORTED[1:]:
    for _spelling in (f"EPSG:{_crs.srid}", f"[EPSG:{_crs.srid}]", f"urn:ogc:def:crs:EPSG::{_crs.srid}",
                      f"https://www.opengis.net/def/crs/EPSG/0/{_crs.srid}"):
        _ALIASES[_spelling] = _crs


def crs_uris() -> list[str]:
    """The `crs` list of every collection."""
    return [c.uri for c in SUPPORTED]


def parse_crs(value: str | None, parameter: str) -> Crs:
    """The CRS a parameter names (CRS84 when absent); 400 naming `parameter` for any other."""
    if value is None or value == "":
        return CRS84
    text = value.strip()
    found = _BY_URI.get(text) or _ALIASES.get(text)
    if found is None:
        raise Problem(400, f"{parameter}: unsupported CRS {text[:100]!r}; supported: {', '.join(crs_uris())}",
                      parameter)
    return found


def to_xy(crs: Crs, coords: list[float]) -> list[float]:
    """Coordinates given in `crs`'s axis order as x, y pairs (swapped for north-first CRSs)."""
    if not crs.north_first:
        return list(coords)
    out = []
    for i in range(0, len(coords), 2):
        out += [coords[i + 1], coords[i]]
    return out
