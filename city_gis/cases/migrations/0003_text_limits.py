"""Text limits kept by the database: case descriptions and history notes (append-only rows live forever).

Adding a CHECK constraint validates existing rows without updating them, so the append-only history
trigger of 0002 (BEFORE UPDATE OR DELETE) is not involved; no column type changes (the map views of 0002
select from cases_case).
"""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_history_trigger_views")]

    operations = [
        migrations.AddConstraint(
            model_name="case",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.LessThanOrEqual(
                    django.db.models.functions.text.Length("description"), 4000),
                name="case_description_max_length"),
        ),
        migrations.AddConstraint(
            model_name="casehistory",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length("note"), 2000),
                name="case_history_note_max_length"),
        ),
    ]
