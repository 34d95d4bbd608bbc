"""The one place that talks to the urban-management core (cases, categories, geocoding) for this app.

Django's ValidationError / PermissionDenied raised by the core are turned into DRF's (400 / 403) here,
IllegalTransition into 409, so the views only deal with DRF exceptions.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.core import exceptions as django_exc
from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Length
from django.utils.translation import gettext as _
from rest_framework import exceptions, status

from city_gis.accounts.models import Role, User
from city_gis.cases import access, services, workflow
from city_gis.cases.models import (
    OPEN_STATES,
    Case,
    CaseAttachment,
    CaseHistory,
    Category,
    CategoryKind,
    Source,
    State,
)
from city_gis.grid.models import Community, Street
from city_gis.hazards import patrols

from .photos import Photo, StoredFiles

# The other modules of this app reach the core's models only through this module (import-linter contract
# "field_app_api reaches the cases models only through field_app_api.domain"); these names are re-exported.
__all__ = ["Case", "CaseAttachment", "Source", "State"]

INSPECTOR_TASK_STATES = (State.PENDING_VERIFICATION, State.DISPOSED)
HANDLER_TASK_STATES = (State.DISPATCHED,)
TASK_KINDS = {State.PENDING_VERIFICATION: "verify", State.DISPOSED: "check", State.DISPATCHED: "dispose"}
# Which field role works the tasks of which states; the actions themselves are read off the workflow
# table (city_gis.cases.workflow.TABLE), which also drives perform(), the API and the buttons.
TASK_ROLES = {Role.INSPECTOR: INSPECTOR_TASK_STATES, Role.HANDLER: HANDLER_TASK_STATES}
TASK_ACTIONS: dict[str, tuple[str, ...]] = {
    state: tuple(a.name for a in workflow.TABLE if state in a.sources and role.value in a.roles)
    for role, states in TASK_ROLES.items() for state in states
}
REQUESTED_FIELD = "created_at"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("当前状态下不能执行该操作。")
    default_code = "conflict"


@contextmanager
def core_errors():
    """Translate the core's exceptions into DRF ones (400 naming the field, 403, 409)."""
    try:
        yield
    except django_exc.ValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise exceptions.ValidationError(detail) from None
    except django_exc.PermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc) or None) from None
    except workflow.IllegalTransition as exc:
        raise Conflict(str(exc)) from None


# --- categories --------------------------------------------------------------------------------------------
def category_ref(category: Category) -> str:
    """The code clients send: bare 4 digits for events; components carry their kind ("component:0101")
    because the two trees reuse the same 4-digit codes (see services.find_category)."""
    return category.code if category.kind == CategoryKind.EVENT else f"{category.kind}:{category.code}"


def categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("default_department").order_by("-kind", "code")


def get_category(ref: str) -> Category | None:
    try:
        return services.find_category(ref)
    except django_exc.ValidationError:
        return None


# --- visibility --------------------------------------------------------------------------------------------
def visible_cases(user: User) -> QuerySet[Case]:
    """Cases `user` may see — the urban core's rule (city_gis.cases.access), shared with /api/v1/cases/."""
    return access.visible_cases(user)


def task_cases(user: User) -> QuerySet[Case]:
    """Open tasks of `user`: inspectors' verifications and checks, handlers' dispatched cases."""
    cond = Q(pk__in=[])
    if Role.INSPECTOR in user.roles:
        mine = Q(assignee=user) | Q(assignee__isnull=True, cell__responsibility_areas__inspector=user)
        cond |= Q(state__in=INSPECTOR_TASK_STATES) & mine
    if Role.HANDLER in user.roles and user.department_id:
        cond |= Q(state__in=HANDLER_TASK_STATES, department_id=user.department_id)
    return Case.objects.filter(cond).distinct()


def reachable_cases(user: User) -> QuerySet[Case]:
    """Cases `user` may see or work on: visible_cases plus their tasks (completing a task, its photos)."""
    return Case.objects.filter(Q(pk__in=visible_cases(user).values("pk")) | Q(pk__in=task_cases(user).values("pk")))


def case_photo(user: User, case_id: int, pk: int) -> CaseAttachment | None:
    """Photo `pk` of case `case_id`, None unless `user` may reach the case."""
    return CaseAttachment.objects.filter(case__in=reachable_cases(user).values("pk"), case_id=case_id, pk=pk).first()


