"""Database-side guarantees and map sources: an append-only trigger on the case history, the case-number
sequence, and the views behind the `cases.open` / `cases.closed` layers (light computed against now())."""

from django.db import migrations

TRIGGER = """
CREATE OR REPLACE FUNCTION cases_history_append_only() RETURNS trigger AS $$
BEGIN
    -- Demo resets may purge whole cases; they set this flag for their transaction only.
    IF current_setting('citygis.allow_history_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'cases_casehistory is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cases_history_append_only BEFORE UPDATE OR DELETE ON cases_casehistory
    FOR EACH ROW EXECUTE FUNCTION cases_history_append_only();
CREATE SEQUENCE IF NOT EXISTS cases_case_number_seq;
"""
UNTRIGGER = """
DROP TRIGGER IF EXISTS cases_history_append_only ON cases_casehistory;
DROP FUNCTION IF EXISTS cases_history_append_only();
DROP SEQUENCE IF EXISTS cases_case_number_seq;
"""

VIEWS = """
CREATE OR REPLACE VIEW cases_open_v AS
SELECT c.id, c.number, c.state, c.source, cat.kind AS category_kind, cat.code AS category_code,
       cat.name_zh AS category_name, c.urgency, c.cell_code, c.community_code, c.street_code, c.district_code,
       c.address, d.code AS department_code, d.name_zh AS department_name, c.created_at, c.stage_deadline,
       c.disposal_deadline, c.supervised,
       CASE WHEN c.stage_deadline IS NULL THEN 'green'
            WHEN c.stage_deadline < now() THEN 'red'
            WHEN c.stage_yellow_at <= now() THEN 'yellow'
            ELSE 'green' END AS light,
       c.location AS geom
FROM cases_case c
JOIN cases_category cat ON cat.id = c.category_id
LEFT JOIN accounts_department d ON d.id = c.department_id
WHERE c.state NOT IN ('closed', 'rejected', 'voided', 'merged');

CREATE OR REPLACE VIEW cases_closed_v AS
SELECT c.id, c.number, c.state, c.source, cat.kind AS category_kind, cat.code AS category_code,
       cat.name_zh AS category_name, c.cell_code, c.community_code, c.street_code, c.district_code, c.address,
       d.code AS department_code, d.name_zh AS department_name, c.created_at, c.closed_at, c.close_type,
       c.location AS geom
FROM cases_case c
JOIN cases_category cat ON cat.id = c.category_id
LEFT JOIN accounts_department d ON d.id = c.department_id
WHERE c.state = 'closed';
"""
UNVIEWS = "DROP VIEW IF EXISTS cases_open_v; DROP VIEW IF EXISTS cases_closed_v;"


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_case_workflow")]

    operations = [
        migrations.RunSQL(TRIGGER, UNTRIGGER),
        migrations.RunSQL(VIEWS, UNVIEWS),
    ]
