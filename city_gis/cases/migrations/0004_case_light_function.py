"""The traffic light, defined once: the SQL function `citygis_case_light(is_open, yellow_at, deadline, at)`.

Before, the light existed three times (the `cases_open_v` view of 0002, the ORM annotation and
`Case.light_at`) and they disagreed: the view said 'green' for a case without a running deadline (a
suspended case), the API said none. docs/workflow.md defines it: none for terminal/suspended cases. The
view, `Case.objects.with_light()` (a Func) and `Case.light_at()` now all call this function.

The view keeps its columns; only the `light` expression of 0002 is swapped (the rest of its SQL is not
restated here, so the column list stays in one place).
"""

import re
from importlib import import_module

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION citygis_case_light(is_open boolean, yellow_at timestamptz, deadline timestamptz,
                                              at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- None without a running deadline (terminal or suspended); red once past it; yellow from yellow_at.
    SELECT CASE WHEN NOT is_open OR deadline IS NULL THEN NULL
                WHEN at > deadline THEN 'red'
                WHEN at >= yellow_at THEN 'yellow'
                ELSE 'green' END
$$;
"""
UNFUNCTION = "DROP FUNCTION IF EXISTS citygis_case_light(boolean, timestamptz, timestamptz, timestamptz);"

_VIEWS_0002 = import_module("city_gis.cases.migrations.0002_history_trigger_views").VIEWS
_OLD_LIGHT = re.compile(r"CASE WHEN c\.stage_deadline IS NULL THEN 'green'.*?END AS light", re.DOTALL)
# cases_open_v selects open cases only (its WHERE), hence is_open = TRUE.
_NEW_LIGHT = "citygis_case_light(TRUE, c.stage_yellow_at, c.stage_deadline, now()) AS light"
VIEWS, _found = _OLD_LIGHT.subn(_NEW_LIGHT, _VIEWS_0002)
if _found != 1:
    raise RuntimeError("the light expression of cases_open_v (migration 0002) was not found")


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_text_limits")]

    operations = [
        migrations.RunSQL(FUNCTION, UNFUNCTION),
        # Reverse: 0002's own view text (its CASE) comes back before the function is dropped.
        migrations.RunSQL(VIEWS, _VIEWS_0002),
    ]
