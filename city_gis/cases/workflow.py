"""The case workflow: ONE table of transitions drives perform(), allowed_actions(), the API and the UI buttons.

Each row: action name, zh label, source states, target state (None = unchanged), roles allowed, whether the
actor must belong to the case's department (handlers) or be its assigned inspector, a guard, the fields it
takes and an effect. `perform()` locks the case row (SELECT … FOR UPDATE), re-checks the state, applies
the row and appends one CaseHistory entry (plus one on the target case for a merge).

Errors: IllegalTransition (→ HTTP 409) when the action is not possible in the case's state or its guard
fails; PermissionDenied (→ 403) for a wrong role / department / assignee; ValidationError (→ 400) naming a
missing or invalid field.

Batch mode (`with batch():`, docs/workflow.md): for one writer replaying a history, the same perform() reads
and writes through a `Batch` store (buffered, no row locks) instead of the live database store.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from city_gis.accounts.models import Department, Role, User
from city_gis.grid.models import ResponsibilityArea
from city_gis.text_limits import NOTE_MAX_LENGTH, has_control_chars

from . import calendar, deadlines
from .models import OPEN_STATES, Case, CaseHistory, CloseType, DuplicateLink, State


class IllegalTransition(Exception):
    """The action is not possible in the case's current state (HTTP 409)."""


@dataclass(frozen=True)
class FieldSpec:
    """A field an action takes: name, zh label, required?, kind (text, choice, department, case, int, user)."""

    name: str
    label: str
    required: bool = False
    kind: str = "text"
    choices: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"name": self.name, "label": str(self.label), "required": self.required, "kind": self.kind,
                "choices": list(self.choices)}


@dataclass(frozen=True)
class ActionSpec:
    """One row of the workflow table."""

    name: str
    label: str
    sources: frozenset[str]
    target: str | None
    roles: tuple[str, ...]
    fields: tuple[FieldSpec, ...] = ()
    own_department: bool = False  # actor must belong to the case's disposing department
    assignee_only: bool = False  # if the case has an assigned inspector, only they may act
    guard: Callable[[Case], str | None] | None = None  # returns a refusal message
    effect: Callable[[Case, User, dict, dt.datetime, dict], None] | None = field(default=None, compare=False)

    def as_dict(self) -> dict:
        return {"name": self.name, "label": str(self.label), "target": self.target,
                "fields": [f.as_dict() for f in self.fields]}


REASON = FieldSpec("reason", _("原因"), required=True)
NOTE = FieldSpec("note", _("说明"))


