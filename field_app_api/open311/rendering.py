"""Open311 wire formats: the XML renderer and the spec's error bodies."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from rest_framework import exceptions, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from city_gis.text_limits import xml_text


class Open311JSONRenderer(JSONRenderer):
    format = "json"
    # Chinese stays readable in the payload.
    ensure_ascii = False


def _append(parent: ET.Element, tag: str, value) -> None:
    el = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _append(el, k, v)
    elif isinstance(value, list):
        # Nested lists (discovery endpoints, service keywords) repeat a singular child element.
        child = tag[:-1] if tag.endswith("s") else "item"
        for v in value:
            _append(el, child, v)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        # ElementTree escapes &, < and > but writes control characters as they are: not well-formed XML 1.0.
        el.text = xml_text(value)


class Open311XMLRenderer(BaseRenderer):
    """Renders a list of dicts as <root><item>…</item></root> (root/item names from the view)."""

    media_type = "text/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        view = (renderer_context or {}).get("view")
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            root_name, item_name = "errors", "error"
        else:
            root_name = getattr(view, "xml_root", "root")
            item_name = getattr(view, "xml_item", "item")
        if isinstance(data, dict) and root_name != "errors" and getattr(view, "xml_single_object", False):
            root = ET.Element(root_name)
            for k, v in data.items():
                _append(root, k, v)
        else:
            root = ET.Element(root_name)
            for item in data if isinstance(data, list) else [data]:
                el = ET.SubElement(root, item_name)
                for k, v in (item or {}).items():
                    _append(el, k, v)
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        out = []
        for field, msgs in detail.items():
            for msg in _flatten(msgs):
                out.append(msg if field in ("non_field_errors", "detail") else f"{field}: {msg}")
        return out
    if isinstance(detail, list):
        return [m for d in detail for m in _flatten(d)]
    return [str(detail)]


def open311_exception_handler(exc, context) -> Response | None:
    """Every error as the spec's list: [{"code": 400, "description": "…"}] (XML: <errors><error>…)."""
    if isinstance(exc, exceptions.APIException):
        code = exc.status_code
        descriptions = _flatten(exc.detail)
    else:
        from django.http import Http404

        if isinstance(exc, Http404):
            code, descriptions = status.HTTP_404_NOT_FOUND, [str(exc) or "not found"]
        else:
            return None
    return Response([{"code": code, "description": d} for d in descriptions], status=code)
