"""Area outlines (districts, streets, communities, current grid cells) as GeoJSON for the dashboard's choropleth."""

from __future__ import annotations

from django.db import connection

# level -> (table, row filter); fixed identifiers, never taken from the request.
AREA_TABLES: dict[str, tuple[str, str]] = {
    "district": ("grid_district", "TRUE"),
    "street": ("grid_street", "TRUE"),
    "community": ("grid_community", "TRUE"),
    "cell": ("grid_cell", "valid_to IS NULL"),
}
# Simplification tolerance in degrees per level: outlines only need to look right at dashboard zoom.
TOLERANCE = {"district": 0.0005, "street": 0.0002, "community": 0.0001, "cell": 0.00002}


def area_geojson(level: str) -> str:
    """A GeoJSON FeatureCollection (text) of the level's areas with `code` and `name` properties."""
    table, where = AREA_TABLES[level]
    name = "''" if level == "cell" else "name"
    sql = f"""
        SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
            'type', 'Feature', 'id', code,
            'properties', json_build_object('code', code, 'name', {name}),
            'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %s), 6)::json)), '[]'::json))::text
        FROM {table} WHERE {where}
    """
    with connection.cursor() as cur:
        cur.execute(sql, [TOLERANCE[level]])
        return cur.fetchone()[0]