def task_deadline(case: Case) -> dt.datetime | None:
    """The deadline a task shows: the disposal deadline for handlers' cases, else the running stage's."""
    return case.disposal_deadline if case.state == State.DISPATCHED else case.stage_deadline


def nearest_first(qs: QuerySet[Case], lon: float, lat: float) -> QuerySet[Case]:
    here = Point(lon, lat, srid=4490)
    return qs.annotate(distance=Distance("location", here)).order_by("distance", "stage_deadline")


# --- reports -----------------------------------------------------------------------------------------------
def create_report(*, user: User, source: str, category: str | Category, location: Point, description: str,
                  observed_at: dt.datetime | None, client_uuid=None, contact: dict | None = None,
                  urgency: str | None = None) -> Case:
    """Create the case of a report; `category` is a reference or the Category get_category() found (no re-read)."""
    with core_errors():
        return services.create_case(
            source=source, category_code=category, location=location, description=description, reporter=user,
            observed_at=observed_at, client_uuid=client_uuid, contact=contact, urgency=urgency,
        )


def attach_photos(case: Case, photos: list[Photo], user: User | None, files: StoredFiles,
                  history: CaseHistory | None = None) -> list[CaseAttachment]:
    """Store re-encoded photos (EXIF stripped) and thumbnails; `files` deletes them if the transaction fails."""
    if photos and history is None:
        history = latest_history(case)
    out = []
    for p in photos:
        out.append(CaseAttachment.objects.create(
            case=case, history=history, image=files.save("photo", p.image), thumbnail=files.save("thumb", p.thumbnail),
            taken_at=p.taken_at, gps=p.gps, uploaded_by=user,
        ))
    return out


def geocode_of(case: Case) -> dict:
    geocoded = getattr(case, "geocoded", None)  # a case created just now carries its geocode (services.create_case)
    if geocoded is not None:
        community_name, street_name = geocoded.community_name, geocoded.street_name
    else:
        community = Community.objects.filter(code=case.community_code).select_related("street").only(
            "name", "street__name").first()
        community_name, street_name = (community.name, community.street.name) if community else ("", "")
    return {
        "cell": case.cell_code,
        "community": {"code": case.community_code, "name": community_name},
        "street": {"code": case.street_code, "name": street_name},
        "district": case.district_code,
        "address": case.address,
    }


def duplicates_of(case: Case) -> list[dict]:
    if getattr(case, "duplicate_candidates", None) == []:
        return []  # created just now and nothing was flagged: no links to read
    # Only the columns the answer shows (select_related of the whole original case costs more than the query).
    links = case.duplicate_links.order_by("distance_m").values_list(
        "original_id", "original__number", "original__state", "distance_m")
    return [{"id": pk, "number": number, "state": state, "distance_m": round(dist, 1)}
            for pk, number, state, dist in links]


# --- transitions -------------------------------------------------------------------------------------------
def perform(case: Case, action: str, user: User, fields: dict) -> Case:
    with core_errors():
        return workflow.perform(case, action, user, **fields)


PATROL_RESULTS = patrols.RESULTS


def patrol_task_ids(case_ids: list[int]) -> set[int]:
    """Which of these cases are geohazard patrol tasks (city_gis.hazards.patrols)."""
    return set(patrols.Patrol.objects.filter(case_id__in=case_ids).values_list("case_id", flat=True))


def complete_task(case: Case, action: str, user: User, fields: dict, patrol_result: str = "") -> Case:
    """perform(), except that a patrol task's result (normal / deformation / evacuate) goes to the alert's audit
    trail (city_gis.hazards.patrols.complete); other tasks refuse one. Without a result a patrol task takes the
    one its action stands for (verify_not_found → normal, verify_confirmed → deformation), so a client that
    only offers the workflow actions still completes it; `evacuate` must be chosen explicitly."""
    with core_errors():
        if patrols.patrol_of(case) is None:
            if patrol_result:
                raise django_exc.ValidationError({"patrol_result": _("只有地质灾害巡查任务有巡查结果。")})
            return workflow.perform(case, action, user, **fields)
        patrol_result = patrol_result or patrols.DEFAULT_RESULT.get(action, "")
        if not patrol_result:
            raise django_exc.ValidationError({"patrol_result": _("巡查任务必须选择巡查结果。")})
        note = fields.get("note") or fields.get("reason") or ""
        return patrols.complete(case, user, action, patrol_result, note)


