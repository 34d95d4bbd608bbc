"""Inspectors' verification (核实) and check (核查) tasks, handlers' dispatched cases, and completing them."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.api_parsers import SMALL_BODY_PARSERS
from city_gis.text_limits import NOTE_MAX_LENGTH, SafeCharField

from . import domain
from .domain import Case
from .permissions import IsFieldWorker
from .photos import PhotoUploadsMixin, StoredFiles, check_count, read_photos
from .serializers import ErrorSerializer, PointField, UploadField

FIELD_ACTIONS = sorted({a for actions in domain.TASK_ACTIONS.values() for a in actions})


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.ChoiceField(choices=list(domain.TASK_KINDS.values()))
    state = serializers.CharField()
    category = serializers.CharField()
    category_name = serializers.CharField()
    description = serializers.CharField()
    address = serializers.CharField()
    cell = serializers.CharField()
    location = PointField()
    deadline = serializers.DateTimeField(allow_null=True)
    light = serializers.CharField(allow_null=True)
    distance_m = serializers.FloatField(allow_null=True)
    pending_request = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())
    updated_at = serializers.DateTimeField()
    # geohazard patrol tasks: the results to choose from on completion (empty for other tasks)
    patrol_results = serializers.ListField(child=serializers.CharField(), required=False)


class TaskPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = TaskSerializer(many=True)


class CompleteSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=FIELD_ACTIONS)
    note = SafeCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True)
    reason = SafeCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True)
    result = SafeCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True)
    working_days = serializers.IntegerField(required=False, min_value=1, max_value=60)
    patrol_result = serializers.ChoiceField(choices=list(domain.PATROL_RESULTS), required=False)
    photos = serializers.ListField(child=UploadField(), required=False, write_only=True)


WORKFLOW_FIELDS = ("note", "reason", "result", "working_days")


class CompletedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    next_deadline = serializers.DateTimeField(allow_null=True)
    photos = serializers.ListField(child=serializers.IntegerField())


def task_of(case: Case, user, patrols: set[int] | None = None) -> dict:
    distance = getattr(case, "distance", None)
    if patrols is None:  # callers listing many tasks pass the patrol ids of the page (one query)
        patrols = domain.patrol_task_ids([case.pk])
    return {
        "patrol_results": list(domain.PATROL_RESULTS) if case.pk in patrols else [],
        "id": case.pk, "number": case.number, "kind": domain.TASK_KINDS.get(case.state, ""), "state": case.state,
        "category": domain.category_ref(case.category), "category_name": case.category.name_zh,
        "description": case.description, "address": case.address, "cell": case.cell_code, "location": case.location,
        "deadline": domain.task_deadline(case),
        "light": case.light, "distance_m": round(distance.m, 1) if distance is not None else None,
        "pending_request": case.pending_request,
        "actions": [a for a in domain.allowed_action_names(case, user) if a in FIELD_ACTIONS],
        "updated_at": case.updated_at,
    }


def _coordinate(request, name: str, low: float, high: float) -> float | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError({name: [_("必须是数字。")]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [_("超出范围。")]})
    return value


class TaskListView(APIView):
    permission_classes = [IsFieldWorker]

    @extend_schema(
        operation_id="tasks_list",
        parameters=[
            OpenApiParameter("lon", float, description=_("手机位置经度：给出时按距离由近到远排序")),
            OpenApiParameter("lat", float, description=_("手机位置纬度")),
            OpenApiParameter("limit", int), OpenApiParameter("offset", int),
        ],
        responses={200: TaskPageSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
        summary=_("我的任务（核实、核查、处置）"),
    )
    def get(self, request):
        lon = _coordinate(request, "lon", -180, 180)
        lat = _coordinate(request, "lat", -90, 90)
        if (lon is None) != (lat is None):
            raise ValidationError({"lat" if lat is None else "lon": [_("lon 与 lat 必须同时提供。")]})
        qs = domain.task_cases(request.user).select_related("category").with_light()
        qs = domain.nearest_first(qs, lon, lat) if lon is not None else qs.order_by("stage_deadline", "id")
        page = self.paginator.paginate_queryset(qs, request, view=self)
        patrols = domain.patrol_task_ids([c.pk for c in page])
        return self.paginator.get_paginated_response(
            [TaskSerializer(task_of(c, request.user, patrols)).data for c in page])

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            from rest_framework.settings import api_settings

            self._paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        return self._paginator


class TaskCompleteView(PhotoUploadsMixin, APIView):
    permission_classes = [IsFieldWorker]
    parser_classes = SMALL_BODY_PARSERS

    @extend_schema(
        operation_id="tasks_complete",
        request={"application/json": CompleteSerializer, "multipart/form-data": CompleteSerializer},
        responses={200: CompletedSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer,
                   404: ErrorSerializer, 409: ErrorSerializer},
        summary=_("完成任务：核实、核查、处置、回退、申请延期/挂账（可附照片）"),
    )
    def post(self, request, pk: int):
        user = request.user
        case = get_object_or_404(domain.reachable_cases(user), pk=pk)
        ser = CompleteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        # Only the serializer's declared fields (never raw body keys) become keyword arguments of the workflow.
        fields = {k: v for k, v in ser.validated_data.items() if k in WORKFLOW_FIELDS}
        uploads = request.FILES.getlist("photos")
        check_count(uploads)
        photos = read_photos(uploads)
        with StoredFiles() as files, transaction.atomic():
            case = domain.complete_task(case, ser.validated_data["action"], user, fields,
                                        ser.validated_data.get("patrol_result", ""))
            attachments = domain.attach_photos(case, photos, user, files)
        return Response(CompletedSerializer({
            "id": case.pk, "number": case.number, "state": case.state, "state_label": case.get_state_display(),
            "next_deadline": case.stage_deadline, "photos": [a.pk for a in attachments],
        }).data)
