"""Every operation of /api/schema/, exercised as every demo role, never answers 5xx.

Three sources of requests per operation and role, all built by schemathesis from the OpenAPI document the app
serves: values that broke this API before (NUL, 64-bit overflow, NaN, impossible dates) in each query parameter;
schemathesis' deterministic boundary cases (coverage phase: empty, wrong type, out of range, duplicate
parameters, unexpected methods); and Hypothesis-generated valid and invalid requests. Path parameters are drawn
both at random and from real rows the role can and cannot see, so requests get past the 404s.

Each request is sent in-process through the WSGI app (no network) inside a savepoint rolled back afterwards:
the demo city is the same for every request and for the tests that run after this one.

Bounded and reproducible: CITYGIS_FUZZ_MAX_COVERAGE boundary cases and CITYGIS_FUZZ_MAX_EXAMPLES generated
ones per operation and role; derandomised Hypothesis (the same inputs on every run). Every 5xx of a run is
collected and reported at once, with the request (curl) and the server's traceback.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from tests.security.conftest import ROLE_USERS

MAX_EXAMPLES = int(os.environ.get("CITYGIS_FUZZ_MAX_EXAMPLES", "10"))
# Values that broke this API before, by the parameter's schema format/type (tried once per query parameter).
HOSTILE_VALUES = {
    "string": ["a\x00b"],
    "date": ["2026-02-30", "9999-12-31", "a\x00b"],
    "date-time": ["2026-02-30T00:00:00Z", "9999-12-31T23:59:59+14:00", "a\x00b"],
    "integer": ["99999999999999999999", "-99999999999999999999"],
    "number": ["nan", "-inf", "1e400"],
}
# Deterministic boundary cases per operation and role (schemathesis' coverage phase), sampled evenly.
MAX_COVERAGE = int(os.environ.get("CITYGIS_FUZZ_MAX_COVERAGE", "20"))
# Answers the schema does not describe: "strict" (default: fail), "report" (printed with -s, one warning, to
# relax it locally), "off".
CONFORMANCE_MODE = os.environ.get("CITYGIS_FUZZ_CONFORMANCE", "strict")
# Cheap checks that the answer is the one the schema documents (status, media type, body).
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# Real values per path parameter, so generated requests reach the code behind the 404 (a few of each kind).
REAL_SAMPLES = 4


@dataclass
class Finding:
    """One distinct server error: the operation, the role, the first request that raised it, the traceback."""

    operation: str
    role: str
    status: int
    curl: str
    traceback: str
    count: int = 1

    def __str__(self) -> str:
        return f"[{self.role}] {self.operation} → {self.status} (×{self.count})\n  {self.curl}\n{self.traceback}"


@dataclass
class Run:
    operations: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # per operation
    findings: dict[tuple, Finding] = field(default_factory=dict)
    # (operation, check title, status) → first message: answers the schema does not describe.
    nonconforming: dict[tuple, str] = field(default_factory=dict)


def real_path_parameters(username: str | None) -> dict[str, list[dict[str, object]]]:
    """Existing objects for each path template's parameters (keys are schema paths).

    Cases are the role's own (visible ones in a few workflow stages, its open tasks) plus one it may not see,
    so both the allowed path and the refusal are exercised.
    """
    from city_gis.accounts.models import User
    from city_gis.cases.access import visible_cases
    from city_gis.cases.models import Case, CaseAttachment, Category, State
    from city_gis.hazards.models import Alert, AreaWarning, Device
    from field_app_api.domain import task_cases
    from layers.models import Job, Layer

    user = User.objects.get(username=username) if username else None
    everyone = Case.objects.order_by("-pk")
    mine = visible_cases(user, everyone) if user else everyone
    cases = [c for c in (mine.filter(state=state).first() for state in
                         (State.PENDING_VERIFICATION, State.DISPATCHED, State.DISPOSED, State.CLOSED)) if c]
    if user:
        cases += list(task_cases(user).order_by("-pk")[:2]) + list(everyone.exclude(pk__in=mine.values("pk"))[:1])
    layers = [{"name": n} for n in Layer.objects.order_by("name").values_list("name", flat=True)[:REAL_SAMPLES]]
    photos = [{"case_id": a.case_id, "id": a.pk} for a in CaseAttachment.objects.order_by("-pk")[:REAL_SAMPLES]]
    codes = [{"code": c} for c in Category.objects.order_by("code").values_list("code", flat=True)[:REAL_SAMPLES]]
    by_id = [{"id": c.pk} for c in cases]
    by_number = [{"request_id": c.number} for c in cases]
    devices = [{"code": d} for d in Device.objects.order_by("code").values_list("code", flat=True)[:REAL_SAMPLES]]
    alerts = [{"id": a} for a in Alert.objects.order_by("-pk").values_list("pk", flat=True)[:REAL_SAMPLES]]
    warnings = [{"id": w} for w in AreaWarning.objects.order_by("-pk").values_list("pk", flat=True)[:REAL_SAMPLES]]
    jobs = [{"id": j} for j in Job.objects.order_by("-pk").values_list("pk", flat=True)[:REAL_SAMPLES]]
    return {
        "/api/v1/cases/{id}/": by_id,
        "/api/v1/cases/{id}/allowed_actions/": by_id,
        "/api/v1/cases/{id}/transitions/": by_id,
        "/api/v1/tasks/{id}/complete/": by_id,
        "/api/v1/cases/{case_id}/photos/{id}/": photos,
        "/api/v1/layers/{name}/": layers,
        "/api/v1/layers/{name}/export/": layers,
        "/api/v1/layers/{name}/features/": layers,
        "/api/v1/layers/{name}/import/": layers,
        "/api/v1/hazards/devices/{code}/": devices,
        "/api/v1/hazards/devices/{code}/readings/": devices,
        "/api/v1/hazards/alerts/{id}/": alerts,
        "/api/v1/hazards/alerts/{id}/acknowledge/": alerts,
        "/api/v1/hazards/alerts/{id}/evacuation-plan/": alerts,
        "/api/v1/hazards/warnings/{id}/": warnings,
        "/api/v1/hazards/warnings/{id}/cancel/": warnings,
        "/api/v1/jobs/{id}/": jobs,
        "/api/v1/jobs/{id}/cancel/": jobs,
        "/open311/v2/requests/{request_id}.json": by_number,
        "/open311/v2/requests/{request_id}.xml": by_number,
        "/open311/v2/services/{code}.json": codes,
        "/open311/v2/services/{code}.xml": codes,
    }


def case_strategy(operation, real: list[dict[str, object]]):
    """Valid and invalid requests for `operation`, with random and with real path parameters."""
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(mode))
        if real:
            strategies.append(
                st.sampled_from(real).flatmap(lambda p, m=mode: operation.as_strategy(m, path_parameters=p))
            )
    return st.one_of(strategies)


def coverage_cases(operation, real: list[dict[str, object]], limit: int) -> list:
    """Schemathesis' deterministic boundary cases (empty, huge, wrong type, NUL, duplicates…), at most `limit`.

    Spread evenly over the whole list when capped, so every parameter keeps its share; every other case gets
    real path parameters, so the boundary values reach the code behind the 404.
    """
    schema = operation.schema
    cases = list(schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                            generation_config=schema.config.generation_for(operation=operation)))
    if len(cases) > limit:
        cases = [cases[i * len(cases) // limit] for i in range(limit)]
    for i, case in enumerate(cases):
        if real and i % 2 and case.path_parameters:
            case.path_parameters = {**case.path_parameters, **real[i // 2 % len(real)]}
    return cases


def hostile_cases(operation, real: list[dict[str, object]]) -> list:
    """One request per query parameter and per value class that broke this API before (issue 9, item 15):
    NUL bytes, integers past 64 bits, NaN, impossible and far-future dates. Path parameters are real ones."""
    path = dict(real[0]) if real else None
    if path is None and operation.path_parameters:
        return []  # random path values would only ever meet the 404
    cases = []
    for param in operation.query:
        schema = param.definition.get("schema", {})
        for value in HOSTILE_VALUES.get(schema.get("format"), HOSTILE_VALUES.get(schema.get("type"), ())):
            cases.append(operation.Case(query={param.name: value}, path_parameters=path))
    return cases


def fuzz_operation(operation, role: str, headers: dict[str, str], real, server_errors: list[str], run: Run,
                   examples: int = MAX_EXAMPLES, coverage: int = MAX_COVERAGE) -> None:
    """Send `coverage` boundary cases and `examples` generated requests for one operation, each rolled back;
    record every 5xx (and every answer the schema does not describe) in `run`."""
    from django.core.cache import cache
    from django.db import transaction

    def exercise(case) -> None:
        cache.clear()  # rate-limit counters would otherwise turn most examples into 429s
        del server_errors[:]
        with transaction.atomic():
            response = case.call(headers=headers)
            transaction.set_rollback(True)
        run.requests += 1
        run.statuses[operation.label][response.status_code] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
        except FailureGroup:  # recorded, and the run goes on: one run reports every 5xx at once
            tb = server_errors[-1] if server_errors else response.text[:500]
            where = tb.strip().splitlines()[-3:] if server_errors else [response.text[:200]]
            key = (operation.label, response.status_code, tuple(where))
            if key in run.findings:
                run.findings[key].count += 1
            else:
                run.findings[key] = Finding(operation.label, role, response.status_code,
                                            case.as_curl_command(headers=headers), tb)
        if CONFORMANCE_MODE == "off":
            return
        try:
            case.validate_response(response, checks=CONFORMANCE, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                run.nonconforming.setdefault((operation.label, failure.title, response.status_code),
                                             failure.message[:300])

    for case in hostile_cases(operation, real) + (coverage_cases(operation, real, coverage) if coverage else []):
        exercise(case)
    if examples:
        settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))(
            given(case=case_strategy(operation, real))(exercise))()


@pytest.fixture
def api_schema(wsgi_app):
    """The schema the app serves, bound to the in-process WSGI app."""
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)


def test_schema_lists_operations_of_every_api(api_schema):
    """The fuzzer sees the whole API, not one app's part of it (a broken include would silently shrink it)."""
    labels = {r.ok().label for r in api_schema.get_all_operations()}
    for expected in ["POST /api/v1/auth/token/", "GET /api/v1/cases/", "POST /api/v1/cases/{id}/transitions/",
                     "GET /api/v1/evaluation/", "GET /api/v1/grid/lookup/", "POST /api/v1/layers/",
                     "GET /api/v1/layers/{name}/features/", "POST /api/v1/reports/", "GET /open311/v2/requests.json"]:
        assert expected in labels
    assert len(labels) >= 30



