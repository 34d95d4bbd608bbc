"""The one parser of OGC query strings: our checks and MapProxy must read the same value of every parameter.

OGC parameter names are case-insensitive, so `LAYER=a&layer=b` is a duplicate: our legend check would read one
value and MapProxy the other. Duplicates, control characters and invalid UTF-8 (MapProxy drops undecodable bytes,
we would not) are refused instead of guessed at.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from django.conf import settings

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OGCParamError(ValueError):
    """A query string we refuse; `parameter` names the offending parameter (upper case, as OGC spells them)."""

    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter


def parse_ogc_query(query_string: str) -> dict[str, str]:
    """{lower-case name: value} of a raw QUERY_STRING; raises OGCParamError on a repeated name (in any case),
    a control character in a name or value, invalid UTF-8 or too many parameters."""
    limit = getattr(settings, "DATA_UPLOAD_MAX_NUMBER_FIELDS", None) or 1000
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=limit)
    except UnicodeDecodeError:
        raise OGCParamError("query string is not valid UTF-8") from None
    except ValueError:
        raise OGCParamError(f"more than {limit} parameters") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if _CONTROL.search(name):
            raise OGCParamError("control character in a parameter name")
        if _CONTROL.search(value):
            raise OGCParamError(f"control character in parameter {name.upper()}", name.upper())
        if key in params:
            raise OGCParamError(f"parameter {name.upper()} given more than once", name.upper())
        params[key] = value
    return params
