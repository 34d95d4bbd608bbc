"""The readings table, partitioned by month (native declarative partitioning), and its partition functions.

Primary key (device_id, observed_at): a repeated reading is a conflict, skipped by INSERT … ON CONFLICT DO
NOTHING. One nullable column per quantity of the MQTT contract (docs/hazards.md). Partitions are named
hazards_reading_YYYYmMM and bounded by local (TIME_ZONE) month starts; `hazards_ensure_partitions` creates the
missing ones of a month range, `hazards_drop_partitions` drops those wholly before a month (retention).
"""

from django.db import migrations

CREATE = """
CREATE TABLE hazards_reading (
    device_id bigint NOT NULL REFERENCES hazards_device (id) ON DELETE CASCADE,
    observed_at timestamptz NOT NULL,
    rain_mm double precision,
    displacement_mm double precision,
    crack_mm double precision,
    tilt_deg double precision,
    water_level_m double precision,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, observed_at)
) PARTITION BY RANGE (observed_at);

CREATE FUNCTION hazards_ensure_partitions(first_month date, last_month date, tz text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    made integer := 0;
    part text;
BEGIN
    -- one creator at a time (the consumer, the command and the migration may run together)
    PERFORM pg_advisory_xact_lock(hashtext('hazards_reading_partitions'));
    WHILE m <= last_month LOOP
        part := 'hazards_reading_' || to_char(m, 'YYYY"m"MM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF hazards_reading FOR VALUES FROM (%L) TO (%L)', part,
                           m::timestamp AT TIME ZONE tz, (m + interval '1 month')::timestamp AT TIME ZONE tz);
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;

CREATE FUNCTION hazards_drop_partitions(before_month date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('hazards_reading_partitions'));
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'hazards_reading'::regclass AND c.relname ~ '^hazards_reading_[0-9]{4}m[0-9]{2}$'
          AND to_date(substr(c.relname, 17), 'YYYY"m"MM') < date_trunc('month', before_month)::date
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
"""

DROP = """
DROP FUNCTION IF EXISTS hazards_drop_partitions(date);
DROP FUNCTION IF EXISTS hazards_ensure_partitions(date, date, text);
DROP TABLE IF EXISTS hazards_reading;
"""

def make_partitions(apps, schema_editor) -> None:
    """The retention window's months and the ones ahead exist as soon as the table does."""
    from city_gis.hazards.partitions import ensure_partitions

    ensure_partitions(connection=schema_editor.connection)

class Migration(migrations.Migration):
    dependencies = [("hazards", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.RunPython(make_partitions, migrations.RunPython.noop),
    ]