def test_every_operation_documents_the_common_error_answers(wsgi_app):
    """city_gis/api_schema.py adds what a view does not document itself; a view's own answers stay."""
    from werkzeug.test import Client

    from city_gis.api_schema import _COMMON

    paths = Client(wsgi_app).get("/api/schema/?format=json").json["paths"]
    responses = {(path, method): op["responses"] for path, item in paths.items() for method, op in item.items()}
    for (path, method), codes in [
        (("/api/v1/cases/{id}/", "get"), {"200", "400", "401", "403", "404", "429", "503"}),
        (("/api/v1/layers/", "get"), {"200", "400", "429", "503"}),  # anonymous allowed: no 401/403
        (("/open311/v2/services.xml", "get"), {"200", "429", "503"}),
    ]:
        assert set(responses[path, method]) == codes, (path, method)
    assert "text/xml" in responses["/open311/v2/services.xml", "get"]["503"]["content"]
    assert responses["/api/v1/reports/", "post"]["400"]["description"] != _COMMON["400"]

def _schema_of(wsgi_app) -> dict:
    from werkzeug.test import Client

    return Client(wsgi_app).get("/api/schema/?format=json").json


def _parameter(operation: dict, name: str) -> dict:
    [param] = [p for p in operation["parameters"] if p["name"] == name]
    return param["schema"]


