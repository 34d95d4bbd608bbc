"""OpenAPI 3 at /api/schema/ is valid and describes this app's operations (fuzzed in tests/security)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

# Fuzzing of every operation (this app's and all others') is one run: tests/security/test_api_fuzz.py.


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
