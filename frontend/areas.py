"""Area outlines (districts, streets, communities, current grid cells) as GeoJSON for the dashboard's choropleth."""

from __future__ import annotations

from django.db import connection
from psycopg2 import sql

from city_gis.grid.areas import area_level

# Simplification tolerance in degrees per level: outlines only need to look right at dashboard zoom.
TOLERANCE = {"district": 0.0005, "street": 0.0002, "community": 0.0001, "cell": 0.00002}


def area_geojson(level: str) -> str:
    """A GeoJSON FeatureCollection (text) of the level's areas with `code` and `name` properties."""
    source = area_level(level)
    name = sql.Identifier(source.name_column) if source.name_column else sql.Literal("")
    query = sql.SQL("""
        SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
            'type', 'Feature', 'id', code,
            'properties', json_build_object('code', code, 'name', {name}),
            'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %s), 6)::json)), '[]'::json))::text
        FROM {table} WHERE {current}
    """).format(name=name, table=source.table, current=source.current())
    with connection.cursor() as cur:
        cur.execute(query, [TOLERANCE[level]])
        return cur.fetchone()[0]