def test_the_schema_documents_the_answers_the_views_give(wsgi_app):
    """The gaps conformance found (issue 9): bounds, enums, nullable fields, list/collection shapes, media types."""
    doc = _schema_of(wsgi_app)
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    grid = paths["/api/v1/grid/lookup/"]["get"]
    assert {n: (_parameter(grid, n)["minimum"], _parameter(grid, n)["maximum"]) for n in ("lon", "lat")} == {
        "lon": (-180, 180), "lat": (-90, 90)}
    allowed = paths["/api/v1/cases/{id}/allowed_actions/"]["get"]["responses"]["200"]["content"]
    assert allowed["application/json"]["schema"]["type"] == "array"  # not paginated
    listing = paths["/api/v1/cases/"]["get"]["responses"]["200"]["content"]
    assert listing["application/json"]["schema"]["$ref"].endswith("/PaginatedCaseListList")
    assert listing["application/geo+json"]["schema"]["$ref"].endswith("/CaseFeatureCollection")
    for component, name in [("CaseList", "department"), ("CaseList", "department_name"),
                            ("CaseDetail", "assignee"), ("History", "department")]:
        assert schemas[component]["properties"][name].get("nullable") is True, (component, name)
    tree = paths["/api/v1/categories/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert tree["items"]["$ref"].endswith("/CategoryGroup")
    export = paths["/api/v1/layers/{name}/export/"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/geopackage+sqlite3", "application/geo+json", "application/zip", "text/csv"}
    for path, code in [("/open311/v2/requests.json", "400"), ("/open311/v2/requests/{request_id}.json", "404"),
                       ("/open311/v2/services/{code}.json", "404")]:
        assert paths[path]["get"]["responses"][code]["content"]["application/json"]["schema"]["type"] == "array"


@pytest.mark.parametrize(("value", "valid"), [
    ("2026", True), ("2026-Q4", True), ("2026-w44", True), ("2026-10", True), ("2026-10-05", True),
    ("2026-Q5", False), ("26-10", False), ("2026/10", False), ("", False), ("2026-10-05T00:00", False),
])
def test_the_documented_period_pattern_is_the_parser_s(value, valid):
    """Built from city_gis.evaluation.periods' own table: a value matches it exactly when the parser reads its
    shape (the year range and calendar are checked by the view, a documented 400)."""
    import re

    from city_gis.evaluation.api import INDICATORS, PERIOD_PATTERN
    from city_gis.evaluation.indicators import LEVELS

    assert bool(re.match(PERIOD_PATTERN, value)) is valid
    assert set(INDICATORS) == {name for level in LEVELS.values() for name in level.indicators}


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_fuzzing_every_operation_never_yields_a_server_error(role, api_schema, role_headers, server_errors):
    from rest_framework.authtoken.models import Token

    from city_gis.cases.models import Case
    from layers.models import Layer

    headers = role_headers(role)
    before = (Case.objects.count(), Layer.objects.count(), Token.objects.count())
    real = real_path_parameters(ROLE_USERS[role])
    run = Run()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in METHODS:
            continue
        fuzz_operation(operation, role, headers, real.get(operation.path, []), server_errors, run)
        run.operations.append(operation.label)

    assert len(run.operations) >= 30
    assert run.requests >= len(run.operations)  # every operation was actually called
    # Every example was rolled back: the demo city the later tests rely on is unchanged.
    assert (Case.objects.count(), Layer.objects.count(), Token.objects.count()) == before
    print(f"\nfuzz as {role}: {len(run.operations)} operations, {run.requests} requests, "
          f"statuses {sorted(sum(run.statuses.values(), Counter()).items())}")
    for label, counts in run.statuses.items():  # shown with -s: where the fuzzer never got past validation
        print(f"  {label}: {dict(sorted(counts.items()))}")
    for (label, title, status), message in sorted(run.nonconforming.items()):
        print(f"  NONCONFORMING {label} [{status}] {title}: {message[:160]!r}")
    findings = sorted(run.findings.values(), key=lambda f: f.operation)
    assert not findings, f"{len(findings)} distinct server errors as {role}:\n\n" + "\n\n".join(map(str, findings))
    if run.nonconforming:
        summary = "\n".join(f"{label} [{status}] {title}" for label, title, status in sorted(run.nonconforming))
        assert CONFORMANCE_MODE != "strict", f"answers the schema does not describe, as {role}:\n{summary}"
        warnings.warn(f"{len(run.nonconforming)} answers the schema does not describe, as {role} "
                      "(CITYGIS_FUZZ_CONFORMANCE=strict fails on them; -s lists them)", stacklevel=1)


def test_the_fuzzer_reports_a_server_error_with_its_traceback(api_schema, role_headers, server_errors, monkeypatch):
    """The harness itself can fail: a view that raises is found, reported once with the server's traceback."""
    from city_gis.grid.views import GridLookupView

    def broken(self, request):
        raise ZeroDivisionError("planted by the fuzz test")

    monkeypatch.setattr(GridLookupView, "get", broken)
    run = Run()
    fuzz_operation(api_schema["/api/v1/grid/lookup/"]["GET"], "admin", role_headers("admin"), [], server_errors,
                   run, examples=5, coverage=0)
    hostile = 2 * len(HOSTILE_VALUES["number"])  # lon and lat
    assert run.requests == hostile + 5
    [finding] = run.findings.values()
    assert (finding.operation, finding.status, finding.count) == ("GET /api/v1/grid/lookup/", 500, hostile + 5)
    assert "ZeroDivisionError: planted by the fuzz test" in finding.traceback
    assert "/api/v1/grid/lookup/" in finding.curl
