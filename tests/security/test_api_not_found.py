"""A path no URL pattern accepts answers in the API's own error format under /api/ and /open311/; pages keep
Django's HTML 404/400 (city_gis/api_errors.py, wired as handler404/handler400 in city_gis/urls.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

JSON, XML, HTML = "application/json", "text/xml", "text/html"

NOT_FOUND = [
    # path, media type, body shape
    ("/api/v1/cases/1/no-such-action/", JSON, "detail"),
    ("/api/v1/cases/1/photos/not-an-id/", JSON, "detail"),
    ("/api/v1/layers/bad!name/export/", JSON, "detail"),
    ("/api/v1/no-such-resource/", JSON, "detail"),
    ("/open311/v2/requests/bad!id.json", JSON, "open311"),
    ("/open311/v2/services/" + "x" * 21 + ".json", JSON, "open311"),
    ("/open311/v2/no-such-resource", JSON, "open311"),
    ("/open311/v2/requests/bad!id.xml", XML, "open311-xml"),
    ("/no-such-page/", HTML, "html"),
    ("/apixyz/", HTML, "html"),  # the prefix is /api/, not any path starting with "api"
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "media", "shape"), NOT_FOUND)
def test_an_unmatched_path_answers_404_in_the_format_of_its_api(client, path, media, shape):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].split(";")[0] == media
    body = response.content.decode()
    if shape == "detail":
        assert set(json.loads(body)) == {"detail"}
    elif shape == "open311":
        [error] = json.loads(body)
        assert error["code"] == 404 and error["description"]
    elif shape == "open311-xml":
        root = ET.fromstring(response.content)
        assert root.tag == "errors" and root.findtext("error/code") == "404"
    else:
        assert "<html" in body.lower() or "<!doctype" in body.lower() or "Not Found" in body


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "media"), [
    ("/api/v1/grid/lookup/", JSON),
    ("/open311/v2/services.json", JSON),
    ("/", HTML),
])
def test_a_request_django_refuses_itself_answers_400_in_the_format_of_its_api(client, path, media):
    """A Host outside ALLOWED_HOSTS is refused by Django before any view (SuspiciousOperation → handler400)."""
    response = client.get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].split(";")[0] == media
