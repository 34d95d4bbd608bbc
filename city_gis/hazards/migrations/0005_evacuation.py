"""pgRouting, the routable road topology and evacuation plans (SQL tables, like the readings: no Django models).

hazards_road_edge / hazards_road_vertex: layers_road noded (ST_Node) in EPSG:4544, rebuilt by
city_gis/hazards/evacuation.py when the roads change (stamp in hazards_road_topology).
hazards_evacuationplan / hazards_evacuationassignment: one plan per build, with its audit columns.
"""

from django.db import migrations

SQL = """
CREATE EXTENSION IF NOT EXISTS pgrouting;
CREATE TABLE hazards_road_topology (
    id smallint PRIMARY KEY CHECK (id = 1),
    stamp text NOT NULL,
    built_at timestamptz NOT NULL,
    edges integer NOT NULL,
    vertices integer NOT NULL,
    build_ms double precision NOT NULL
);
CREATE TABLE hazards_road_vertex (
    id bigint PRIMARY KEY,
    geom geometry(Point, 4544) NOT NULL
);
CREATE INDEX hazards_road_vertex_geom ON hazards_road_vertex USING gist (geom);
CREATE TABLE hazards_road_edge (
    id bigint PRIMARY KEY,
    source bigint NOT NULL,
    target bigint NOT NULL,
    cost double precision NOT NULL,
    geom geometry(LineString, 4544) NOT NULL
);
CREATE INDEX hazards_road_edge_geom ON hazards_road_edge USING gist (geom);
CREATE TABLE hazards_evacuationplan (
    id bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES hazards_alert (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    alert_level smallint NOT NULL,
    created_at timestamptz NOT NULL,
    created_by_id bigint NULL REFERENCES accounts_user (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    auto boolean NOT NULL,
    zone_source text NOT NULL,
    zone geometry(MultiPolygon, 4490) NOT NULL,
    buildings integer NOT NULL,
    people_total integer NOT NULL,
    people_assigned integer NOT NULL,
    people_unassigned integer NOT NULL,
    shelters_used integer NOT NULL,
    build_ms double precision NOT NULL
);
CREATE INDEX hazards_evacuationplan_alert ON hazards_evacuationplan (alert_id, created_at DESC);
CREATE TABLE hazards_evacuationassignment (
    id bigserial PRIMARY KEY,
    plan_id bigint NOT NULL REFERENCES hazards_evacuationplan (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    building_id bigint NOT NULL,
    community_code text NOT NULL DEFAULT '',
    community_name text NOT NULL DEFAULT '',
    people integer NOT NULL CHECK (people > 0),
    shelter_id bigint NULL,
    distance_m double precision NULL,
    route geometry(LineString, 4490) NULL
);
CREATE INDEX hazards_evacuationassignment_plan ON hazards_evacuationassignment (plan_id);
"""

REVERSE = """
DROP TABLE IF EXISTS hazards_evacuationassignment, hazards_evacuationplan, hazards_road_edge,
    hazards_road_vertex, hazards_road_topology;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("hazards", "0004_patrol"),
        ("layers", "__first__"),
        ("accounts", "__first__"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
