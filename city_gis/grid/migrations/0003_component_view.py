"""The view behind the grid.components layer (component with its class name, cell code and department)."""

from django.db import migrations

VIEW = """
CREATE OR REPLACE VIEW grid_component_v AS
SELECT c.id, c.code, c.name, cat.code AS category_code, cat.name_zh AS category_name, c.state,
       cell.code AS cell_code, d.code AS maintainer_department, c.initial_date, c.changed_date, c.geom
FROM grid_component c
JOIN cases_category cat ON cat.id = c.category_id
LEFT JOIN grid_cell cell ON cell.id = c.cell_id
LEFT JOIN accounts_department d ON d.id = c.maintainer_department_id;
"""


class Migration(migrations.Migration):
    dependencies = [("grid", "0002_components")]

    operations = [migrations.RunSQL(VIEW, "DROP VIEW IF EXISTS grid_component_v;")]
