"""REST of the grid app: geocoding lookup."""

from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .geocode import OutsideManagedArea, geocode

# Bound of each coordinate (degrees): the one table the view checks and the schema documents.
BOUNDS = {"lon": 180, "lat": 90}


class GridLookupView(APIView):
    """点位 → 单元网格、社区、街道、区县及地址。"""

    @extend_schema(tags=["grid"], parameters=[
                       OpenApiParameter(name, {"type": "number", "minimum": -bound, "maximum": bound}, required=True)
                       for name, bound in BOUNDS.items()],
                   responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        values = {}
        for name, bound in BOUNDS.items():
            raw = request.query_params.get(name)
            if raw in (None, ""):
                raise ValidationError({name: "必填"})
            try:
                values[name] = float(raw)
            except ValueError:
                raise ValidationError({name: "应为数字"}) from None
            # float() accepts nan/inf: neither is a place (and NaN would reach PostGIS).
            if not math.isfinite(values[name]) or abs(values[name]) > bound:
                raise ValidationError({name: f"应为 −{bound}…{bound} 之间的数字"})
        try:
            g = geocode(values["lon"], values["lat"], address=True)  # the answer shows the road
        except OutsideManagedArea as exc:
            raise ValidationError({"location": str(exc)}) from None
        return Response(g.as_dict())
