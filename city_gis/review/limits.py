"""The cost bounds of a review request, read at call time from the settings (city_gis/settings.py).

| variable | default | bounds |
|---|---|---|
| CITYGIS_REVIEW_MAX_VERTICES | 10,000 | vertices of one redline |
| CITYGIS_REVIEW_MAX_AREA_KM2 | 100 | area of one redline (km², EPSG:4544) |
| CITYGIS_REVIEW_MAX_PARTS | 100 | polygons of one redline (features of an upload) |
| CITYGIS_REVIEW_MAX_UPLOAD_BYTES | 5 MiB | one uploaded redline file |
| CITYGIS_REVIEW_MAX_FEATURES | 500 | conflicting features listed per rule (the areas count them all) |
| CITYGIS_REVIEW_STATEMENT_TIMEOUT_MS | 20,000 | the review's SQL (statement_timeout) |
"""

from __future__ import annotations

from django.conf import settings


def _int(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def max_vertices() -> int:
    return _int("CITYGIS_REVIEW_MAX_VERTICES", 10_000)


def max_area_km2() -> float:
    return float(getattr(settings, "CITYGIS_REVIEW_MAX_AREA_KM2", 100))


def max_parts() -> int:
    return _int("CITYGIS_REVIEW_MAX_PARTS", 100)


def max_upload_bytes() -> int:
    return _int("CITYGIS_REVIEW_MAX_UPLOAD_BYTES", 5 * 1024 * 1024)


def max_features() -> int:
    return _int("CITYGIS_REVIEW_MAX_FEATURES", 500)


def statement_timeout_ms() -> int:
    return _int("CITYGIS_REVIEW_STATEMENT_TIMEOUT_MS", 20_000)


# Proposed intensity: FAR and height inside physical bounds (a typo, not a skyscraper, is what these catch).
FAR_MAX = 30.0
HEIGHT_MAX_M = 1000.0
TITLE_MAX_CHARS = 120
WKT_MAX_CHARS = 1_000_000
