"""Every field-API and Open311 endpoint × every role → the expected HTTP status (table-driven).

The case used is a public report in the test cell, verified by inspector1 (its cell inspector), accepted,
registered and dispatched to sanitation, with one photo: "handler_own" is sanitation's handler,
"handler_other" the land department's.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile

from city_gis.accounts.models import User
from city_gis.cases import services, workflow
from city_gis.cases.models import CaseAttachment

from .conftest import make_jpeg

pytestmark = pytest.mark.django_db

ROLES = {
    "anonymous": None, "inspector": "inspector1", "operator": "operator", "leader": "leader",
    "dispatcher": "dispatcher", "handler_own": "dept_sanitation", "handler_other": "dept_land",
    "planner": "planner", "leader_view": "leader_view", "admin": "admin",
}
ALL = dict.fromkeys(ROLES, 200)


def only(ok: int, who: set[str], others: int = 403, anonymous: int = 401) -> dict[str, int]:
    return {r: (anonymous if r == "anonymous" else ok if r in who else others) for r in ROLES}


# Who may see the dispatched case: the centre's roles, its department, its assigned inspector.
SEES_CASE = only(200, set(ROLES) - {"handler_other", "planner"}, others=404)
NOT_SEEN = {"handler_other": 404, "planner": 404}

# name: (method, url template, body builder, expected status per role)
MATRIX = {
    "token_delete": ("delete", "/api/v1/auth/token/", None, only(204, set(ROLES))),
    "reports_create": ("post", "/api/v1/reports/", "report", only(201, {"inspector", "admin"})),
    "tasks_list": ("get", "/api/v1/tasks/", None, only(200, {"inspector", "handler_own", "handler_other", "admin"})),
    "tasks_complete_dispose": (
        "post", "/api/v1/tasks/{case}/complete/", "dispose",
        # inspector1 sees the case (assignee) but may not dispose; handler_other does not see it at all.
        {**only(200, {"handler_own", "admin"}), "handler_other": 404},
    ),
    "sync": ("get", "/api/v1/sync/", None, only(200, set(ROLES))),
    "case_photo": ("get", "/api/v1/cases/{case}/photos/{photo}/", None, SEES_CASE),
    # The urban core's case endpoints (city_gis.cases), checked here for the same roles.
    "cases_list": ("get", "/api/v1/cases/", None, only(200, set(ROLES))),
    "cases_create": ("post", "/api/v1/cases/", "hotline", only(201, {"operator", "admin"})),
    "case_detail": ("get", "/api/v1/cases/{case}/", None, SEES_CASE),
    "case_allowed_actions": ("get", "/api/v1/cases/{case}/allowed_actions/", None, SEES_CASE),
    "case_transition_dispose": (
        "post", "/api/v1/cases/{case}/transitions/", "dispose", {**only(200, {"handler_own", "admin"}), **NOT_SEEN}),
    "open311_discovery": ("get", "/open311/v2/discovery.json", None, ALL),
    "open311_services": ("get", "/open311/v2/services.xml", None, ALL),
    "open311_service": ("get", "/open311/v2/services/0102.json", None, ALL),
    "open311_requests": ("get", "/open311/v2/requests.json", None, ALL),
    "open311_request": ("get", "/open311/v2/requests/{number}.xml", None, ALL),
    # Without an API key, nobody may post — whatever their session or token.
    "open311_post_without_key": ("post", "/open311/v2/requests.json", "open311", dict.fromkeys(ROLES, 403)),
}


@pytest.fixture
def dispatched_case(field_area):
    case = services.create_case(source="public", category_code="0102", description="权限测试",
                                location=Point(field_area["lon"], field_area["lat"], srid=4490), reporter=None)
    for action, username, extra in [("verify_confirmed", "inspector1", {}), ("accept", "operator", {}),
                                    ("register", "leader", {}), ("dispatch", "dispatcher", {"department": "sanitation"})]:
        case = workflow.perform(case, action, User.objects.get(username=username), **extra)
    photo = CaseAttachment(case=case)
    photo.image.save("p.jpg", ContentFile(make_jpeg()), save=False)
    photo.save()
    return case, photo


def build_body(kind, area):
    if kind == "report":
        return {"client_uuid": str(uuid.uuid4()), "category": "0102", "description": "权限测试",
                "location": {"type": "Point", "coordinates": [area["lon"], area["lat"]]}}
    if kind == "dispose":
        return {"action": "dispose", "result": "已处置"}
    if kind == "hotline":
        return {"source": "hotline", "category_code": "0102", "lon": area["lon"], "lat": area["lat"],
                "description": "热线来电"}
    if kind == "open311":
        return {"service_code": "0102", "lat": area["lat"], "long": area["lon"], "description": "x"}
    return None


CASES = [(name, role) for name in MATRIX for role in ROLES]


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[f"{e}-{r}" for e, r in CASES])
def test_authorization_matrix(client_as, dispatched_case, field_area, endpoint, role):
    method, template, body_kind, expected = MATRIX[endpoint]
    case, photo = dispatched_case
    url = template.format(case=case.pk, photo=photo.pk, number=case.number)
    client = client_as(ROLES[role])
    body = build_body(body_kind, field_area)
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    assert response.status_code == expected[role], response.content[:300]


def test_matrix_covers_every_route_of_this_app():
    from django.urls import get_resolver

    from field_app_api import open311_urls, urls

    names = {p.name for p in urls.urlpatterns} | {p.name for p in open311_urls.urlpatterns}
    covered = {"auth-token", "field-reports", "field-tasks", "field-task-complete", "field-sync", "field-case-photo"} | {
        f"open311-{r}-{fmt}" for r in ("discovery", "services", "service", "requests", "request") for fmt in ("json", "xml")}
    assert names == covered
    assert get_resolver()  # the project URLconf loads with them