def case_of_receipt(case_id: int) -> Case:
    """The case a report receipt points at (a retried report answers with it)."""
    return Case.objects.select_related("category").get(pk=case_id)


def client_uuid_taken(client_uuid) -> bool:
    """Whether some case (from any channel) already carries this client_uuid."""
    return Case.objects.filter(client_uuid=client_uuid).exists()


def latest_history(case: Case) -> CaseHistory | None:
    return case.history.order_by("-seq").first()


def allowed_action_names(case: Case, user: User) -> list[str]:
    return [a.name for a in workflow.allowed_actions(case, user)]


# --- Open311 -----------------------------------------------------------------------------------------------
def service_of(category: Category) -> dict:
    return {
        "service_code": category_ref(category),
        "service_name": category.name_zh,
        "description": category.register_condition or category.name_zh,
        "metadata": False,
        "type": "realtime",
        "keywords": category.name_en,
        "group": category.big_name_zh,
    }


def public_cases() -> QuerySet[Case]:
    """What Open311 publishes: every case except those merged into another (their survivor is listed)."""
    return Case.objects.exclude(state=State.MERGED).select_related("category", "department")


def number_in_lookup(ids: list[str]) -> dict:
    return {"number__in": [i.strip() for i in ids]}


def requested_between_lookup(start: dt.datetime, end: dt.datetime) -> dict:
    return {"created_at__gte": start, "created_at__lte": end}


def category_in_lookup(refs: list[str]) -> dict:
    return {"category__in": [c for c in (get_category(r) for r in refs) if c is not None]}


def filter_open311_status(qs: QuerySet[Case], status_: str) -> QuerySet[Case]:
    return qs.filter(state__in=list(OPEN_STATES)) if status_ == "open" else qs.exclude(state__in=list(OPEN_STATES))


def request_id(case: Case) -> str:
    return case.number


def service_requests(cases: list[Case]) -> list[dict]:
    """Open311 service requests: public fields only (no reporter, contact or internal notes)."""
    from .models import Open311Submission

    media = dict(Open311Submission.objects.filter(case_id__in=[c.pk for c in cases]).values_list("case_id", "media_url"))
    out = []
    for c in cases:
        out.append({
            "service_request_id": c.number,
            "status": "open" if c.state in OPEN_STATES else "closed",
            "status_notes": str(State(c.state).label),
            "service_name": c.category.name_zh,
            "service_code": category_ref(c.category),
            "description": c.description,
            "agency_responsible": c.department.name_zh if c.department_id else "",
            "service_notice": "",
            "requested_datetime": c.created_at.isoformat(),
            "updated_datetime": c.updated_at.isoformat(),
            "expected_datetime": c.disposal_deadline.isoformat() if c.disposal_deadline else None,
            "address": c.address,
            "address_id": c.cell_code,
            "zipcode": "",
            "lat": round(c.location.y, 7),
            "long": round(c.location.x, 7),
            "media_url": media.get(c.pk, ""),
        })
    return out


def locate(lat: float | None, lon: float | None, address: str) -> Point:
    """The report's point: lat/long (WGS84 ≈ CGCS2000), else a community or street named in the address."""
    if lat is not None and lon is not None:
        return Point(lon, lat, srid=4490)
    address = (address or "").strip()
    if address:
        for model in (Community, Street):
            # The unit whose name the address contains; the longest name wins ("荷城街道" over "荷城").
            unit = (model.objects.annotate(addr=Value(address, output_field=CharField()), n=Length("name"))
                    .filter(n__gt=1, addr__contains=F("name")).order_by("-n").only("geom").first())
            if unit is not None:
                return unit.geom.point_on_surface
    raise exceptions.ValidationError({"address_string": _("无法根据地址定位，请提供 lat/long。")})


def create_public_report(*, category: Category, location: Point, description: str, contact: dict) -> Case:
    with core_errors():
        return services.create_case(
            source=Source.OPEN311, category_code=category_ref(category), location=location,
            description=description or category.name_zh, reporter=None, contact=contact,
        )
