"""OpenAPI post-processing: every operation documents the error answers the whole API gives.

Views document their own success and domain errors (extend_schema). The answers every view can give for the
same reasons — bad input, no or refused credentials, no such object, throttled, database outage — are added
here once, where a view has not documented them itself, so clients and the fuzzer (tests/security) read an
accurate list of status codes.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "Error"
# status → description (when each is added: see document_error_answers)
_COMMON = {
    "400": "输入无效：响应体按字段（或 detail）说明原因 — invalid input, the body names the field(s)",
    "401": "未提供或无效的凭据 — missing, invalid or expired credentials",
    "403": "无权执行此操作 — the credentials do not allow this operation",
    "404": "对象不存在或不可见 — no such object, or not visible to the caller",
    "429": "请求过于频繁（见 Retry-After）— throttled, see Retry-After",
    "503": "数据库暂时不可用（见 Retry-After）— database unavailable, see Retry-After",
}
METHODS = ("get", "put", "post", "patch", "delete")


def _needs_credentials(operation: dict[str, Any]) -> bool:
    security = operation.get("security")
    return bool(security) and {} not in security


def _error_content(operation: dict[str, Any]) -> dict[str, Any]:
    # Errors are rendered like the operation's answers: JSON, plus its other JSON/XML media types (GeoJSON,
    # Open311 .xml); binary exports still answer errors in JSON.
    types = {t for code, r in operation.get("responses", {}).items() if code.startswith("2") for t in r.get("content", {})}
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for media in sorted(types):
        if media.endswith(("/xml", "+xml")):
            content[media] = {"schema": {"type": "string"}}
        elif media.endswith("+json"):
            content[media] = content["application/json"]
    return content


def _has_format_parameter(operation: dict[str, Any]) -> bool:
    # DRF answers 404 to an unknown ?format= (no such renderer).
    return any(p.get("in") == "query" and p.get("name") == "format" for p in operation.get("parameters", []))


def document_error_answers(result: dict[str, Any], generator=None, request=None, public=None) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add the common error responses an operation lacks."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(ERROR_SCHEMA, {
        "description": "DRF: {\"detail\": …} or {field: [messages]}; Open311: [{\"code\": …, \"description\": …}]",
        "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
    })
    for path, item in result.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            wanted = ["429", "503"]
            if operation.get("parameters") or operation.get("requestBody"):
                wanted.append("400")
            if _needs_credentials(operation):
                wanted += ["401", "403"]
            if "{" in path or _has_format_parameter(operation):
                wanted.append("404")
            responses = operation.setdefault("responses", {})
            for code in sorted(wanted):
                if code not in responses:
                    responses[code] = {"description": _COMMON[code], "content": _error_content(operation)}
    return result
