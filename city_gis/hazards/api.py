"""REST of the hazards app: devices and alerts (list with filters, detail, acknowledge), the reading batch.

POST /api/v1/hazards/readings/ takes {"readings": [{device, observed_at, values}, …]} — the MQTT payload plus
the device code — validated by city_gis/hazards/validation.py as a whole: one refusal answers 400 naming the
field (`readings[3].values.rain_mm`) and nothing is stored. Limits: CITYGIS_API_BODY_MAX_BYTES per body (413),
CITYGIS_HAZARD_MAX_BATCH readings, CITYGIS_HAZARD_MAX_PAYLOAD_BYTES per reading.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.api_parsers import BoundedJSONParser
from city_gis.text_limits import has_control_chars

from . import alerts as alert_service
from . import evacuation
from . import readings as reading_history
from . import warnings as warning_service
from .access import (
    may_acknowledge,
    may_issue_warnings,
    may_post_readings,
    sees_warnings,
    visible_alerts,
    visible_devices,
)
from .filters import AlertFilter, AreaWarningFilter, DeviceFilter
from .ingest import ingest_batch
from .models import DEVICE_CODE_PATTERN, Alert, AreaWarning, Device
from .serializers import (
    AcknowledgeSerializer,
    AlertDetailSerializer,
    AlertSerializer,
    AreaWarningInSerializer,
    AreaWarningSerializer,
    DeviceReadingsQuerySerializer,
    DeviceReadingsSerializer,
    DeviceSerializer,
    EvacuationPlanSerializer,
    ReadingBatchResultSerializer,
    ReadingBatchSerializer,
)
from .validation import ReadingError


@extend_schema(tags=["hazards"])
class DeviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """监测设备：列表（按类型、状态、隐患点筛选）与详情。"""

    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter  # type, status, hazard_point (filters.py)
    lookup_field = "code"
    lookup_value_regex = DEVICE_CODE_PATTERN.strip("^$")

    def get_queryset(self) -> QuerySet:
        return visible_devices(self.request.user, Device.objects.select_related("hazard_point").order_by("code"))

    @extend_schema(parameters=[DeviceReadingsQuerySerializer],
                   responses={200: DeviceReadingsSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def readings(self, request, code=None):
        """监测数据历史（默认最近 72 小时；窗口与条数有上限）。"""
        device = self.get_object()
        query = DeviceReadingsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            since, until = reading_history.window(query.validated_data.get("since"),
                                                  query.validated_data.get("until"))
        except reading_history.WindowError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        data = reading_history.device_readings(device.pk, since, until)
        return Response({"device": device.code, "type": device.type, **data})


@extend_schema(tags=["hazards"])
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """预警：列表（按是否未解除、级别、规则、隐患点、设备筛选）、详情（含处置记录）与确认。"""

    filterset_class = AlertFilter  # open, level, rule, hazard_point, device (filters.py)

    def get_serializer_class(self):
        return AlertSerializer if self.action == "list" else AlertDetailSerializer

    def get_queryset(self) -> QuerySet:
        qs = visible_alerts(self.request.user, Alert.objects.select_related(
            "hazard_point", "device", "acknowledged_by").order_by("-opened_at", "-pk"))
        return qs if self.action == "list" else qs.prefetch_related("events__actor")

    @extend_schema(request=AcknowledgeSerializer, responses={200: AlertDetailSerializer})
    @action(detail=True, methods=["post"], parser_classes=[BoundedJSONParser])
    def acknowledge(self, request, pk=None):
        """确认预警（记录确认人与时间）。"""
        alert = self.get_object()
        if not may_acknowledge(request.user, alert):
            raise PermissionDenied("only hazard officers, shift leaders and the point's monitor acknowledge alerts")
        body = AcknowledgeSerializer(data=request.data if isinstance(request.data, dict) else {"note": None})
        body.is_valid(raise_exception=True)
        note = body.validated_data.get("note", "")
        if has_control_chars(note):
            raise ValidationError({"note": "no control characters"})
        alert = alert_service.acknowledge(alert, request.user, note)
        return Response(AlertDetailSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(methods=["GET"], request=None, responses={200: EvacuationPlanSerializer, 404: OpenApiTypes.OBJECT})
    @extend_schema(methods=["POST"], request=None,
                   responses={201: EvacuationPlanSerializer, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get", "post"], url_path="evacuation-plan")
    def evacuation_plan(self, request, pk=None):
        """疏散方案：GET 最新方案；POST 重新编制（橙色、红色预警；地灾值班员）。"""
        alert = self.get_object()
        if request.method == "GET":
            plan_id = evacuation.latest_plan_id(alert)
            if plan_id is None:
                raise NotFound("no evacuation plan for this alert")
            return Response(evacuation.plan_data(plan_id))
        if not evacuation.may_plan(request.user):
            raise PermissionDenied("only hazard officers make evacuation plans")
        try:
            plan_id = evacuation.build_plan(alert, user=request.user)
        except evacuation.EvacuationError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(evacuation.plan_data(plan_id), status=status.HTTP_201_CREATED)


@extend_schema(tags=["hazards"])
class ReadingBatchView(APIView):
    """批量上报监测数据（与 MQTT 报文相同，另加设备编号）；整批校验，任一条无效则 400 且不写入。"""

    parser_classes = [BoundedJSONParser]

    @extend_schema(request=ReadingBatchSerializer,
                   responses={200: ReadingBatchResultSerializer, 400: OpenApiTypes.OBJECT, 413: OpenApiTypes.OBJECT})
    def post(self, request):
        if not may_post_readings(request.user):
            raise PermissionDenied("only device gateways and hazard officers post readings")
        data = request.data
        if not isinstance(data, dict) or set(data) - {"readings"}:
            extra = sorted(set(data) - {"readings"}) if isinstance(data, dict) else []
            raise ValidationError({str(extra[0]) if extra else "readings": "unexpected field" if extra else
                                   "required: {\"readings\": [...]}"})
        try:
            result = ingest_batch(data.get("readings"))
        except ReadingError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response({"received": result.received, "inserted": result.inserted,
                         "duplicates": result.duplicates, "alerts_changed": len(result.changes)},
                        status=status.HTTP_200_OK)


@extend_schema(tags=["hazards"])
class AreaWarningViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """气象风险预警：发布（范围、级别、有效期；范围内的隐患点随之预警）、列表、详情、撤销。"""

    serializer_class = AreaWarningSerializer
    filterset_class = AreaWarningFilter  # active (filters.py)
    parser_classes = [BoundedJSONParser]

    def get_queryset(self) -> QuerySet:
        qs = AreaWarning.objects.select_related("issued_by").order_by("-issued_at", "-pk")
        if not sees_warnings(self.request.user):
            return qs.none()
        return qs

    @extend_schema(request=AreaWarningInSerializer, responses={201: AreaWarningSerializer, 400: OpenApiTypes.OBJECT,
                                                               413: OpenApiTypes.OBJECT})
    def create(self, request):
        if not may_issue_warnings(request.user):
            raise PermissionDenied("only hazard officers issue area warnings")
        try:
            warning, _changes = warning_service.issue(request.data, request.user)
        except warning_service.WarningError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(AreaWarningSerializer(warning).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: AreaWarningSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """撤销预警（范围内不再被其他有效预警覆盖的隐患点解除）。"""
        warning = self.get_object()
        if not may_issue_warnings(request.user):
            raise PermissionDenied("only hazard officers cancel area warnings")
        warning_service.cancel(warning)
        warning.refresh_from_db()
        return Response(AreaWarningSerializer(warning).data)
