"""The one pagination policy of the REST API: limit/offset with bounded, validated values.

`?limit=` above CITYGIS_API_MAX_PAGE_SIZE (default 500) is refused with 400 naming `limit` rather than
clamped silently, so a client never believes it got everything; `?offset=` above CITYGIS_API_MAX_OFFSET
(default 1,000,000) is refused the same way (deep offsets cost a scan; use filters instead). Non-numeric,
negative or zero values are 400 as well — never a 500 or an unbounded page.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

DIGITS_MAX = 12  # longer numbers are refused before int() (no arbitrary-size parsing of hostile input)


def max_page_size() -> int:
    """Largest `limit` a list endpoint answers (settings.CITYGIS_API_MAX_PAGE_SIZE)."""
    return int(getattr(settings, "CITYGIS_API_MAX_PAGE_SIZE", 500))


def max_offset() -> int:
    """Largest `offset` a list endpoint accepts (settings.CITYGIS_API_MAX_OFFSET)."""
    return int(getattr(settings, "CITYGIS_API_MAX_OFFSET", 1_000_000))


def bounded_int(raw: str | None, param: str, *, low: int, high: int, default: int | None = None) -> int | None:
    """Parse a query parameter as an integer in [low, high]; 400 naming `param` otherwise."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > DIGITS_MAX:
        raise ValidationError({param: [_("必须是 %(low)d 到 %(high)d 之间的整数。") % {"low": low, "high": high}]})
    value = int(text)
    if not low <= value <= high:
        raise ValidationError({param: [_("必须是 %(low)d 到 %(high)d 之间的整数。") % {"low": low, "high": high}]})
    return value


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """LimitOffsetPagination whose `limit` and `offset` are validated and bounded (see module docstring)."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return max_page_size()

    def get_limit(self, request) -> int:
        default = min(self.default_limit or max_page_size(), max_page_size())
        return bounded_int(request.query_params.get(self.limit_query_param), self.limit_query_param,
                           low=1, high=max_page_size(), default=default)

    def get_offset(self, request) -> int:
        return bounded_int(request.query_params.get(self.offset_query_param), self.offset_query_param,
                           low=0, high=max_offset(), default=0)

    def paginate_queryset(self, queryset, request, view=None):
        # Validate both parameters before the COUNT query: a refused request costs nothing.
        self.get_limit(request)
        self.get_offset(request)
        return super().paginate_queryset(queryset, request, view)
