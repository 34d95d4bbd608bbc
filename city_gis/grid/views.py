"""REST of the grid app: geocoding lookup."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .geocode import OutsideManagedArea, geocode


class GridLookupView(APIView):
    """点位 → 单元网格、社区、街道、区县及地址。"""

    @extend_schema(tags=["grid"], parameters=[OpenApiParameter("lon", float, required=True),
                                              OpenApiParameter("lat", float, required=True)],
                   responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        values = {}
        for name in ("lon", "lat"):
            raw = request.query_params.get(name)
            if raw in (None, ""):
                raise ValidationError({name: "必填"})
            try:
                values[name] = float(raw)
            except ValueError:
                raise ValidationError({name: "应为数字"}) from None
        try:
            g = geocode(values["lon"], values["lat"])
        except OutsideManagedArea as exc:
            raise ValidationError({"location": str(exc)}) from None
        return Response(g.as_dict())
