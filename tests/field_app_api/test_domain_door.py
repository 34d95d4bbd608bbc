"""field_app_api.domain is the app's one door to the core: the field actions are read off the workflow
table (not restated), and the import-linter contract keeps the other modules from importing the core."""

from __future__ import annotations

from city_gis.cases.models import State
from city_gis.cases.workflow import TABLE
from field_app_api import domain, tasks

# What a field worker may do on each task (docs/api.md, POST /api/v1/tasks/{id}/complete/).
EXPECTED = {
    State.PENDING_VERIFICATION: {"verify_confirmed", "verify_not_found"},
    State.DISPOSED: {"check_passed", "check_failed"},
    State.DISPATCHED: {"dispose", "return", "request_extension", "request_suspend"},
}


def test_task_actions_are_the_workflow_rows_of_the_field_roles():
    assert {state: set(actions) for state, actions in domain.TASK_ACTIONS.items()} == EXPECTED
    assert tasks.FIELD_ACTIONS == sorted(set().union(*EXPECTED.values()))


def test_every_task_action_is_a_workflow_row_open_to_the_task_role_in_that_state():
    rows = {a.name: a for a in TABLE}
    for role, states in domain.TASK_ROLES.items():
        for state in states:
            for name in domain.TASK_ACTIONS[state]:
                assert state in rows[name].sources and role.value in rows[name].roles, (state, name)


def test_task_kinds_cover_exactly_the_task_states():
    assert set(domain.TASK_KINDS) == set(domain.INSPECTOR_TASK_STATES) | set(domain.HANDLER_TASK_STATES)
