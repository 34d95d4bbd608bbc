"""Demo step "history": ctx.history_days × ctx.cases_per_day cases driven through the real workflow engine.

Every case is created with `create_case(at=…)` and moved with `perform(at=…)` on a simulated clock, so the
history, deadlines and lights are exactly what the engine produces. Each case draws a fate (reject, void,
return, extension, suspension, rework, merge, overdue disposal…) from ctx.rng("history"); transitions that
would fall after the build time are not taken, so the last days leave open cases in every state.
The clock is anchored at today's local midnight, so a rebuild on the same day gives the same history.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone
from tqdm import tqdm

from city_gis.accounts.models import Department, Role, User
from city_gis.grid.models import Cell, ResponsibilityArea

from . import calendar
from .models import Case, Category, CategoryKind
from .partitions import ensure_partitions
from .services import create_case
from .workflow import IllegalTransition, batch, perform

# (small class code, weight) — frequent problems first; "c:" marks a component class.
EVENT_WEIGHTS = [
    ("0102", 20), ("0104", 12), ("0201", 12), ("0504", 10), ("0501", 8), ("0103", 6), ("0101", 4), ("0106", 4),
    ("0202", 3), ("0302", 3), ("0301", 2), ("0503", 2), ("0107", 2), ("0105", 1), ("0401", 1), ("0402", 1),
    ("0701", 1), ("0702", 1), ("0601", 1),
]
COMPONENT_WEIGHTS = [
    ("0101", 3), ("0102", 3), ("0103", 3), ("0104", 2), ("0118", 6), ("0305", 5), ("0402", 4), ("0203", 2),
    ("0209", 2), ("0211", 2), ("0213", 1), ("0307", 2), ("0301", 1), ("0117", 1), ("0407", 1),
]
SOURCES = [("inspector", 70), ("public", 9), ("hotline", 12), ("open311", 4), ("self_handled", 5)]
DESCRIPTIONS = {
    "0102": "路边有暴露垃圾，未及时清运", "0104": "路面有泥土油污，影响市容", "0201": "电杆和墙面张贴非法小广告",
    "0504": "商户超出门窗店外经营", "0501": "无照游商占道经营", "0103": "积存垃圾渣土约2立方米",
    "0101": "人行道旁私搭乱建棚屋", "0106": "绿地内有生活垃圾", "0701": "边坡出现裂缝并有落石",
    "0702": "路面开裂下沉，疑似岩溶塌陷", "0118": "路灯夜间不亮", "0305": "垃圾箱破损满溢", "0402": "行道树倒伏",
}


@dataclass
class Actors:
    operator: User
    leader: User
    dispatcher: User
    inspectors: list[User]
    handlers: dict[str, User]  # department code → handler
    by_cell: dict[int, User]  # cell id → responsible inspector


def _weighted(rng: random.Random, pairs):
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights, k=1)[0]


def _actors() -> Actors | None:
    def one(username: str) -> User | None:
        return User.objects.filter(username=username).first()

    inspectors = list(User.objects.filter(roles__contains=[Role.INSPECTOR]).order_by("username"))
    handlers = {}
    for dept in Department.objects.filter(is_disposal_unit=True):
        h = User.objects.filter(department=dept, roles__contains=[Role.HANDLER]).order_by("username").first()
        if h:
            handlers[dept.code] = h
    by_cell = {}
    for area in ResponsibilityArea.objects.select_related("inspector").prefetch_related("cells"):
        for cell in area.cells.all():
            by_cell.setdefault(cell.pk, area.inspector)
    staff = [one("operator"), one("leader"), one("dispatcher")]
    if None in staff or not inspectors or not handlers:
        return None
    return Actors(*staff, inspectors=inspectors, handlers=handlers, by_cell=by_cell)


def _random_point(rng: random.Random, cell: Cell) -> Point:
    xmin, ymin, xmax, ymax = cell.geom.extent
    for _ in range(20):
        p = Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax), srid=4490)
        if cell.geom.contains(p):
            return p
    return cell.geom.point_on_surface


def _creation_time(rng: random.Random, day: dt.date, tz) -> dt.datetime:
    # Patrols and calls concentrate in the daytime; a few reports come in the evening.
    hour = rng.choices(range(24), weights=[1, 0, 0, 0, 0, 1, 2, 5, 10, 12, 12, 9, 5, 6, 10, 12, 11, 9, 6, 4, 3, 2, 1, 1])[0]
    return dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tz)


class Sim:
    """Drives one case's life; stops quietly at the build time (`now`)."""

    def __init__(self, rng: random.Random, actors: Actors, now: dt.datetime):
        self.rng, self.a, self.now = rng, actors, now
        self.counts: dict[str, int] = {}

    def act(self, case: Case, action: str, user: User, at: dt.datetime, **fields) -> Case | None:
        if at > self.now:
            return None
        try:
            case = perform(case, action, user, at=at, **fields)
        except IllegalTransition:
            return None
        self.counts[action] = self.counts.get(action, 0) + 1
        return case

    def minutes(self, lo: float, hi: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.rng.uniform(lo, hi))

    def within(self, case: Case, share_lo: float, share_hi: float, start: dt.datetime) -> dt.datetime:
        """A moment `share` of the way from `start` to the running deadline (>1 = late)."""
        deadline = case.stage_deadline or start + dt.timedelta(hours=1)
        span = max(deadline - start, dt.timedelta(minutes=5))
        return start + span * self.rng.uniform(share_lo, share_hi)

    def run(self, case: Case, t: dt.datetime) -> None:
        r, a = self.rng.random, self.a
        if case.state == "self_handled":
            self.act(case, "review_self_handled", a.operator, t + self.minutes(5, 40))
            return
        if case.state == "pending_verification":
            inspector = case.assignee or self.rng.choice(a.inspectors)
            t = self.within(case, 0.2, 1.3 if r() < 0.9 else 2.5, t)
            if r() < 0.15:
                self.act(case, "verify_not_found", inspector, t, note="现场未发现该问题")
                return
            case = self.act(case, "verify_confirmed", inspector, t, note="情况属实")
            if case is None:
                return
        # accept / reject
        t = self.within(case, 0.1, 1.2 if r() < 0.93 else 3, t)
        if r() < 0.04:
            self.act(case, "reject", a.operator, t, reason="不属于城市管理范围")
            return
        if r() < 0.8 and (case := self._merge(case, t)) is None:
            return
        case = self.act(case, "accept", a.operator, t)
        if case is None:
            return
        t = self.within(case, 0.1, 1.2 if r() < 0.93 else 3, t)
        if r() < 0.02:
            self.act(case, "void", a.leader, t, reason="信息不全，无法立案")
            return
        urgent = r() < 0.08 and len(case.category.urgency_levels) > 1
        urgency = case.category.urgency_levels[1 if urgent and case.category.urgency_levels[0]["code"] != "urgent" else 0]["code"]
        case = self.act(case, "register", a.leader, t, urgency=urgency)
        if case is None:
            return
        t = self.within(case, 0.1, 1.2 if r() < 0.92 else 3, t)
        if r() < 0.03:
            t_sup = t
            t = t + self.minutes(1, 10)
            case = self.act(case, "supervise", a.leader, t_sup, note="请相关部门尽快处置") or case
        right = case.category.default_department.code if case.category.default_department else "enforcement"
        wrong = r() < 0.05
        dept = self.rng.choice([d for d in a.handlers if d != right]) if wrong else right
        case = self.act(case, "dispatch", a.dispatcher, t, department=dept)
        if case is None:
            return
        if wrong:
            t = t + self.minutes(10, 120)
            case = self.act(case, "return", a.handlers[dept], t, reason="不属于本部门职责")
            if case is None:
                return
            t = self.within(case, 0.1, 1.0, t)
            case = self.act(case, "dispatch", a.dispatcher, t, department=right)
            if case is None:
                return
        for attempt in range(3):
            case, t = self._dispose(case, t, attempt)
            if case is None:
                return
            inspector = case.assignee or self.rng.choice(a.inspectors)
            t = self.within(case, 0.2, 1.2 if r() < 0.9 else 2.5, t)
            if r() < 0.07 and attempt < 2:
                case = self.act(case, "check_failed", inspector, t, reason="处置不到位，需返工")
                if case is None:
                    return
                continue
            case = self.act(case, "check_passed", inspector, t)
            break
        if case is None or case.state != "checked":
            return
        t = self.within(case, 0.1, 1.3, t)
        special = r()
        kw = {"close_type": "error"} if special < 0.01 else {"close_type": "special"} if special < 0.02 else {}
        self.act(case, "close", a.leader, t, **kw)

    def _dispose(self, case: Case, t: dt.datetime, attempt: int):
        r, a = self.rng.random, self.a
        handler = a.handlers.get(case.department.code)
        start = t
        if attempt == 0 and r() < 0.04:
            t = t + self.minutes(30, 240)
            case = self.act(case, "request_extension", handler, t, reason="需采购材料", working_days=self.rng.randint(1, 3))
            if case is None:
                return None, t
            t = t + self.minutes(10, 90)
            approve = r() < 0.75
            case = self.act(case, "approve_extension" if approve else "deny_extension", a.dispatcher, t,
                            **({} if approve else {"reason": "时限内可完成"}))
            if case is None:
                return None, t
        elif attempt == 0 and r() < 0.02:
            t = t + self.minutes(30, 240)
            case = self.act(case, "request_suspend", handler, t, reason="涉及产权纠纷，需协调")
            if case is None:
                return None, t
            case = self.act(case, "approve_suspend", a.dispatcher, t + self.minutes(10, 60))
            if case is None:
                return None, t
            t = t + dt.timedelta(days=self.rng.uniform(1, 6))
            case = self.act(case, "resume", a.dispatcher, t, note="协调完毕，恢复办理")
            if case is None:
                return None, t
            start = t
        late = r() < 0.12
        t = max(t, self.within(case, 0.15, 0.95, start) if not late else self.within(case, 1.05, 2.5, start))
        case = self.act(case, "dispose", handler, t, result="已按要求处置完毕")
        return case, t

    def second_report(self, original: Case, created: dt.datetime) -> dt.datetime | None:
        """A citizen reports the same problem minutes later; the operator merges it into the first report.

        Returns the merge time (the original's work starts after it), or None if nothing was merged.
        """
        rng, at = self.rng, created + self.minutes(1, 5)
        if at > self.now:
            return None
        hotline = rng.random() < 0.5
        loc = Point(original.location.x + rng.uniform(-0.0001, 0.0001),
                    original.location.y + rng.uniform(-0.0001, 0.0001), srid=4490)
        try:
            dup = create_case(source="hotline" if hotline else "public", category_code=original.category, location=loc,
                              description=original.description, reporter=self.a.operator if hotline else None, at=at)
        except ValidationError:
            return None
        t = at + self.minutes(1, 8)
        if self._merge(dup, t) is None:
            return t
        self.run(dup, at)
        return None

    def _merge(self, case: Case, t: dt.datetime) -> Case | None:
        """Merge `case` into an earlier open case of the same class nearby if one is flagged; else go on."""
        if not getattr(case, "duplicate_candidates", None):
            return case
        original_id = case.duplicate_candidates[0][0]
        merged = self.act(case, "merge", self.a.operator, t, into=str(original_id), note="重复上报，合并")
        return None if merged else case


