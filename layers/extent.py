"""Where an edited geometry may lie: the city's outline.

The registry does not know what the city is: the grid app registers the check (the union of its districts,
`city_gis.grid.outline`) into this module, as domain read policies are registered into `layers.access`.
Without a registered check (or before any district is loaded) edits are only held to the lon/lat range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.contrib.gis.geos import GEOSGeometry

# geometries (EPSG:4490) → for each, whether it leaves the city; None when the city has no outline yet
OutlineCheck = Callable[[Sequence[GEOSGeometry]], list[bool] | None]

_check: OutlineCheck | None = None


def register_city_outline(check: OutlineCheck) -> None:
    """Install the city outline check (one per process; the grid app calls this in its ready())."""
    global _check
    _check = check


def outside_city(geoms: Sequence[GEOSGeometry]) -> list[bool] | None:
    """For each geometry, whether it leaves the city; None when no outline is known."""
    if _check is None or not geoms:
        return None
    return _check(geoms)
