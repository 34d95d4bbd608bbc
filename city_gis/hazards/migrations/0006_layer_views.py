"""Views behind the live hazard layers (disaster.alerts, disaster.devices, disaster.area_warnings).

Each view carries `hazard_point_id` so the read policy in maplayers.py can filter rows per user; the level
is exposed as its colour name so MapServer classes can style by it.
"""

from django.db import migrations

VIEWS = """
CREATE OR REPLACE VIEW hazards_alerts_open_v AS
SELECT a.id, a.hazard_point_id, p.code AS point_code, a.rule, a.level,
       CASE a.level WHEN 1 THEN 'blue' WHEN 2 THEN 'yellow' WHEN 3 THEN 'orange' ELSE 'red' END AS level_name,
       a.opened_at, a.acknowledged_at, p.geom
FROM hazards_alert a JOIN layers_hazardpoint p ON p.id = a.hazard_point_id
WHERE a.closed_at IS NULL;

CREATE OR REPLACE VIEW hazards_devices_v AS
SELECT d.id, d.hazard_point_id, d.code, d.type, d.status, d.last_reading_at, d.location AS geom
FROM hazards_device d;

CREATE OR REPLACE VIEW hazards_warnings_active_v AS
SELECT w.id, w.level,
       CASE w.level WHEN 1 THEN 'blue' WHEN 2 THEN 'yellow' WHEN 3 THEN 'orange' ELSE 'red' END AS level_name,
       w.valid_from, w.valid_to, w.issuer, w.area AS geom
FROM hazards_areawarning w
WHERE w.cancelled_at IS NULL AND w.valid_from <= now() AND w.valid_to > now();
"""
UNVIEWS = """
DROP VIEW IF EXISTS hazards_warnings_active_v;
DROP VIEW IF EXISTS hazards_devices_v;
DROP VIEW IF EXISTS hazards_alerts_open_v;
"""


class Migration(migrations.Migration):
    dependencies = [("hazards", "0005_evacuation"), ("layers", "__first__")]

    operations = [migrations.RunSQL(VIEWS, UNVIEWS)]
