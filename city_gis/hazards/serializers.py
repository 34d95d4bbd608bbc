"""REST representations of devices, alerts, their audit trail, and the reading batch (request and answer)."""

from __future__ import annotations

import json

from django.utils import timezone
from rest_framework import serializers

from .models import LEVEL_BY_NAME, LEVEL_NAMES, Alert, AlertEvent, AreaWarning, Device
from .validation import QUANTITIES


class DeviceSerializer(serializers.ModelSerializer):
    hazard_point = serializers.CharField(source="hazard_point.code", read_only=True)
    hazard_point_name = serializers.CharField(source="hazard_point.name", read_only=True)
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["code", "type", "status", "hazard_point", "hazard_point_name", "lon", "lat", "installed_on",
                  "last_reading_at"]

    def get_lon(self, obj) -> float:
        return obj.location.x

    def get_lat(self, obj) -> float:
        return obj.location.y


class AlertEventSerializer(serializers.ModelSerializer):
    level = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AlertEvent
        fields = ["at", "kind", "level", "value", "actor", "note"]

    def get_level(self, obj) -> str:
        return LEVEL_NAMES[obj.level]

    def get_actor(self, obj) -> str | None:
        return obj.actor.username if obj.actor_id else None


class AlertSerializer(serializers.ModelSerializer):
    level = serializers.SerializerMethodField()
    hazard_point = serializers.CharField(source="hazard_point.code", read_only=True)
    hazard_point_name = serializers.CharField(source="hazard_point.name", read_only=True)
    device = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "hazard_point", "hazard_point_name", "rule", "device", "level", "value", "threshold",
                  "rules_version", "opened_at", "escalated_at", "last_exceeded_at", "acknowledged_at",
                  "acknowledged_by", "closed_at", "close_reason"]

    def get_level(self, obj) -> str:
        return LEVEL_NAMES[obj.level]

    def get_device(self, obj) -> str | None:
        return obj.device.code if obj.device_id else None

    def get_acknowledged_by(self, obj) -> str | None:
        return obj.acknowledged_by.username if obj.acknowledged_by_id else None


class AlertDetailSerializer(AlertSerializer):
    events = AlertEventSerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "events"]


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ValuesSerializer(serializers.Serializer):
    """Documentation of `values`: one or more quantities (validation is city_gis/hazards/validation.py)."""

    rain_mm = serializers.FloatField(required=False, min_value=QUANTITIES["rain_mm"].low,
                                     max_value=QUANTITIES["rain_mm"].high)
    displacement_mm = serializers.FloatField(required=False, min_value=QUANTITIES["displacement_mm"].low,
                                             max_value=QUANTITIES["displacement_mm"].high)
    crack_mm = serializers.FloatField(required=False, min_value=QUANTITIES["crack_mm"].low,
                                      max_value=QUANTITIES["crack_mm"].high)
    tilt_deg = serializers.FloatField(required=False, min_value=QUANTITIES["tilt_deg"].low,
                                      max_value=QUANTITIES["tilt_deg"].high)
    water_level_m = serializers.FloatField(required=False, min_value=QUANTITIES["water_level_m"].low,
                                           max_value=QUANTITIES["water_level_m"].high)


class ReadingInSerializer(serializers.Serializer):
    device = serializers.CharField(max_length=40)
    observed_at = serializers.DateTimeField()
    values = ValuesSerializer()


class ReadingBatchSerializer(serializers.Serializer):
    readings = ReadingInSerializer(many=True)


class ReadingBatchResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    alerts_changed = serializers.IntegerField()


class AreaWarningSerializer(serializers.ModelSerializer):
    level = serializers.SerializerMethodField()
    area = serializers.SerializerMethodField()
    issued_by = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField()

    class Meta:
        model = AreaWarning
        fields = ["id", "level", "area", "valid_from", "valid_to", "issuer", "note", "issued_by", "issued_at",
                  "cancelled_at", "active"]

    def get_level(self, obj) -> str:
        return LEVEL_NAMES[obj.level]

    def get_area(self, obj) -> dict:
        return json.loads(obj.area.geojson)

    def get_issued_by(self, obj) -> str | None:
        return obj.issued_by.username if obj.issued_by_id else None

    def get_active(self, obj) -> bool:
        now = timezone.now()
        return obj.cancelled_at is None and obj.valid_from <= now < obj.valid_to


class AreaWarningInSerializer(serializers.Serializer):
    """Documentation of the request (validation is city_gis/hazards/warnings.py)."""

    level = serializers.ChoiceField(choices=list(LEVEL_BY_NAME))
    area = serializers.JSONField(help_text="GeoJSON Polygon or MultiPolygon, EPSG:4490 lon/lat")
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField()
    issuer = serializers.CharField(required=False, allow_blank=True, max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class EvacuationShelterSerializer(serializers.Serializer):
    """A shelter used by a plan and how many people the plan sends there (never above its capacity)."""

    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    capacity = serializers.IntegerField()
    assigned = serializers.IntegerField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()


class EvacuationAssignmentSerializer(serializers.Serializer):
    """People of one building sent to one shelter (shelter null: unassigned), with the road route (GeoJSON)."""

    building = serializers.IntegerField()
    community_code = serializers.CharField(allow_blank=True)
    community_name = serializers.CharField(allow_blank=True)
    people = serializers.IntegerField()
    shelter = serializers.IntegerField(allow_null=True)
    shelter_name = serializers.CharField(allow_null=True, allow_blank=True)
    distance_m = serializers.FloatField(allow_null=True, help_text="road distance plus the walks to the network")
    route = serializers.JSONField(allow_null=True, help_text="GeoJSON LineString, EPSG:4490, building → shelter")


class EvacuationPlanSerializer(serializers.Serializer):
    """An evacuation plan (city_gis/hazards/evacuation.py): totals, audit, shelters, per-building assignment."""

    id = serializers.IntegerField()
    alert = serializers.IntegerField()
    alert_level = serializers.CharField(help_text="blue, yellow, orange or red: the level the plan was made at")
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)
    auto = serializers.BooleanField(help_text="made by the alert reaching orange/red, not by a person")
    zone_source = serializers.ChoiceField(choices=["hazard_zone", "radius"])
    zone = serializers.JSONField(help_text="GeoJSON MultiPolygon, EPSG:4490")
    buildings = serializers.IntegerField()
    people_total = serializers.IntegerField()
    people_assigned = serializers.IntegerField()
    people_unassigned = serializers.IntegerField()
    shelters_used = serializers.IntegerField()
    build_ms = serializers.FloatField()
    shelters = EvacuationShelterSerializer(many=True)
    assignments = EvacuationAssignmentSerializer(many=True)


class DeviceReadingsQuerySerializer(serializers.Serializer):
    """Query of a device's reading history (bounds in city_gis/hazards/readings.py)."""

    since = serializers.DateTimeField(required=False, help_text="start (inclusive), ISO 8601; default until − 72 h")
    until = serializers.DateTimeField(required=False, help_text="end (exclusive), ISO 8601; default now")


class DeviceReadingSerializer(serializers.Serializer):
    observed_at = serializers.DateTimeField()
    values = ValuesSerializer()


class DeviceReadingsSerializer(serializers.Serializer):
    """A device's readings in a window, oldest first; at most the newest 5,000 (`truncated` when more)."""

    device = serializers.CharField()
    type = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    count = serializers.IntegerField()
    truncated = serializers.BooleanField()
    readings = DeviceReadingSerializer(many=True)