def run(ctx) -> None:
    actors = _actors()
    cells = list(Cell.objects.filter(valid_to__isnull=True).only("id", "geom"))
    if actors is None or not cells or not Category.objects.exists():
        print("[demo] history: needs accounts, grid cells and categories — skipped")
        return
    rng = ctx.rng("history")
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    now = timezone.now()
    cats = {(c.kind, c.code): c for c in Category.objects.filter(active=True)}
    events = [(c, w) for c, w in EVENT_WEIGHTS if (CategoryKind.EVENT, c) in cats]
    components = [(c, w) for c, w in COMPONENT_WEIGHTS if (CategoryKind.COMPONENT, c) in cats]
    sim = Sim(rng, actors, now)
    ensure_partitions(today - dt.timedelta(days=ctx.history_days))  # the months the history spans, partitioned
    total = ctx.history_days * ctx.cases_per_day
    bar = tqdm(total=total, desc="案卷历史", unit="件", disable=not ctx.progress)
    skipped, done = 0, 0
    recent: list[Case] = []  # recent cases a second reporter may report again (duplicates to merge)
    with batch() as store:
        for day_index in range(ctx.history_days, 0, -1):
            day = today - dt.timedelta(days=day_index - 1)
            volume = ctx.cases_per_day if calendar.is_workday(day) else int(ctx.cases_per_day * 0.6)
            times = sorted(_creation_time(rng, day, tz) for _ in range(volume))
            for created in times:
                bar.update(1)
                if created > now:
                    continue
                source = _weighted(rng, SOURCES)
                if recent and rng.random() < 0.04:  # a second report of a problem seen minutes ago
                    orig = rng.choice(recent[-20:])
                    dx, dy = rng.uniform(-0.0002, 0.0002), rng.uniform(-0.0002, 0.0002)
                    location = Point(orig.location.x + dx, orig.location.y + dy, srid=4490)
                    category, cell_id = orig.category, orig.cell_id
                    source = "public" if source == "self_handled" else source
                else:
                    cell = rng.choice(cells)
                    location, cell_id = _random_point(rng, cell), cell.pk
                    tree = (CategoryKind.EVENT, events) if rng.random() < 0.8 else (CategoryKind.COMPONENT, components)
                    category = cats[(tree[0], _weighted(rng, tree[1]))]
                reporter = None
                if source in ("inspector", "self_handled"):
                    reporter = actors.by_cell.get(cell_id) or rng.choice(actors.inspectors)
                elif source == "hotline":
                    reporter = actors.operator
                try:
                    case = create_case(
                        source=source, category_code=category, location=location, reporter=reporter, at=created,
                        description=DESCRIPTIONS.get(category.code, "市民反映的城市管理问题"),
                        observed_at=created - dt.timedelta(minutes=rng.randint(0, 30)))
                except ValidationError as exc:  # a re-report may fall just outside the managed area: skip it
                    if "location" in getattr(exc, "message_dict", {}):
                        skipped += 1
                        continue
                    raise
                recent.append(case)
                recent[:] = recent[-50:]
                start = created
                if case.state in ("reported", "pending_verification") and rng.random() < 0.03:
                    start = sim.second_report(case, created) or created
                sim.run(case, start)
                done += 1
                if done % 250 == 0:
                    store.forget()
    bar.close()
    from layers.models import Layer
    from layers.registry import refresh_stats

    for layer in Layer.objects.filter(name__in=["cases.open", "cases.closed"]):
        refresh_stats(layer)
    if ctx.progress:
        print(f"[demo] history: {Case.objects.count()} cases ({skipped} outside the area skipped); "
              f"actions {dict(sorted(sim.counts.items()))}")
