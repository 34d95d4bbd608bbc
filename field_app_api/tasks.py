"""Inspectors' verification (核实) and check (核查) tasks, handlers' dispatched cases, and completing them."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.cases.models import Case, State

from . import domain
from .permissions import IsFieldWorker
from .photos import StoredFiles, read_photos
from .serializers import ErrorSerializer, PointField, UploadField

KIND = {State.PENDING_VERIFICATION: "verify", State.DISPOSED: "check", State.DISPATCHED: "dispose"}
FIELD_ACTIONS = sorted({a for actions in domain.TASK_ACTIONS.values() for a in actions})


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.ChoiceField(choices=["verify", "check", "dispose"])
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


class TaskPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = TaskSerializer(many=True)


class CompleteSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=FIELD_ACTIONS)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    result = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    working_days = serializers.IntegerField(required=False, min_value=1, max_value=60)
    photos = serializers.ListField(child=UploadField(), required=False, write_only=True)


class CompletedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    next_deadline = serializers.DateTimeField(allow_null=True)
    photos = serializers.ListField(child=serializers.IntegerField())


def task_of(case: Case, user) -> dict:
    distance = getattr(case, "distance", None)
    return {
        "id": case.pk, "number": case.number, "kind": KIND.get(case.state, ""), "state": case.state,
        "category": domain.category_ref(case.category), "category_name": case.category.name_zh,
        "description": case.description, "address": case.address, "cell": case.cell_code, "location": case.location,
        "deadline": case.stage_deadline if case.state != State.DISPATCHED else case.disposal_deadline,
        "light": case.light_at(), "distance_m": round(distance.m, 1) if distance is not None else None,
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
        qs = domain.task_cases(request.user).select_related("category")
        qs = domain.nearest_first(qs, lon, lat) if lon is not None else qs.order_by("stage_deadline", "id")
        page = self.paginator.paginate_queryset(qs, request, view=self)
        return self.paginator.get_paginated_response([TaskSerializer(task_of(c, request.user)).data for c in page])

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            from rest_framework.settings import api_settings

            self._paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        return self._paginator


class TaskCompleteView(APIView):
    permission_classes = [IsFieldWorker]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        operation_id="tasks_complete",
        request={"application/json": CompleteSerializer, "multipart/form-data": CompleteSerializer},
        responses={200: CompletedSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer,
                   404: ErrorSerializer, 409: ErrorSerializer},
        summary=_("完成任务：核实、核查、处置、回退、申请延期/挂账（可附照片）"),
    )
    def post(self, request, pk: int):
        user = request.user
        visible = domain.visible_cases(user).values("pk")
        tasks = domain.task_cases(user).values("pk")
        case = get_object_or_404(Case.objects.filter(Q(pk__in=visible) | Q(pk__in=tasks)), pk=pk)
        ser = CompleteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        fields = {k: v for k, v in ser.validated_data.items() if k not in ("action", "photos")}
        photos = read_photos(request.FILES.getlist("photos"))
        with StoredFiles() as files, transaction.atomic():
            case = domain.perform(case, ser.validated_data["action"], user, fields)
            attachments = domain.attach_photos(case, photos, user, files)
        return Response(CompletedSerializer({
            "id": case.pk, "number": case.number, "state": case.state, "state_label": case.get_state_display(),
            "next_deadline": case.stage_deadline, "photos": [a.pk for a in attachments],
        }).data)
