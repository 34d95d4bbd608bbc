"""Creating cases: validate the category, geocode, number, start the first stage, record history, flag duplicates."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from city_gis import prepared
from city_gis.accounts.models import Role, User
from city_gis.grid.geocode import OutsideManagedArea, geocode
from city_gis.grid.models import ResponsibilityArea
from city_gis.text_limits import DESCRIPTION_MAX_LENGTH, has_control_chars

from . import deadlines
from .models import TERMINAL_STATES, Case, Category, DuplicateLink, Source, State
from .workflow import current_backfill, record_creation

INITIAL_STATE = {
    Source.INSPECTOR: State.REPORTED,
    Source.PUBLIC: State.PENDING_VERIFICATION,
    Source.HOTLINE: State.PENDING_VERIFICATION,
    Source.OPEN311: State.PENDING_VERIFICATION,
    Source.SELF_HANDLED: State.SELF_HANDLED,
}


def duplicate_radius_m() -> float:
    """How near (metres) an open case of the same small class must be to flag a duplicate (settings)."""
    return float(settings.CITYGIS_DUPLICATE_RADIUS_M)


def duplicate_window() -> dt.timedelta:
    """How recent that case must be (settings.CITYGIS_DUPLICATE_WINDOW_HOURS)."""
    return dt.timedelta(hours=float(settings.CITYGIS_DUPLICATE_WINDOW_HOURS))


def find_category(code: str) -> Category:
    """The active category with small-class `code` (events first: 4-digit codes repeat across the trees).

    `code` may be prefixed with the kind ("event:0102", "component:0101") to disambiguate.
    """
    kind = None
    if ":" in code:
        kind, code = code.split(":", 1)
    qs = Category.objects.filter(code=code, active=True).select_related("default_department")
    if kind:
        qs = qs.filter(kind=kind)
    cat = qs.order_by("-kind").first()  # 'event' sorts after 'component': events win on a bare code
    if cat is None:
        raise ValidationError({"category_code": f"未知类别：{code}"})
    return cat


def _next_number(at: dt.datetime) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT nextval('cases_case_number_seq')")
        (serial,) = cur.fetchone()
    return f"{timezone.localtime(at).year}{serial:06d}"


def _responsible_inspector(cell_id: int | None) -> User | None:
    if cell_id is None:
        return None
    area = ResponsibilityArea.objects.filter(cells=cell_id).select_related("inspector").first()
    return area.inspector if area else None


_DUPLICATES_SQL = """
        SELECT c.id, ST_Distance(c.location::geography, %s::geography)
        FROM cases_case c
        WHERE c.category_id = %s AND c.id <> %s AND NOT (c.state = ANY(%s))
          AND c.created_at BETWEEN %s AND %s
          AND c.location && ST_Expand(%s::geometry, %s)
          AND ST_DWithin(c.location::geography, %s::geography, %s)
        ORDER BY 2
    """
_DUPLICATES_TYPES = ("text", "bigint", "bigint", "text[]", "timestamptz", "timestamptz", "text", "float8", "text",
                     "float8")


def find_duplicates(case: Case) -> list[tuple[int, float]]:
    """(id, distance m) of open cases of the same small class within the radius and time window before `case`."""
    radius = duplicate_radius_m()
    point = case.location.ewkt
    degrees = radius / 90000.0  # > radius in degrees at these latitudes; exact test follows on geography
    # Prepared per connection: planning this statement costs more than running it (every case creation runs it).
    with connection.cursor() as cur:
        cur.execute(prepared.statement(connection, cur, "citygis_duplicates", _DUPLICATES_SQL, _DUPLICATES_TYPES),
                    [point, case.category_id, case.pk, list(TERMINAL_STATES), case.created_at - duplicate_window(),
                     case.created_at, point, degrees, point, radius])
        return cur.fetchall()


def create_case(
    *,
    source: str,
    category_code: str | Category,
    location: Point,
    description: str,
    reporter: User | None,
    observed_at: dt.datetime | None = None,
    client_uuid: uuid.UUID | None = None,
    urgency: str | None = None,
    contact: dict | None = None,
    at: dt.datetime | None = None,
) -> Case:
    """Create a case (see docs/workflow.md). `at` is the creation time (default now; demo/backfill only).

    Raises ValidationError naming the field (source, category_code, location, description, urgency) or
    PermissionDenied when an inspector-only source is used by someone else.
    """
    if source not in Source.values:
        raise ValidationError({"source": f"未知来源：{source}"})
    if source in (Source.INSPECTOR, Source.SELF_HANDLED) and not (reporter and reporter.has_role(Role.INSPECTOR)):
        raise PermissionDenied("只有监督员可以上报或自处理案卷")
    if not description or not description.strip():
        raise ValidationError({"description": "问题描述为必填项"})
    if len(description) > DESCRIPTION_MAX_LENGTH or has_control_chars(description):
        # Every creation path (API, Open311, mobile page, console) passes here: one rule, before any query.
        raise ValidationError({"description": f"问题描述不超过 {DESCRIPTION_MAX_LENGTH} 个字符，且不能包含控制字符"})
    # A Category instance is accepted too (bulk backfill skips the lookup).
    category = category_code if isinstance(category_code, Category) else find_category(category_code)
    if urgency:
        category.urgency(urgency)
    if location is None:
        raise ValidationError({"location": "缺少位置"})
    if location.srid not in (None, 4490):
        location = location.transform(4490, clone=True)
    location = Point(location.x, location.y, srid=4490)
    try:
        g = geocode(location.x, location.y, address=True)  # the case keeps its address
    except OutsideManagedArea as exc:
        raise ValidationError({"location": str(exc)}) from None
    at = at or timezone.now()
    state = INITIAL_STATE[Source(source)]
    # No savepoint inside a caller's transaction (the report view's): nothing here is caught and retried, an
    # error aborts the caller's transaction anyway, and SAVEPOINT/RELEASE are two round trips per case.
    with transaction.atomic(savepoint=False):
        case = Case(
            number=_next_number(at), source=source, category=category, category_version=category.version,
            location=location, cell_id=g.cell_id, cell_code=g.cell_code, community_code=g.community_code,
            street_code=g.street_code, district_code=g.district_code, address=g.address[:200],
            description=description.strip(), urgency=urgency or "", contact=contact or {}, reporter=reporter,
            client_uuid=client_uuid, observed_at=observed_at or at, created_at=at, state=state, updated_at=at,
        )
        if state == State.PENDING_VERIFICATION:
            case.assignee = _responsible_inspector(g.cell_id)
        if state == State.SELF_HANDLED:
            case.closed_at = None
        case.category = category
        deadlines.start_stage(case, at)
        case.save(force_insert=True)
        case.last_seq = 0
        role = {Source.INSPECTOR: Role.INSPECTOR, Source.SELF_HANDLED: Role.INSPECTOR,
                Source.HOTLINE: Role.OPERATOR}.get(Source(source), "")
        record_creation(case, reporter, at, role=str(role.value) if role else "")
        dups = find_duplicates(case)
        if dups:
            DuplicateLink.objects.bulk_create(
                [DuplicateLink(case=case, original_id=pk, distance_m=dist, created_at=at) for pk, dist in dups]
            )
        case.duplicate_candidates = dups  # [(case id, distance m)] flagged just now
        case.geocoded = g  # the names of the areas too, for an answer that shows them without another query
        if (batch := current_backfill()) is not None:
            batch.instances[case.pk] = case
    return case
