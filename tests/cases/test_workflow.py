"""The workflow table walked through every path of DOMAIN.md; illegal actions → IllegalTransition, wrong roles →
PermissionDenied, missing fields → ValidationError naming the field; the history records every step."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from city_gis.cases.models import CaseHistory, ImmutableError, State
from city_gis.cases.workflow import ACTIONS, IllegalTransition, allowed_actions, perform

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Tuesday, working time


def at(minutes):
    return T0 + dt.timedelta(minutes=minutes)


def trail(case):
    return [(h.action, h.from_state, h.to_state) for h in case.history.order_by("seq")]


def to_dispatched(case, s, t=0):
    case = perform(case, "accept", s["operator"], at=at(t + 1))
    case = perform(case, "register", s["leader"], at=at(t + 2))
    return perform(case, "dispatch", s["dispatcher"], at=at(t + 3))


def test_main_path_inspector_report_to_close_records_every_transition(new_case, staff):
    case = new_case(at=T0)
    assert case.state == State.REPORTED and case.number.startswith("2026")
    case = to_dispatched(case, staff)
    assert case.department.code == "sanitation"  # the category's default department
    assert case.disposal_deadline == dt.datetime(2026, 11, 25, 9, 3, tzinfo=T0.tzinfo)  # 暴露垃圾: 1 working day
    case = perform(case, "dispose", staff["handler"], result="已清理", at=at(60))
    assert case.assignee == staff["inspector"]  # the reporter checks
    case = perform(case, "check_passed", staff["inspector"], at=at(70))
    case = perform(case, "close", staff["leader"], at=at(75))
    assert case.state == State.CLOSED and case.close_type == "normal"
    assert trail(case) == [
        ("report", "", "reported"), ("accept", "reported", "accepted"), ("register", "accepted", "registered"),
        ("dispatch", "registered", "dispatched"), ("dispose", "dispatched", "disposed"),
        ("check_passed", "disposed", "checked"), ("close", "checked", "closed"),
    ]
    dispose = case.history.get(action="dispose")
    assert dispose.on_time is True and dispose.due_at == case.disposal_deadline
    assert dispose.actor == staff["handler"] and dispose.department.code == "sanitation"
    assert dispose.data["result"] == "已清理"
    assert [h.seq for h in case.history.all()] == list(range(1, 8))


def test_public_report_is_verified_then_follows_the_main_path(new_case, staff):
    case = new_case(source="public", at=T0)
    assert case.state == State.PENDING_VERIFICATION
    assert case.stage_deadline == at(30)  # verify: 30 minutes
    case = perform(case, "verify_confirmed", staff["inspector"], at=at(10))
    assert case.state == State.REPORTED
    assert case.history.get(action="verify_confirmed").on_time is True


def test_verify_not_found_rejects(new_case, staff):
    case = perform(new_case(source="open311", at=T0), "verify_not_found", staff["inspector"], at=at(45))
    assert case.state == State.REJECTED
    assert case.history.get(action="verify_not_found").on_time is False  # 45 min > 30


def test_reject_and_void_need_a_reason(new_case, staff):
    case = new_case(at=T0)
    with pytest.raises(ValidationError) as exc:
        perform(case, "reject", staff["operator"], at=at(1))
    assert "reason" in exc.value.message_dict
    case = perform(case, "reject", staff["operator"], reason="不属于城管范围", at=at(1))
    assert case.state == State.REJECTED and case.history.last().note == "不属于城管范围"

    case = perform(new_case(at=T0, cell=1), "accept", staff["operator"], at=at(1))
    with pytest.raises(ValidationError, match="reason"):
        perform(case, "void", staff["leader"], at=at(2))
    assert perform(case, "void", staff["leader"], reason="重复", at=at(2)).state == State.VOIDED


def test_return_to_registration_then_dispatch_elsewhere(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "return", staff["handler"], reason="不属于本部门", at=at(10))
    assert case.state == State.REGISTERED and case.department is None and case.return_count == 1
    case = perform(case, "dispatch", staff["dispatcher"], department="municipal", at=at(12))
    assert case.department.code == "municipal"
    assert perform(case, "dispose", staff["other_handler"], result="完成", at=at(30)).state == State.DISPOSED


def test_rework_sends_the_case_back_with_a_new_deadline(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "dispose", staff["handler"], result="完成", at=at(30))
    case = perform(case, "check_failed", staff["inspector"], reason="仍有垃圾", at=at(40))
    assert case.state == State.DISPATCHED and case.rework_count == 1
    assert case.disposal_deadline == dt.datetime(2026, 11, 25, 9, 40, tzinfo=T0.tzinfo)
    case = perform(case, "dispose", staff["handler"], result="再次清理", at=at(90))
    case = perform(case, "check_passed", staff["inspector"], at=at(95))
    assert [a for a, *_ in trail(case)].count("dispose") == 2


def test_extension_requested_approved_and_denied(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    old = case.disposal_deadline
    with pytest.raises(IllegalTransition):
        perform(case, "approve_extension", staff["dispatcher"], at=at(5))  # nothing requested
    with pytest.raises(ValidationError, match="working_days"):
        perform(case, "request_extension", staff["handler"], reason="设备故障", at=at(5))
    case = perform(case, "request_extension", staff["handler"], reason="设备故障", working_days=2, at=at(5))
    assert case.pending_request == "extension"
    with pytest.raises(IllegalTransition):
        perform(case, "request_suspend", staff["handler"], reason="x", at=at(6))  # one request at a time
    case = perform(case, "approve_extension", staff["dispatcher"], at=at(7))
    assert case.state == State.DISPATCHED and case.pending_request == ""
    assert case.disposal_deadline == dt.datetime(2026, 11, 27, 9, 3, tzinfo=T0.tzinfo)  # +2 working days
    assert case.stage_deadline == case.disposal_deadline > old
    case = perform(case, "request_extension", staff["handler"], reason="再延", working_days=1, at=at(8))
    case = perform(case, "deny_extension", staff["dispatcher"], reason="不同意", at=at(9))
    assert case.disposal_deadline == dt.datetime(2026, 11, 27, 9, 3, tzinfo=T0.tzinfo)


def test_suspend_keeps_remaining_working_time_until_resumed(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "request_suspend", staff["handler"], reason="需协调产权单位", at=at(61))
    case = perform(case, "deny_suspend", staff["dispatcher"], reason="继续办理", at=at(62))
    assert case.state == State.DISPATCHED
    case = perform(case, "request_suspend", staff["handler"], reason="需协调产权单位", at=at(63))  # 10:03
    case = perform(case, "approve_suspend", staff["dispatcher"], at=at(63))
    assert case.state == State.SUSPENDED and case.light is None
    # 6 working hours left (10:03 → next day 09:03 = 1h57 + 3h30 + 0h33)
    assert case.suspended_remaining_s == 360 * 60
    resumed_at = dt.datetime(2026, 11, 30, 8, 30, tzinfo=T0.tzinfo)  # next Monday
    case = perform(case, "resume", staff["dispatcher"], at=resumed_at)
    assert case.state == State.DISPATCHED
    assert case.disposal_deadline == dt.datetime(2026, 11, 30, 16, 30, tzinfo=T0.tzinfo)


def test_self_handled_report_is_reviewed_and_closed(new_case, staff):
    case = new_case(source="self_handled", at=T0)
    assert case.state == State.SELF_HANDLED
    case = perform(case, "review_self_handled", staff["operator"], at=at(5))
    assert case.state == State.CLOSED and case.close_type == "self_handled"


def test_supervision_attaches_to_any_open_case(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "supervise", staff["leader"], note="请尽快处理", at=at(5))
    assert case.state == State.DISPATCHED and case.supervised
    assert case.history.last().action == "supervise"


def test_close_type_defaults_to_overdue_after_a_late_disposal(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "dispose", staff["handler"], result="完成", at=at(60 * 24 * 3))
    assert case.history.get(action="dispose").on_time is False
    case = perform(case, "check_passed", staff["inspector"], at=at(60 * 24 * 3 + 5))
    assert perform(case, "close", staff["leader"], at=at(60 * 24 * 3 + 6)).close_type == "overdue"


def test_close_type_must_be_one_of_the_configured_types(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "dispose", staff["handler"], result="完成", at=at(10))
    case = perform(case, "check_passed", staff["inspector"], at=at(11))
    with pytest.raises(ValidationError, match="close_type"):
        perform(case, "close", staff["leader"], close_type="bogus", at=at(12))
    assert perform(case, "close", staff["leader"], close_type="special", at=at(12)).close_type == "special"


@pytest.mark.parametrize("action", ["accept", "register", "dispatch", "dispose", "check_passed", "close", "resume",
                                    "approve_extension", "review_self_handled"])
def test_actions_out_of_their_state_are_illegal(new_case, staff, action):
    case = new_case(source="public", at=T0)  # pending_verification
    with pytest.raises(IllegalTransition):
        perform(case, action, staff["inspector"] if action != "register" else staff["leader"], at=at(1))
    assert case.history.count() == 1


@pytest.mark.parametrize("action,role", [("accept", "inspector"), ("accept", "handler"), ("accept", "viewer")])
def test_wrong_roles_are_refused(new_case, staff, action, role):
    case = new_case(at=T0)
    with pytest.raises(PermissionDenied):
        perform(case, action, staff[role], at=at(1))


def test_every_action_refuses_a_user_without_its_roles(new_case, staff, user_factory):
    planner = user_factory("t_planner", roles=["planner"], department="planning")
    case = new_case(at=T0)
    for name, spec in ACTIONS.items():
        if case.state in spec.sources:
            with pytest.raises(PermissionDenied):
                perform(case, name, planner, at=at(1), reason="x", note="x", into="1")


def test_handlers_act_only_on_their_departments_cases(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    with pytest.raises(PermissionDenied):
        perform(case, "dispose", staff["other_handler"], result="x", at=at(5))
    assert "dispose" not in [a.name for a in allowed_actions(case, staff["other_handler"])]
    assert {"dispose", "return", "request_extension", "request_suspend"} <= {
        a.name for a in allowed_actions(case, staff["handler"])}


def test_only_the_assigned_inspector_checks(new_case, staff):
    case = to_dispatched(new_case(at=T0), staff)
    case = perform(case, "dispose", staff["handler"], result="完成", at=at(5))
    with pytest.raises(PermissionDenied):
        perform(case, "check_passed", staff["inspector2"], at=at(6))
    case = perform(case, "assign_inspector", staff["dispatcher"], inspector="t_inspector2", at=at(7))
    assert perform(case, "check_passed", staff["inspector2"], at=at(8)).state == State.CHECKED


def test_allowed_actions_follow_the_table(new_case, staff):
    case = new_case(at=T0)
    assert [a.name for a in allowed_actions(case, staff["operator"])] == ["accept", "reject", "merge"]
    assert allowed_actions(case, staff["viewer"]) == []
    spec = {a.name: a for a in allowed_actions(case, staff["operator"])}["reject"]
    assert spec.as_dict()["fields"][0] == {"name": "reason", "label": "原因", "required": True, "kind": "text",
                                           "choices": []}


def test_unknown_action_names_the_field(new_case, staff):
    with pytest.raises(ValidationError) as exc:
        perform(new_case(at=T0), "teleport", staff["operator"])
    assert "action" in exc.value.message_dict


def test_history_is_immutable_in_the_model_and_in_the_database(new_case, staff):
    from django.db import connection, transaction
    from django.db.utils import InternalError

    entry = new_case(at=T0).history.first()
    entry.note = "篡改"
    with pytest.raises(ImmutableError):
        entry.save()
    with pytest.raises(ImmutableError):
        entry.delete()
    for sql in ("UPDATE cases_casehistory SET note = 'x' WHERE id = %s", "DELETE FROM cases_casehistory WHERE id = %s"):
        with pytest.raises(InternalError, match="append-only"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql, [entry.pk])
    assert CaseHistory.objects.get(pk=entry.pk).note == ""


def test_backdated_actions_must_not_precede_the_last_transition(new_case, staff):
    case = perform(new_case(at=T0), "accept", staff["operator"], at=at(10))
    with pytest.raises(ValidationError) as exc:
        perform(case, "register", staff["leader"], at=at(5))
    assert "at" in exc.value.message_dict
    assert perform(case, "register", staff["leader"], at=at(10)).state == State.REGISTERED
