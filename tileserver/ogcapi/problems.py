"""Errors of the OGC API as RFC 7807 problem documents (application/problem+json) naming the parameter."""

from __future__ import annotations

import json

from django.http import HttpResponse

PROBLEM_TYPE = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
           428: "Precondition Required", 429: "Too Many Requests", 503: "Service Unavailable"}


class Problem(Exception):
    """A request answered with a problem document; `parameter` names the query parameter at fault ("" if none)."""

    def __init__(self, status: int, detail: str, parameter: str = "", *, retry_after: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.parameter, self.retry_after = status, detail, parameter, retry_after
        self.headers = headers or {}  # e.g. the current ETag of a 412, a write's Token challenge


def problem_response(problem: Problem) -> HttpResponse:
    """The problem document of `problem`: {type, title, status, detail, parameter}; 401 carries the Basic
    challenge OGC clients (QGIS, GDAL) answer with their stored credentials."""
    body = {"type": "about:blank", "title": _TITLES.get(problem.status, "Error"), "status": problem.status,
            "detail": problem.detail}
    if problem.parameter:
        body["parameter"] = problem.parameter
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=problem.status,
                            content_type=PROBLEM_TYPE)
    if problem.status == 401:
        from tileserver.views import CHALLENGE

        response["WWW-Authenticate"] = CHALLENGE
    if problem.retry_after is not None:
        response["Retry-After"] = str(problem.retry_after)
    for name, value in problem.headers.items():
        response[name] = value
    return response
