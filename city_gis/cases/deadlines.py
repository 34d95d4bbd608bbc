"""Stage time limits (from the StageLimit table, loaded with the categories file) and deadline helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from . import calendar
from .models import Case, Category, StageLimit, State

DEFAULT_FILE = Path(__file__).with_name("data") / "categories.yaml"

# Which stage limit runs while a case is in a state (dispatched uses the category's disposal limit).
STATE_STAGE = {
    State.PENDING_VERIFICATION: "verify",
    State.REPORTED: "accept",
    State.ACCEPTED: "register",
    State.REGISTERED: "dispatch",
    State.DISPOSED: "check",
    State.CHECKED: "close",
    State.SELF_HANDLED: "review",
}

_cache: dict[str, tuple[float, str]] = {}


def clear_cache() -> None:
    """Forget cached stage limits (after `load_categories`)."""
    _cache.clear()


def stage_limit(stage: str) -> tuple[float, str]:
    """(limit, unit) of a stage; from the database, else the default categories file."""
    if not _cache:
        rows = {s.stage: (s.limit, s.unit) for s in StageLimit.objects.all()}
        if not rows:
            doc = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
            rows = {k: (float(v["limit"]), v["unit"]) for k, v in doc["stage_limits"].items()}
        _cache.update(rows)
    if stage not in _cache:
        raise KeyError(f"no time limit configured for stage {stage!r}")
    return _cache[stage]


def disposal_limit(category: Category, urgency: str | None) -> tuple[float, str]:
    level = category.urgency(urgency)
    return float(level["limit"]), level["unit"]


def start_stage(case: Case, at: dt.datetime) -> None:
    """Set the running stage's start, yellow and deadline for the case's (new) state."""
    stage = STATE_STAGE.get(case.state)
    if case.state == State.DISPATCHED:
        limit, unit = disposal_limit(case.category, case.urgency)
        deadline, yellow = calendar.deadline_and_yellow(at, limit, unit)
        case.disposal_deadline = deadline
    elif stage:
        limit, unit = stage_limit(stage)
        deadline, yellow = calendar.deadline_and_yellow(at, limit, unit)
    else:
        case.stage_started_at = case.stage_yellow_at = case.stage_deadline = None
        return
    case.stage_started_at, case.stage_yellow_at, case.stage_deadline = at, yellow, deadline


def set_deadline(case: Case, start: dt.datetime, deadline: dt.datetime) -> None:
    """Set an explicit running deadline (extension, resume); yellow when less than 20% of it is left."""
    span = max(deadline - start, dt.timedelta(0))
    case.stage_started_at, case.stage_deadline = start, deadline
    case.stage_yellow_at = deadline - span * 0.2
