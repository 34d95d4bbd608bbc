"""Body parsers with a size limit for endpoints that take small JSON or form bodies (not file uploads).

Django's DATA_UPLOAD_MAX_MEMORY_SIZE stays large (80 MB) for the layer import and OGC API writes; a case
transition, a hotline entry, a field report's fields or an Open311 request is a few KB. These parsers refuse
a body above CITYGIS_API_BODY_MAX_BYTES (default 1 MiB) with 413 before reading it, so a hostile client cannot
make the server buffer and parse 80 MB of JSON. Multipart uploads (photos) keep their own limits
(field_app_api.photos).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser


def max_body_bytes() -> int:
    """Largest JSON / form body of the bounded endpoints (settings.CITYGIS_API_BODY_MAX_BYTES)."""
    return int(getattr(settings, "CITYGIS_API_BODY_MAX_BYTES", 1024 * 1024))


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


class _Bounded:
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int((request.META.get("CONTENT_LENGTH") if request is not None else 0) or 0)
        except ValueError:
            length = 0
        if length > max_body_bytes():
            raise BodyTooLarge(_("请求体超过 %(n)d 字节上限。") % {"n": max_body_bytes()})
        return super().parse(stream, media_type, parser_context)


class BoundedJSONParser(_Bounded, JSONParser):
    """JSONParser refusing bodies above max_body_bytes() with 413."""


class BoundedFormParser(_Bounded, FormParser):
    """FormParser refusing bodies above max_body_bytes() with 413."""


# For endpoints that take JSON, forms and (photo) multipart: only the first two are bounded here.
SMALL_BODY_PARSERS = [BoundedJSONParser, BoundedFormParser, MultiPartParser]
