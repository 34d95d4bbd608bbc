"""Indexes on the case history that the evaluation statements use to pick a period's cases quickly:
transitions by time and disposal deadlines by time, both carrying case_id (index-only scans)."""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS evaluation_hist_at_case ON cases_casehistory (at) INCLUDE (case_id);
CREATE INDEX IF NOT EXISTS evaluation_hist_disposal_deadline
    ON cases_casehistory (disposal_deadline) INCLUDE (case_id, at) WHERE disposal_deadline IS NOT NULL;
"""
DROP = """
DROP INDEX IF EXISTS evaluation_hist_at_case;
DROP INDEX IF EXISTS evaluation_hist_disposal_deadline;
"""


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_area_scores"), ("cases", "0001_case_workflow")]

    operations = [migrations.RunSQL(CREATE, DROP)]
