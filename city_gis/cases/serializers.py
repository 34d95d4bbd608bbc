"""DRF serializers of cases, their history, attachments and the category tree."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.urls import reverse
from rest_framework import serializers

from .models import Case, CaseAttachment, CaseHistory, Category, Source


class CategorySerializer(serializers.ModelSerializer):
    default_department = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Category
        fields = ["kind", "code", "big_code", "big_name_zh", "big_name_en", "name_zh", "name_en", "version",
                  "default_department", "register_condition", "close_condition", "urgency_levels"]


class CaseListSerializer(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    category_code = serializers.CharField(source="category.code", read_only=True)
    category_kind = serializers.CharField(source="category.kind", read_only=True)
    category_name = serializers.CharField(source="category.name_zh", read_only=True)
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    department_name = serializers.CharField(source="department.name_zh", read_only=True, default=None)
    light = serializers.SerializerMethodField()
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "number", "state", "state_label", "source", "category_code", "category_kind", "category_name",
                  "urgency", "address", "cell_code", "community_code", "street_code", "district_code", "department",
                  "department_name", "created_at", "stage_deadline", "disposal_deadline", "light", "supervised",
                  "lon", "lat"]

    def get_light(self, obj: Case) -> str | None:
        return obj.light

    def get_lon(self, obj: Case) -> float:
        return obj.location.x

    def get_lat(self, obj: Case) -> float:
        return obj.location.y


class HistorySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.label", read_only=True, default=None)
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = CaseHistory
        fields = ["seq", "action", "from_state", "to_state", "actor", "actor_role", "at", "note", "department",
                  "due_at", "on_time", "deadline", "disposal_deadline", "data"]


class AttachmentSerializer(serializers.ModelSerializer):
    """Photo links point at the permission-checked photo endpoint, never at the raw media files."""

    history_seq = serializers.IntegerField(source="history.seq", read_only=True, default=None)
    image = serializers.SerializerMethodField()
    thumbnail = serializers.SerializerMethodField()

    def _url(self, obj: CaseAttachment, size: str = "") -> str:
        url = reverse("field-case-photo", kwargs={"case_id": obj.case_id, "pk": obj.pk})
        return f"{url}?size={size}" if size else url

    def get_image(self, obj: CaseAttachment) -> str:
        return self._url(obj)

    def get_thumbnail(self, obj: CaseAttachment) -> str:
        return self._url(obj, "thumb") if obj.thumbnail else self._url(obj)

    class Meta:
        model = CaseAttachment
        fields = ["id", "image", "thumbnail", "taken_at", "history_seq", "created_at"]


class CaseDetailSerializer(CaseListSerializer):
    history = HistorySerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    reporter = serializers.CharField(source="reporter.label", read_only=True, default=None)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None)
    merged_into = serializers.CharField(source="merged_into.number", read_only=True, default=None)
    duplicate_candidates = serializers.SerializerMethodField()

    class Meta(CaseListSerializer.Meta):
        fields = CaseListSerializer.Meta.fields + [
            "description", "observed_at", "reporter", "assignee", "contact", "pending_request", "rework_count",
            "return_count", "merged_into", "close_type", "closed_at", "duplicate_candidates", "history", "attachments",
        ]

    def get_duplicate_candidates(self, obj: Case) -> list[dict]:
        return [{"number": link.original.number, "distance_m": round(link.distance_m, 1), "resolved": link.resolved}
                for link in obj.duplicate_links.select_related("original")]


class CaseCreateSerializer(serializers.Serializer):
    """Operator entry of a hotline (or walk-in public) report."""

    source = serializers.ChoiceField(choices=[Source.HOTLINE.value, Source.PUBLIC.value], default=Source.HOTLINE.value)
    category_code = serializers.CharField(max_length=20)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    description = serializers.CharField(max_length=4000)
    urgency = serializers.CharField(max_length=20, required=False, allow_blank=True)
    observed_at = serializers.DateTimeField(required=False)
    contact = serializers.DictField(child=serializers.CharField(max_length=200), required=False)

    def location(self) -> Point:
        return Point(self.validated_data["lon"], self.validated_data["lat"], srid=4490)


class TransitionSerializer(serializers.Serializer):
    """`{"action": …}` plus the action's fields (see allowed_actions)."""

    action = serializers.CharField(max_length=40)


class FieldSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    required = serializers.BooleanField()
    kind = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())


class ActionSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField(allow_null=True)
    fields = FieldSpecSerializer(many=True)
