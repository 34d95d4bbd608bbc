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


def max_vertices() -> int:
    return int(settings.CITYGIS_REVIEW_MAX_VERTICES)


def max_area_km2() -> float:
    return float(settings.CITYGIS_REVIEW_MAX_AREA_KM2)


def max_parts() -> int:
    return int(settings.CITYGIS_REVIEW_MAX_PARTS)


def max_upload_bytes() -> int:
    return int(settings.CITYGIS_REVIEW_MAX_UPLOAD_BYTES)


def max_features() -> int:
    return int(settings.CITYGIS_REVIEW_MAX_FEATURES)


def statement_timeout_ms() -> int:
    return int(settings.CITYGIS_REVIEW_STATEMENT_TIMEOUT_MS)


# Proposed intensity: FAR and height inside physical bounds (a typo, not a skyscraper, is what these catch).
FAR_MAX = 30.0
HEIGHT_MAX_M = 1000.0
TITLE_MAX_CHARS = 120
WKT_MAX_CHARS = 1_000_000