# --- effects: fill the case and the history data; `data` is what the history entry records ---------------
def _register(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    urgency = f.get("urgency") or case.urgency or None
    level = case.category.urgency(urgency)
    case.urgency = level["code"]
    data["urgency"] = case.urgency


def _dispatch(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    code = f.get("department") or (case.category.default_department.code if case.category.default_department else None)
    if not code:
        raise ValidationError({"department": "请选择处置部门"})
    dept = _store().disposal_department(code)
    if f.get("urgency"):
        case.urgency = case.category.urgency(f["urgency"])["code"]
    if not case.urgency:
        case.urgency = case.category.urgency(None)["code"]
    case.department = dept
    data.update(department=dept.code, urgency=case.urgency)


def _return(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    data["returned_by_department"] = case.department.code if case.department else None
    case.department = None
    case.return_count += 1


def _request(kind: str):
    def effect(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
        case.pending_request = kind
        case.pending_request_data = {"reason": f["reason"], "requested_by": user.pk, "at": at.isoformat()}
        if kind == "extension":
            case.pending_request_data["working_days"] = f["working_days"]
            data["working_days"] = f["working_days"]

    return effect


def _approve_extension(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    days = float(case.pending_request_data.get("working_days", 1))
    new = calendar.add_limit(case.disposal_deadline or at, days, "working_days")
    data.update(old_disposal_deadline=case.disposal_deadline.isoformat() if case.disposal_deadline else None,
                working_days=days)
    case.disposal_deadline = new
    deadlines.set_deadline(case, case.stage_started_at or at, new)
    case.pending_request, case.pending_request_data = "", {}


def _approve_suspend(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    remaining = calendar.working_minutes_between(at, case.disposal_deadline) if case.disposal_deadline else 0.0
    case.suspended_remaining_s = remaining * 60
    data["remaining_working_minutes"] = round(remaining, 1)
    case.pending_request, case.pending_request_data = "", {}


def _deny(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    data["request"] = case.pending_request
    case.pending_request, case.pending_request_data = "", {}


def _resume(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    minutes = (case.suspended_remaining_s or 0) / 60
    case.disposal_deadline = calendar.add_working_minutes(at, minutes)
    case.suspended_remaining_s = None
    data["remaining_working_minutes"] = round(minutes, 1)


def _dispose(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    data["result"] = f["result"]
    case.pending_request, case.pending_request_data = "", {}
    case.assignee = _check_inspector(case)


def _check_failed(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    case.rework_count += 1
    data["rework"] = case.rework_count


def _close(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    close_type = f.get("close_type")
    if not close_type:
        late = getattr(case, "disposed_late", False) or case.history.filter(action="dispose", on_time=False).exists()
        close_type = CloseType.OVERDUE if late else CloseType.NORMAL
    case.close_type, case.closed_at = close_type, at
    data["close_type"] = close_type


def _review_self_handled(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    case.close_type, case.closed_at = CloseType.SELF_HANDLED, at
    data["close_type"] = CloseType.SELF_HANDLED


def _terminal(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    case.closed_at = at


def _supervise(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    case.supervised = True


def _assign(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    try:
        inspector = User.objects.get(username=f["inspector"], is_active=True)
    except User.DoesNotExist:
        raise ValidationError({"inspector": f"没有这个用户：{f['inspector']}"}) from None
    if Role.INSPECTOR not in inspector.roles:
        raise ValidationError({"inspector": f"{inspector.username} 不是监督员"})
    case.assignee = inspector
    data["inspector"] = inspector.username


def _merge(case: Case, user: User, f: dict, at: dt.datetime, data: dict) -> None:
    target_ref = str(f["into"])
    store = _store()
    target = store.find_case(target_ref)
    if target is None:
        raise ValidationError({"into": f"案卷不存在：{target_ref}"})
    if target.pk == case.pk:
        raise ValidationError({"into": "不能合并到自身"})
    if not target.is_open:
        raise IllegalTransition(f"目标案卷 {target.number} 已办结，不能合并")
    case.merged_into, case.closed_at = target, at
    data["into"] = target.number
    DuplicateLink.objects.filter(case__in=[case, target], original__in=[case, target]).update(resolved=True)
    _append(target, "merge_in", target.state, target.state, user, at, note=f.get("note", ""),
            data={"from": case.number}, role=Role.OPERATOR.value)
    store.touched(target)


def _check_inspector(case: Case) -> User | None:
    """Who checks a disposal: the reporting inspector, else the cell's responsible inspector."""
    if case.reporter_id and case.source in ("inspector", "self_handled"):
        return case.reporter
    if case.cell_id:
        area = ResponsibilityArea.objects.filter(cells=case.cell_id).select_related("inspector").first()
        if area:
            return area.inspector
    return None


def _has_pending(kind: str):
    return lambda case: None if case.pending_request == kind else f"没有待审批的{'延期' if kind == 'extension' else '挂账'}申请"


def _no_pending(case: Case) -> str | None:
    return f"已有待审批的申请（{case.pending_request}）" if case.pending_request else None


S = State
OP, LEAD, DISP, INSP, HAND = Role.OPERATOR.value, Role.LEADER.value, Role.DISPATCHER.value, Role.INSPECTOR.value, Role.HANDLER.value
URGENCY = FieldSpec("urgency", _("紧急程度"), kind="urgency")

TABLE: tuple[ActionSpec, ...] = (
    ActionSpec("verify_confirmed", _("核实属实"), frozenset({S.PENDING_VERIFICATION}), S.REPORTED, (INSP,), (NOTE,),
               assignee_only=True),
    ActionSpec("verify_not_found", _("核实不属实"), frozenset({S.PENDING_VERIFICATION}), S.REJECTED, (INSP,), (NOTE,),
               assignee_only=True, effect=_terminal),
    ActionSpec("accept", _("受理"), frozenset({S.REPORTED}), S.ACCEPTED, (OP,), (NOTE,)),
    ActionSpec("reject", _("不予受理"), frozenset({S.REPORTED}), S.REJECTED, (OP,), (REASON,), effect=_terminal),
    ActionSpec("register", _("立案"), frozenset({S.ACCEPTED}), S.REGISTERED, (LEAD,), (URGENCY, NOTE), effect=_register),
    ActionSpec("void", _("作废"), frozenset({S.ACCEPTED}), S.VOIDED, (LEAD,), (REASON,), effect=_terminal),
    ActionSpec("dispatch", _("派遣"), frozenset({S.REGISTERED}), S.DISPATCHED, (DISP,),
               (FieldSpec("department", _("处置部门"), kind="department"), URGENCY, NOTE), effect=_dispatch),
    ActionSpec("return", _("回退"), frozenset({S.DISPATCHED}), S.REGISTERED, (HAND,), (REASON,), own_department=True,
               guard=_no_pending, effect=_return),
    ActionSpec("request_extension", _("申请延期"), frozenset({S.DISPATCHED}), None, (HAND,),
               (REASON, FieldSpec("working_days", _("延期工作日"), required=True, kind="int")), own_department=True,
               guard=_no_pending, effect=_request("extension")),
    ActionSpec("approve_extension", _("批准延期"), frozenset({S.DISPATCHED}), None, (DISP,), (NOTE,),
               guard=_has_pending("extension"), effect=_approve_extension),
    ActionSpec("deny_extension", _("驳回延期"), frozenset({S.DISPATCHED}), None, (DISP,), (REASON,),
               guard=_has_pending("extension"), effect=_deny),
    ActionSpec("request_suspend", _("申请挂账"), frozenset({S.DISPATCHED}), None, (HAND,), (REASON,), own_department=True,
               guard=_no_pending, effect=_request("suspend")),
    ActionSpec("approve_suspend", _("批准挂账"), frozenset({S.DISPATCHED}), S.SUSPENDED, (DISP,), (NOTE,),
               guard=_has_pending("suspend"), effect=_approve_suspend),
    ActionSpec("deny_suspend", _("驳回挂账"), frozenset({S.DISPATCHED}), None, (DISP,), (REASON,),
               guard=_has_pending("suspend"), effect=_deny),
    ActionSpec("resume", _("恢复办理"), frozenset({S.SUSPENDED}), S.DISPATCHED, (DISP,), (NOTE,), effect=_resume),
    ActionSpec("dispose", _("处置完毕"), frozenset({S.DISPATCHED}), S.DISPOSED, (HAND,),
               (FieldSpec("result", _("处置结果"), required=True),), own_department=True, effect=_dispose),
    ActionSpec("check_passed", _("核查通过"), frozenset({S.DISPOSED}), S.CHECKED, (INSP,), (NOTE,), assignee_only=True),
    ActionSpec("check_failed", _("核查未通过（返工）"), frozenset({S.DISPOSED}), S.DISPATCHED, (INSP,), (REASON,),
               assignee_only=True, effect=_check_failed),
    ActionSpec("close", _("结案"), frozenset({S.CHECKED}), S.CLOSED, (LEAD,),
               (FieldSpec("close_type", _("结案类型"), kind="choice",
                          choices=tuple(c for c in CloseType.values if c != CloseType.SELF_HANDLED)), NOTE),
               effect=_close),
    ActionSpec("review_self_handled", _("自处理审核结案"), frozenset({S.SELF_HANDLED}), S.CLOSED, (OP, LEAD), (NOTE,),
               effect=_review_self_handled),
    ActionSpec("supervise", _("督办"), frozenset(OPEN_STATES), None, (LEAD, DISP), (FieldSpec("note", _("督办意见"), required=True),),
               effect=_supervise),
    ActionSpec("assign_inspector", _("指派监督员"), frozenset({S.PENDING_VERIFICATION, S.DISPOSED}), None, (OP, DISP),
               (FieldSpec("inspector", _("监督员"), required=True, kind="user"),), effect=_assign),
    ActionSpec("merge", _("合并重复案卷"), frozenset({S.PENDING_VERIFICATION, S.REPORTED, S.ACCEPTED, S.REGISTERED}),
               S.MERGED, (OP,), (FieldSpec("into", _("合并至案卷"), required=True, kind="case"), NOTE), effect=_merge),
)
ACTIONS: dict[str, ActionSpec] = {a.name: a for a in TABLE}
# Stage-changing actions finish the running stage: their history row records due_at/on_time.
STAGE_ENDING = {a.name for a in TABLE if a.target is not None}


def _role_of(spec: ActionSpec, user: User) -> str | None:
    """The role under which `user` may take `spec` (None if they may not)."""
    if user is None or not user.is_active:
        return None
    for role in spec.roles:
        if role in user.roles:
            return role
    if user.is_admin:
        return Role.ADMIN.value
    return None


def _permission_problem(spec: ActionSpec, case: Case, user: User) -> str | None:
    role = _role_of(spec, user)
    if role is None:
        return f"当前用户无权执行“{spec.label}”（需要角色：{', '.join(spec.roles)}）"
    if role == Role.ADMIN.value:
        return None
    if spec.own_department and (case.department_id is None or case.department_id != user.department_id):
        return "只能办理派遣给本部门的案卷"
    if spec.assignee_only and case.assignee_id and case.assignee_id != user.pk:
        return "该任务已指派给其他监督员"
    return None


def allowed_actions(case: Case, user: User) -> list[ActionSpec]:
    """The actions `user` may take on `case` now (state, role, department, assignee and guard all pass)."""
    return [
        spec for spec in TABLE
        if case.state in spec.sources and _permission_problem(spec, case, user) is None
        and (spec.guard is None or spec.guard(case) is None)
    ]


def _clean_fields(spec: ActionSpec, case: Case, fields: dict) -> dict:
    clean: dict[str, Any] = {}
    for f in spec.fields:
        value = fields.get(f.name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            if f.required:
                raise ValidationError({f.name: f"“{f.label}”为必填项"})
            continue
        if f.kind == "int":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationError({f.name: f"“{f.label}”必须是整数"}) from None
            if not 1 <= value <= 60:
                raise ValidationError({f.name: f"“{f.label}”应在 1–60 之间"})
        elif f.kind == "choice" and value not in f.choices:
            raise ValidationError({f.name: f"“{f.label}”取值无效：{value}"})
        elif f.kind == "urgency":
            case.category.urgency(str(value))  # raises naming the field
        elif f.kind == "text" and (len(str(value)) > NOTE_MAX_LENGTH or has_control_chars(str(value))):
            # Notes live forever in the append-only history: bounded on every path (API, console, mobile).
            raise ValidationError({f.name: f"“{f.label}”不超过 {NOTE_MAX_LENGTH} 个字符，且不能包含控制字符"})
        clean[f.name] = value
    return clean


def _append(case: Case, action: str, from_state: str, to_state: str, user: User | None, at: dt.datetime, *,
            note: str = "", data: dict | None = None, due_at: dt.datetime | None = None,
            role: str = "") -> CaseHistory:
    # perform() reads the last seq together with the row lock; other callers ask the database.
    last = getattr(case, "last_seq", None)
    if last is None:
        last = case.history.order_by("-seq").values_list("seq", flat=True).first() or 0
    seq = last + 1
    case.last_seq, case.last_at = seq, at
    entry = CaseHistory(
        case=case, seq=seq, action=action, from_state=from_state, to_state=to_state, actor=user,
        actor_role=role, actor_department_id=getattr(user, "department_id", None), at=at, note=note or "",
        department_id=case.department_id, due_at=due_at, on_time=(at <= due_at) if due_at else None,
        deadline=case.stage_deadline, disposal_deadline=case.disposal_deadline, data=data or {},
    )
    if action == "dispose" and entry.on_time is False:
        case.disposed_late = True
    _store().add_history(entry)
    return entry


def record_creation(case: Case, user: User | None, at: dt.datetime, role: str = "") -> CaseHistory:
    """First history entry of a new case (action `report`)."""
    return _append(case, "report", "", case.state, user, at, data={"source": case.source}, role=role)


def _parse_at(at: Any) -> dt.datetime:
    if at is None:
        return timezone.now()
    if isinstance(at, str):
        at = parse_datetime(at)
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return at


class _LiveStore:
    """Where perform() reads and writes in normal (live) mode: the database, row by row, under row locks."""

    def lock(self, case: Case) -> Case:
        # Row lock + fresh state: of two concurrent actions the second sees the first's result (→ 409).
        last = CaseHistory.objects.filter(case=OuterRef("pk")).order_by("-seq")
        return (Case.objects.select_for_update(of=("self",))
                .select_related("category", "department", "reporter")
                .annotate(last_seq=Subquery(last.values("seq")[:1]), last_at=Subquery(last.values("at")[:1]))
                .get(pk=case.pk))

    def before(self, action: str) -> None:
        """Hook run before an action's transaction (nothing to do live)."""

    def save(self, case: Case) -> None:
        case.save()

    def touched(self, case: Case) -> None:
        """`case` (other than the acted-on one) was changed by an effect; live effects saved it already."""

    def add_history(self, entry: CaseHistory) -> None:
        entry.save(force_insert=True)

    def disposal_department(self, code: str) -> Department:
        try:
            return Department.objects.get(code=code, is_disposal_unit=True)
        except Department.DoesNotExist:
            raise ValidationError({"department": f"不是处置部门：{code}"}) from None

    def find_case(self, ref: str) -> Case | None:
        """The case numbered `ref` (or with id `ref`), row-locked."""
        qs = Case.objects.select_for_update()
        return qs.filter(number=ref).first() or (qs.filter(pk=int(ref)).first() if ref.isdigit() else None)


class Batch(_LiveStore):
    """Batch mode (see `batch()`): perform() trusts the caller's in-memory case (no row lock, no re-read),
    history rows are buffered and the cases saved by `flush()`. The rules are the same table and the same
    code path; only the reads and writes go through this store instead of the database. For one writer
    replaying or importing a history (the demo, a migration from a legacy system); never for concurrent,
    live requests.
    """

    def __init__(self) -> None:
        self.history: list[CaseHistory] = []
        self.dirty: dict[int, Case] = {}
        self.departments: dict[str, Department] = {}
        self.instances: dict[int, Case] = {}  # cases of this batch by pk: the authoritative in-memory copies

    def forget(self) -> None:
        """Flush, then drop the in-memory copies (the database is current for all of them)."""
        self.flush()
        self.instances.clear()

    def flush(self) -> None:
        """Write the changed cases and the buffered history rows."""
        for case in self.dirty.values():
            case.save()
        CaseHistory.objects.bulk_create(self.history, batch_size=2000)
        self.history.clear()
        self.dirty.clear()

    # --- the store interface perform() and the effects use ------------------------------------------------
    def lock(self, case: Case) -> Case:
        return case

    def before(self, action: str) -> None:
        if action == "merge":
            self.flush()  # the merge target's state and history must be current in the database

    def save(self, case: Case) -> None:
        self.dirty[case.pk] = self.instances[case.pk] = case

    def touched(self, case: Case) -> None:
        self.dirty[case.pk] = case

    def add_history(self, entry: CaseHistory) -> None:
        self.history.append(entry)

    def disposal_department(self, code: str) -> Department:
        dept = self.departments.get(code)
        if dept is None:
            dept = self.departments[code] = super().disposal_department(code)
        return dept

    def find_case(self, ref: str) -> Case | None:
        # The in-memory copy is current (its latest changes may not be written yet).
        target = next((c for c in self.instances.values() if c.number == ref), None)
        if target is None and ref.isdigit():
            target = self.instances.get(int(ref))
        return target or super().find_case(ref)


_LIVE = _LiveStore()
_batch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("citygis_workflow_batch", default=None)


def _store() -> _LiveStore:
    return _batch.get() or _LIVE


def current_batch() -> Batch | None:
    """The active batch, if any."""
    return _batch.get()


@contextmanager
def batch() -> Iterator[Batch]:
    """Within this block, create_case()/perform() batch their reads and writes; everything is flushed on exit
    (and on `batch.flush()` / `batch.forget()`). See docs/workflow.md, "Batch mode"."""
    store = Batch()
    token = _batch.set(store)
    try:
        yield store
        store.flush()
    finally:
        _batch.reset(token)


# Earlier names of the batch mode, kept for callers written against them.
Backfill, backfill, current_backfill = Batch, batch, current_batch


def perform(case: Case, action: str, user: User, *, at: dt.datetime | None = None, **fields: Any) -> Case:
    """Take `action` on `case` as `user` (at `at`, default now — explicit times are for batch mode/imports).

    Returns the updated case. Raises IllegalTransition, PermissionDenied or ValidationError.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise ValidationError({"action": f"未知操作：{action}"})
    explicit_at = at is not None
    at = _parse_at(at)
    store = _store()
    store.before(action)  # outside the savepoint
    with transaction.atomic():
        locked = store.lock(case)
        if locked.state not in spec.sources:
            raise IllegalTransition(f"案卷 {locked.number} 处于“{State(locked.state).label}”状态，不能执行“{spec.label}”")
        problem = _permission_problem(spec, locked, user)
        if problem:
            raise PermissionDenied(problem)
        if spec.guard and (refusal := spec.guard(locked)):
            raise IllegalTransition(refusal)
        if explicit_at and getattr(locked, "last_at", None) and at < locked.last_at:
            # Backfills must keep the trail in time order: evaluation replays it by time.
            raise ValidationError({"at": f"时间早于上一次流转（{locked.last_at.isoformat()}）"})
        clean = _clean_fields(spec, locked, fields)
        from_state = locked.state
        due_at = locked.stage_deadline if action in STAGE_ENDING else None
        data: dict[str, Any] = {k: v for k, v in clean.items() if k not in ("note", "reason")}
        if spec.effect:
            spec.effect(locked, user, clean, at, data)
        if spec.target is not None:
            locked.state = spec.target
            if spec.target == State.DISPATCHED and action == "resume":
                deadlines.set_deadline(locked, at, locked.disposal_deadline)
            elif spec.target == State.SUSPENDED:
                locked.stage_started_at = locked.stage_yellow_at = locked.stage_deadline = None
            else:
                deadlines.start_stage(locked, at)
        locked.updated_at = at
        store.save(locked)
        note = clean.get("reason") or clean.get("note") or ""
        _append(locked, action, from_state, locked.state, user, at, note=note, data=data, due_at=due_at,
                role=_role_of(spec, user) or "")
    return locked
