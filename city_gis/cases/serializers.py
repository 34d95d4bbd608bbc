"""DRF serializers of cases, their history, attachments and the category tree."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.urls import reverse
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from city_gis.text_limits import (
    DESCRIPTION_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    SHORT_TEXT_MAX_LENGTH,
    SafeCharField,
    has_control_chars,
)

from . import workflow
from .models import Case, CaseAttachment, CaseHistory, Category, Source

CONTACT_MAX_KEYS = 10


class CategorySerializer(serializers.ModelSerializer):
    default_department = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Category
        fields = ["kind", "code", "big_code", "big_name_zh", "big_name_en", "name_zh", "name_en", "version",
                  "default_department", "register_condition", "close_condition", "urgency_levels"]


class CategoryGroupSerializer(serializers.Serializer):
    """Schema of one node of the category tree (CategoryTreeView builds the node itself): a big class."""

    kind = serializers.CharField()
    big_code = serializers.CharField()
    big_name_zh = serializers.CharField()
    big_name_en = serializers.CharField()
    children = CategorySerializer(many=True)


class CaseListSerializer(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    category_code = serializers.CharField(source="category.code", read_only=True)
    category_kind = serializers.CharField(source="category.kind", read_only=True)
    category_name = serializers.CharField(source="category.name_zh", read_only=True)
    # Both None until the case is dispatched: the schema says nullable, as the answer is.
    department = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    department_name = serializers.CharField(source="department.name_zh", read_only=True, default=None,
                                            allow_null=True)
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
    actor = serializers.CharField(source="actor.label", read_only=True, default=None, allow_null=True)
    department = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = CaseHistory
        fields = ["seq", "action", "from_state", "to_state", "actor", "actor_role", "at", "note", "department",
                  "due_at", "on_time", "deadline", "disposal_deadline", "data"]


class AttachmentSerializer(serializers.ModelSerializer):
    """Photo links point at the permission-checked photo endpoint, never at the raw media files."""

    history_seq = serializers.IntegerField(source="history.seq", read_only=True, default=None, allow_null=True)
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
    reporter = serializers.CharField(source="reporter.label", read_only=True, default=None, allow_null=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None, allow_null=True)
    merged_into = serializers.CharField(source="merged_into.number", read_only=True, default=None, allow_null=True)
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
    category_code = SafeCharField(max_length=20)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    description = SafeCharField(max_length=DESCRIPTION_MAX_LENGTH)
    urgency = SafeCharField(max_length=20, required=False, allow_blank=True)
    observed_at = serializers.DateTimeField(required=False)
    contact = serializers.DictField(child=SafeCharField(max_length=SHORT_TEXT_MAX_LENGTH), required=False)

    def validate_contact(self, value: dict) -> dict:
        # JSON stored on the case: bounded in keys as well as values.
        if len(value) > CONTACT_MAX_KEYS or any(len(str(k)) > 40 or has_control_chars(str(k)) for k in value):
            raise serializers.ValidationError(f"最多 {CONTACT_MAX_KEYS} 项，键名不超过 40 个字符")
        return value

    def location(self) -> Point:
        return Point(self.validated_data["lon"], self.validated_data["lat"], srid=4490)


def _action_field(spec: workflow.FieldSpec) -> serializers.Field:
    """The DRF field that checks the type and size of one workflow field (the workflow checks its meaning)."""
    if spec.kind == "int":
        return serializers.IntegerField(min_value=1, max_value=60)
    if spec.kind == "text":
        return SafeCharField(max_length=NOTE_MAX_LENGTH, allow_blank=True)
    if spec.kind == "case":
        # A case number (16 chars) or id: the length bound also keeps an id inside a bigint.
        return SafeCharField(max_length=Case._meta.get_field("number").max_length)
    return SafeCharField(max_length=SHORT_TEXT_MAX_LENGTH, allow_blank=True)


class TransitionSerializer(serializers.Serializer):
    """`{"action": …}` plus the action's fields (see allowed_actions).

    Only the fields the action declares are read from the body, each type- and length-checked; the result
    is `validated_data["fields"]`. Never pass the raw body on: a key such as `user`, `case` or `at` must not
    reach workflow.perform() as a keyword argument.
    """

    action = serializers.CharField(max_length=40)

    def validate(self, attrs: dict) -> dict:
        spec = workflow.ACTIONS.get(attrs["action"])
        if spec is None:
            raise serializers.ValidationError({"action": f"未知操作：{attrs['action']}"})
        fields, errors = {}, {}
        for field_spec in spec.fields:
            if field_spec.name not in self.initial_data:
                continue
            raw = self.initial_data.get(field_spec.name)
            if raw is None:
                continue
            try:
                fields[field_spec.name] = _action_field(field_spec).run_validation(raw)
            except serializers.ValidationError as exc:
                errors[field_spec.name] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        attrs["fields"] = fields
        return attrs


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


class _PointSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Point"])
    coordinates = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)


class CaseFeatureSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Feature"])
    id = serializers.IntegerField()
    geometry = _PointSerializer()
    properties = serializers.DictField(help_text="CaseList 的字段（lon/lat 除外）")


@extend_schema_serializer(many=False)  # one collection, not a (paginated) list, even on the list action
class CaseFeatureCollectionSerializer(serializers.Serializer):
    """Schema of the GeoJSON answer of the case list (`?format=geojson`, `/cases/geojson/`)."""

    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = CaseFeatureSerializer(many=True)
    truncated = serializers.BooleanField(help_text="true：超过上限，仅返回前 5000 条")
