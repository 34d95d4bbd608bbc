"""The case history, partitioned by month of `at` (native declarative partitioning).

The history is append-only and the fastest-growing table of the platform (about 7 rows per case, kept for
ever); evaluations read one month of it. Partitions are named cases_casehistory_YYYYmMM, bounded by local
(TIME_ZONE) month starts; `cases_history_ensure_partitions(first, last, tz)` creates the missing ones of a month
range and moves into each new one whatever rows its month already has in cases_casehistory_default, the catch-all
partition that keeps an insert from ever failing for want of a partition.

PostgreSQL wants the partition key in every unique constraint: the primary key becomes (id, at) and the
(case, seq) uniqueness becomes (case, seq, at). Two transitions of one case can never take the same seq
anyway: the workflow engine numbers them under the case's row lock (cases.workflow.perform); the constraint is
the backstop. A foreign key cannot point at a partitioned table's `id` alone, so cases_caseattachment.history
keeps its column and index but not the database constraint (history rows are never deleted but by a purge of
their whole case, which deletes the attachments first).

Existing rows are copied; every index, foreign key, check and the append-only trigger of the old table are
re-created on the new parent (which gives each partition its own), whichever app created them.
"""

from django.db import migrations, models

PARTITION_FUNCTION = """
CREATE OR REPLACE FUNCTION cases_history_ensure_partitions(first_month date, last_month date, tz text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    made integer := 0;
    part text;
    lo timestamptz;
    hi timestamptz;
    purge text := current_setting('citygis.allow_history_purge', true);
BEGIN
    -- one creator at a time (the migration, the command and `make run` may run together)
    PERFORM pg_advisory_xact_lock(hashtext('cases_casehistory_partitions'));
    WHILE m <= last_month LOOP
        part := 'cases_casehistory_' || to_char(m, 'YYYY"m"MM');
        IF to_regclass(part) IS NULL THEN
            lo := m::timestamp AT TIME ZONE tz;
            hi := (m + interval '1 month')::timestamp AT TIME ZONE tz;
            EXECUTE format('CREATE TABLE %I (LIKE cases_casehistory INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            -- rows of this month that arrived before their partition existed move out of the catch-all
            PERFORM set_config('citygis.allow_history_purge', 'on', true);
            EXECUTE format('WITH moved AS (DELETE FROM cases_casehistory_default WHERE at >= $1 AND at < $2 '
                           'RETURNING *) INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
            PERFORM set_config('citygis.allow_history_purge', coalesce(purge, ''), true);
            EXECUTE format('ALTER TABLE cases_casehistory ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, lo, hi);
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;
"""

PARENT = """
ALTER TABLE cases_caseattachment DROP CONSTRAINT IF EXISTS cases_caseattachment_history_id_8df625af_fk_cases_cas;
ALTER TABLE cases_casehistory RENAME TO cases_casehistory_unpartitioned;
CREATE TABLE cases_casehistory (LIKE cases_casehistory_unpartitioned
    INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS) PARTITION BY RANGE (at);
ALTER TABLE cases_casehistory ADD PRIMARY KEY (id, at);
ALTER TABLE cases_casehistory ADD CONSTRAINT case_history_case_seq_at_unique UNIQUE (case_id, seq, at);
ALTER TABLE cases_casehistory ADD CONSTRAINT cases_casehistory_case_id_fk_cases_case_id
    FOREIGN KEY (case_id) REFERENCES cases_case (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE cases_casehistory ADD CONSTRAINT cases_casehistory_actor_id_fk_accounts_user_id
    FOREIGN KEY (actor_id) REFERENCES accounts_user (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE cases_casehistory ADD CONSTRAINT cases_casehistory_actor_department_id_fk_accounts_department_id
    FOREIGN KEY (actor_department_id) REFERENCES accounts_department (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE cases_casehistory ADD CONSTRAINT cases_casehistory_department_id_fk_accounts_department_id
    FOREIGN KEY (department_id) REFERENCES accounts_department (id) DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE cases_casehistory_default PARTITION OF cases_casehistory DEFAULT;
"""

COPY = """
DO $$
DECLARE
    defs text[];
    def text;
BEGIN
    -- the copied rows' deferred foreign-key checks run now: an index cannot be built over pending trigger events
    SET CONSTRAINTS ALL IMMEDIATE;
    INSERT INTO cases_casehistory SELECT * FROM cases_casehistory_unpartitioned;
    PERFORM setval(pg_get_serial_sequence('cases_casehistory', 'id'),
                   greatest(coalesce((SELECT max(id) FROM cases_casehistory), 0), 1),
                   (SELECT max(id) FROM cases_casehistory) IS NOT NULL);
    -- what other migrations (this app's and evaluation's) put on the old table, re-created on the parent
    -- (which gives every partition its own); constraint indexes (pk, unique) are already there
    SELECT array_agg(replace(pg_get_indexdef(i.indexrelid), ' ON public.cases_casehistory_unpartitioned ',
                             ' ON public.cases_casehistory '))
      INTO defs
      FROM pg_index i
     WHERE i.indrelid = 'cases_casehistory_unpartitioned'::regclass
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
    DROP TABLE cases_casehistory_unpartitioned;
    -- the primary key was made while the old one held its name
    EXECUTE (SELECT format('ALTER TABLE cases_casehistory RENAME CONSTRAINT %I TO cases_casehistory_pkey', conname)
               FROM pg_constraint WHERE conrelid = 'cases_casehistory'::regclass AND contype = 'p');
    FOREACH def IN ARRAY coalesce(defs, '{}') LOOP
        EXECUTE def;
    END LOOP;
    CREATE TRIGGER cases_history_append_only BEFORE UPDATE OR DELETE ON cases_casehistory
        FOR EACH ROW EXECUTE FUNCTION cases_history_append_only();
END $$;
"""


def make_partitions(apps, schema_editor) -> None:
    """The months the old table covers and the months ahead, by TIME_ZONE month starts, before the copy."""
    from city_gis.cases.partitions import ensure_partitions

    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT min(at) FROM cases_casehistory_unpartitioned")
        first = cur.fetchone()[0]
    ensure_partitions(first, connection=schema_editor.connection)


class Migration(migrations.Migration):
    # ALTER TABLE … ATTACH/DETACH and the copy are not for one huge transaction on a live table: run it in a
    # maintenance window (docs/scaling.md); on the demo and test databases it takes seconds.
    dependencies = [("cases", "0004_case_light_function")]

    operations = [
        migrations.RunSQL(PARTITION_FUNCTION, "DROP FUNCTION IF EXISTS cases_history_ensure_partitions(date, date, text);"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(PARENT, migrations.RunSQL.noop),
                                 migrations.RunPython(make_partitions, migrations.RunPython.noop),
                                 migrations.RunSQL(COPY, migrations.RunSQL.noop)],
            state_operations=[
                migrations.RemoveConstraint("casehistory", "case_history_case_seq_unique"),
                migrations.AddConstraint("casehistory", models.UniqueConstraint(
                    fields=["case", "seq", "at"], name="case_history_case_seq_at_unique")),
                migrations.AlterField("caseattachment", "history", models.ForeignKey(
                    blank=True, db_constraint=False, null=True, on_delete=models.deletion.SET_NULL,
                    related_name="attachments", to="cases.casehistory", verbose_name="流转记录")),
            ],
        ),
    ]
