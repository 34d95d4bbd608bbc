"""Serializers shared by the field API views (errors, locations)."""

from __future__ import annotations

import json

from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """DRF's error body: `detail` for request-level errors, or one list of messages per field."""

    detail = serializers.CharField(required=False)


@extend_schema_field(
    {
        "type": "object",
        "description": "GeoJSON Point, coordinates [lon, lat] in EPSG:4490 (≈ WGS84)",
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        },
        "required": ["type", "coordinates"],
        "example": {"type": "Point", "coordinates": [104.8305, 26.5935]},
    }
)
class PointField(serializers.Field):
    """A GeoJSON Point (object, or its JSON text in multipart forms) → GEOS Point in EPSG:4490."""

    default_error_messages = {"invalid": gettext_lazy("需要 GeoJSON 点：{{\"type\": \"Point\", \"coordinates\": [经度, 纬度]}}。")}

    def to_internal_value(self, data) -> Point:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict) or data.get("type") != "Point":
            self.fail("invalid")
        coords = data.get("coordinates")
        if not isinstance(coords, list | tuple) or len(coords) not in (2, 3):
            self.fail("invalid")
        try:
            lon, lat = float(coords[0]), float(coords[1])
        except (TypeError, ValueError):
            self.fail("invalid")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90) or lon != lon or lat != lat:
            raise serializers.ValidationError(_("坐标超出范围：经度 −180…180，纬度 −90…90。"))
        return Point(lon, lat, srid=4490)

    def to_representation(self, value: Point) -> dict:
        return {"type": "Point", "coordinates": [round(value.x, 7), round(value.y, 7)]}


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file upload, validated later by decoding (photos.read_photo)."""
