"""Denormalised community/street/district codes and names on grid_cell, kept by triggers (see Cell)."""

from django.db import migrations, models

NAMES = """
UPDATE grid_cell c SET community_code = co.code, community_name = co.name, street_code = s.code,
       street_name = s.name, district_code = d.code, district_name = d.name
FROM grid_community co JOIN grid_street s ON s.id = co.street_id JOIN grid_district d ON d.id = s.district_id
WHERE co.id = c.community_id
"""

TRIGGERS = """
CREATE FUNCTION grid_cell_area_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT co.code, co.name, s.code, s.name, d.code, d.name
      INTO NEW.community_code, NEW.community_name, NEW.street_code, NEW.street_name, NEW.district_code,
           NEW.district_name
      FROM grid_community co JOIN grid_street s ON s.id = co.street_id JOIN grid_district d ON d.id = s.district_id
     WHERE co.id = NEW.community_id;
    RETURN NEW;
END $$;
CREATE TRIGGER grid_cell_area_names BEFORE INSERT OR UPDATE ON grid_cell
    FOR EACH ROW EXECUTE FUNCTION grid_cell_area_names();

-- A unit renamed, recoded or moved to another parent: its cells follow (the cell trigger above recomputes).
CREATE FUNCTION grid_unit_area_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'grid_community' THEN
        UPDATE grid_cell SET community_id = community_id WHERE community_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'grid_street' THEN
        UPDATE grid_cell SET community_id = community_id
         WHERE community_id IN (SELECT id FROM grid_community WHERE street_id = NEW.id);
    ELSE
        UPDATE grid_cell SET community_id = community_id
         WHERE community_id IN (SELECT co.id FROM grid_community co JOIN grid_street s ON s.id = co.street_id
                                 WHERE s.district_id = NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER grid_community_area_names AFTER UPDATE OF code, name, street_id ON grid_community
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.street_id IS DISTINCT FROM NEW.street_id)
    EXECUTE FUNCTION grid_unit_area_names();
CREATE TRIGGER grid_street_area_names AFTER UPDATE OF code, name, district_id ON grid_street
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.district_id IS DISTINCT FROM NEW.district_id)
    EXECUTE FUNCTION grid_unit_area_names();
CREATE TRIGGER grid_district_area_names AFTER UPDATE OF code, name ON grid_district
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION grid_unit_area_names();
"""

DROP = """
DROP TRIGGER IF EXISTS grid_district_area_names ON grid_district;
DROP TRIGGER IF EXISTS grid_street_area_names ON grid_street;
DROP TRIGGER IF EXISTS grid_community_area_names ON grid_community;
DROP TRIGGER IF EXISTS grid_cell_area_names ON grid_cell;
DROP FUNCTION IF EXISTS grid_unit_area_names();
DROP FUNCTION IF EXISTS grid_cell_area_names();
"""


def _field(label: str, length: int) -> models.CharField:
    return models.CharField(label, max_length=length, default="", editable=False)


class Migration(migrations.Migration):
    dependencies = [("grid", "0003_component_view")]

    operations = [
        migrations.AddField("cell", "community_code", _field("社区代码", 12)),
        migrations.AddField("cell", "community_name", _field("社区名称", 60)),
        migrations.AddField("cell", "street_code", _field("街道代码", 12)),
        migrations.AddField("cell", "street_name", _field("街道名称", 60)),
        migrations.AddField("cell", "district_code", _field("区县代码", 12)),
        migrations.AddField("cell", "district_name", _field("区县名称", 60)),
        migrations.RunSQL(TRIGGERS, DROP),
        migrations.RunSQL(NAMES, migrations.RunSQL.noop),
    ]
