"""OpenAPI 3 at /api/schema/ is valid, describes this app's operations, and fuzzing them never yields a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.django_db

# This app's operations; other apps fuzz their own.
MAX_EXAMPLES = 10
OWN_PATHS = r"^/(api/v1/(auth/token|reports|tasks|sync|cases/\{case_id\}/photos)|open311/v2/)"


@pytest.fixture
def api_schema(db):
    """The schema, called in-process through the WSGI app (inside the test's transaction)."""
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does: a finished request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).include(
            path_regex=OWN_PATHS
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def fuzz(api_schema, headers: dict) -> list[str]:
    """Run every operation with bounded generated examples; return the labels of those exercised."""
    from django.core.cache import cache

    seen = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case):
            cache.clear()  # rate limits would otherwise turn most examples into 429s
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        run()
        seen.append(operation.label)
    return seen


def test_schema_documents_every_operation_with_responses(client):
    doc = client.get("/api/schema/?format=json").json()
    ops = {(path, method) for path, item in doc["paths"].items() for method in item}
    for expected in [("/api/v1/auth/token/", "post"), ("/api/v1/auth/token/", "delete"), ("/api/v1/reports/", "post"),
                     ("/api/v1/tasks/", "get"), ("/api/v1/tasks/{id}/complete/", "post"), ("/api/v1/sync/", "get"),
                     ("/api/v1/cases/{case_id}/photos/{id}/", "get"), ("/open311/v2/requests.json", "post"), ("/open311/v2/requests.xml", "get"),
                     ("/open311/v2/services/{code}.xml", "get")]:
        assert expected in ops or (expected[0].replace("{id}", "{pk}"), expected[1]) in ops, expected
    report = doc["paths"]["/api/v1/reports/"]["post"]
    assert {"201", "200", "400", "409"} <= set(report["responses"])
    assert "multipart/form-data" in report["requestBody"]["content"]


def test_fuzzing_as_anonymous_never_yields_a_server_error(api_schema):
    seen = fuzz(api_schema, {})
    assert len(seen) >= 15


def test_fuzzing_as_admin_never_yields_a_server_error(api_schema):
    from rest_framework.authtoken.models import Token

    from city_gis.accounts.models import User

    token, _ = Token.objects.get_or_create(user=User.objects.get(username="admin"))
    fuzz(api_schema, {"Authorization": f"Token {token.key}"})
