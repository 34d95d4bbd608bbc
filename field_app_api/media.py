"""Case photos served through the API, only to users allowed to see the case (never as static /media/)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from . import domain
from .serializers import ErrorSerializer


class CasePhotoView(APIView):
    @extend_schema(
        operation_id="case_photo",
        parameters=[OpenApiParameter("size", str, enum=["full", "thumb"], description=_("thumb 返回缩略图"))],
        responses={(200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY), 401: ErrorSerializer, 404: ErrorSerializer},
        summary=_("案卷照片（已去除 EXIF）"),
    )
    def get(self, request, case_id: int, pk: int):
        att = domain.case_photo(request.user, case_id, pk)
        if att is None:
            raise Http404
        field = att.thumbnail if request.query_params.get("size") == "thumb" and att.thumbnail else att.image
        try:
            handle = field.open("rb")
        except (FileNotFoundError, ValueError):
            raise Http404 from None
        response = FileResponse(handle, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        response["Content-Disposition"] = f'inline; filename="{case_id}-{pk}.jpg"'
        return response
