"""Demo step "rasters": a ~10 m DEM of the town and its karst hills, with hillshade and slope, as COG GeoTIFFs.

The DEM samples the same elevation function the city step used to put hazard points on steep slopes (see
`terrain`) at the centres of a 0.0001° grid in EPSG:4490, the storage CRS of every other layer, so no
consumer has to know about a second CRS (MapServer reprojects on request). Slope and hillshade use the
grid's true pixel size in metres. Files are written to a temporary name and renamed into place, so a reader
never sees a half-written file (test sessions may build at once).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from django.conf import settings
from pyproj import Geod
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy
from rasterio.transform import from_origin

from . import catalog
from .layout import CENTRE_LONLAT, make_layout, to_4544_lonlat
from .terrain import elevation

RESOLUTION_DEG = 0.0001  # ≈ 9.9 m east–west, 11.1 m north–south at 26.6°N
HALF_EXTENT_DEG = (0.046, 0.037)  # covers the town and its surroundings (≈ ±4.6 km × ±4.1 km)
NODATA = -9999.0
SUN_AZIMUTH, SUN_ALTITUDE = 315.0, 45.0


def raster_dir() -> Path:
    return Path(settings.VAR_DIR) / "rasters"


def dem_grid(seed: int) -> tuple[np.ndarray, rasterio.Affine]:
    """Elevation (float32, metres) on the EPSG:4490 grid and its geotransform (north-up, pixel corners)."""
    lon0, lat0 = CENTRE_LONLAT
    hx, hy = HALF_EXTENT_DEG
    west, north = round(lon0 - hx, 4), round(lat0 + hy, 4)
    width, height = round(2 * hx / RESOLUTION_DEG), round(2 * hy / RESOLUTION_DEG)
    lons = west + (np.arange(width) + 0.5) * RESOLUTION_DEG
    lats = north - (np.arange(height) + 0.5) * RESOLUTION_DEG
    x, y = to_4544_lonlat(*np.meshgrid(lons, lats))
    z = elevation(x, y, seed, make_layout(seed)).astype(np.float32)
    return z, from_origin(west, north, RESOLUTION_DEG, RESOLUTION_DEG)


def pixel_size_m() -> tuple[float, float]:
    """(east–west, north–south) size in metres of a pixel at the centre of the grid."""
    geod = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid, to well under a millimetre here
    lon0, lat0 = CENTRE_LONLAT
    return (geod.inv(lon0, lat0, lon0 + RESOLUTION_DEG, lat0)[2], geod.inv(lon0, lat0, lon0, lat0 + RESOLUTION_DEG)[2])


def derive(dem: np.ndarray, pixel_m: tuple[float, float] = (10.0, 10.0)) -> tuple[np.ndarray, np.ndarray]:
    """(hillshade uint8, slope float32 degrees) by central differences, as GDAL's gdaldem does in the interior."""
    dx, dy = pixel_m
    dz_drow, dz_dcol = np.gradient(dem.astype(np.float64), dy, dx)
    # ESRI/Burrough convention: x east, y down the rows (south); aspect as a maths angle
    slope = np.arctan(np.hypot(dz_dcol, dz_drow))
    aspect = np.arctan2(dz_drow, -dz_dcol)
    zenith = np.radians(90.0 - SUN_ALTITUDE)
    azimuth = np.radians(360.0 - SUN_AZIMUTH + 90.0)  # compass → maths angle
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect)
    hillshade = np.clip(255.0 * shade, 1, 255).astype(np.uint8)
    return hillshade, np.degrees(slope).astype(np.float32)


def write_cog(path: Path, data: np.ndarray, transform, *, nodata: float | None, description: str) -> None:
    """Write a tiled, DEFLATE-compressed Cloud Optimized GeoTIFF with overviews, atomically."""
    profile = {
        "driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1, "dtype": data.dtype.name,
        "crs": CRS.from_epsg(settings.CITYGIS_STORAGE_SRID), "transform": transform, "nodata": nodata,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tif", dir=path.parent)
    os.close(fd)
    try:
        with MemoryFile() as mem:
            with mem.open(**profile) as dst:
                dst.write(data, 1)
                dst.set_band_description(1, description)
            with mem.open() as src:
                rio_copy(src, tmp, driver="COG", compress="DEFLATE", blocksize=256, overview_resampling="average",
                         predictor=2 if data.dtype.kind in "iu" else 3)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build(seed: int) -> dict[str, str]:
    """Write dem.tif, hillshade.tif and slope.tif; return their paths by layer short name."""
    dem, transform = dem_grid(seed)
    hillshade, slope = derive(dem, pixel_size_m())
    out = raster_dir()
    paths = {key: out / f"{key}.tif" for key in ("dem", "hillshade", "slope")}
    write_cog(paths["dem"], dem, transform, nodata=NODATA, description="elevation (m)")
    write_cog(paths["hillshade"], hillshade, transform, nodata=0, description="hillshade 315/45")
    write_cog(paths["slope"], slope, transform, nodata=NODATA, description="slope (degrees)")
    return {k: str(p) for k, p in paths.items()}


def run(ctx) -> None:
    """Write the rasters and register raster.dem / raster.hillshade / raster.slope."""
    catalog.register_raster_layers(build(ctx.seed))


def needs_rerun(ctx) -> bool:
    """True when the registered raster files are missing here (e.g. a new checkout with an empty var/)."""
    from layers.models import Layer

    paths = Layer.objects.filter(name__in=["raster.dem", "raster.hillshade", "raster.slope"]).values_list(
        "raster_path", flat=True
    )
    return len(paths) < 3 or any(not Path(p).is_file() or Path(p).parent != raster_dir() for p in paths)
