"""Open311 GeoReport v2 endpoints (http://wiki.open311.org/GeoReport_v2), JSON and XML by URL suffix."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_array_type, force_instance, is_list_serializer
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.api_parsers import SMALL_BODY_PARSERS

from .. import domain
from ..models import ApiKey, Open311Submission
from ..throttles import AnonRateThrottle, Open311PostThrottle
from . import serializers as s
from .rendering import Open311JSONRenderer, Open311XMLRenderer, open311_exception_handler

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-25T00:00:00+08:00"
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000


class Open311Schema(AutoSchema):
    """One operation per suffix: ids like open311_requests_create_json, one media type each."""

    def _format(self) -> str:
        return "xml" if self.path.endswith(".xml") else "json"

    def get_operation_id(self) -> str:
        verb = "create" if self.method == "POST" else "get"
        return f"open311_{self.view.schema_name}_{verb}_{self._format()}"

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        # Open311 errors are lists of {code, description}; drf-spectacular makes arrays of 2xx answers only.
        if not str(status_code).startswith("2") and is_list_serializer(force_instance(serializer)):
            for media in response.get("content", {}).values():
                media["schema"] = build_array_type(media["schema"])
        return response

    def map_renderers(self, attribute: str) -> list:
        return [r for r in super().map_renderers(attribute) if (attribute == "format" and r == self._format())
                or (attribute == "media_type" and r == ("text/xml" if self._format() == "xml" else "application/json"))]


class Open311View(APIView):
    """Public, anonymous, spec-format errors, JSON or XML chosen by the URL suffix."""

    schema = Open311Schema()
    schema_name = "root"

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]
    renderer_classes = [Open311JSONRenderer, Open311XMLRenderer]
    parser_classes = SMALL_BODY_PARSERS
    xml_root = "root"
    xml_item = "item"
    xml_single_object = False

    def get_exception_handler(self):
        return open311_exception_handler


class DiscoveryView(Open311View):
    schema_name = "discovery"
    xml_root = "discovery"
    xml_single_object = True

    @extend_schema(responses={200: s.DiscoverySerializer},
                   tags=["open311"], auth=[])
    def get(self, request, format=None):
        base = request.build_absolute_uri("/open311/v2/")
        return Response(
            {
                "changeset": CHANGESET,
                "contact": _("六盘水市数字化城市管理监督指挥中心"),
                "key_service": _("API 密钥由平台管理员使用 citygis create_open311_key 命令签发。"),
                "endpoints": [
                    {
                        "specification": SPEC_URL,
                        "url": base,
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["application/json", "text/xml"],
                    }
                ],
            }
        )


class ServiceListView(Open311View):
    schema_name = "services"
    xml_root = "services"
    xml_item = "service"

    @extend_schema(responses={200: s.ServiceSerializer(many=True)},
                   tags=["open311"], auth=[])
    def get(self, request, format=None):
        return Response([domain.service_of(c) for c in domain.categories()])


class ServiceDefinitionView(Open311View):
    schema_name = "service"
    xml_root = "service_definition"
    xml_single_object = True

    @extend_schema(responses={200: s.ServiceDefinitionSerializer, 404: s.Open311ErrorSerializer(many=True)},
                   tags=["open311"], auth=[])
    def get(self, request, code: str, format=None):
        category = domain.get_category(code)
        if category is None:
            return Response([{"code": 404, "description": _("服务代码 %(c)s 不存在。") % {"c": code}}], status=404)
        # metadata is false for every service: no extra attributes.
        return Response({"service_code": category.code, "attributes": []})


class RequestListView(Open311View):
    schema_name = "requests"
    xml_root = "service_requests"
    xml_item = "request"

    def get_throttles(self):
        if self.request.method == "POST":
            return [Open311PostThrottle(), AnonRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        parameters=[s.RequestQuerySerializer],
        responses={200: s.ServiceRequestSerializer(many=True), 400: s.Open311ErrorSerializer(many=True)},
        tags=["open311"],
        auth=[],
    )
    def get(self, request, format=None):
        q = s.RequestQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        params = q.validated_data
        qs = domain.public_cases()
        if params.get("service_request_id"):
            ids = [i for i in params["service_request_id"].split(",") if i.strip()]
            qs = qs.filter(**domain.number_in_lookup(ids))
        else:
            end = params.get("end_date") or timezone.now()
            try:
                start = params.get("start_date") or end - DEFAULT_WINDOW
            except OverflowError:  # end_date in year 1: the default window starts before datetime.min
                raise ValidationError({"end_date": _("结束时间超出范围。")}) from None
            if start > end:
                raise ValidationError({"start_date": _("开始时间晚于结束时间。")})
            qs = qs.filter(**domain.requested_between_lookup(start, end))
            if params.get("service_code"):
                codes = [c.strip() for c in params["service_code"].split(",") if c.strip()]
                qs = qs.filter(**domain.category_in_lookup(codes))
            if params.get("status"):
                qs = domain.filter_open311_status(qs, params["status"])
        cases = list(qs.order_by("-" + domain.REQUESTED_FIELD)[:MAX_REQUESTS])
        return Response(domain.service_requests(cases))

    @extend_schema(
        request={"application/x-www-form-urlencoded": s.RequestCreateSerializer, "application/json": s.RequestCreateSerializer},
        responses={201: s.RequestCreatedSerializer(many=True), 400: s.Open311ErrorSerializer(many=True),
                   403: s.Open311ErrorSerializer(many=True)},
        tags=["open311"],
        auth=[],
    )
    def post(self, request, format=None):
        ser = s.RequestCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        key = ApiKey.objects.lookup(data.get("api_key"))
        if key is None:
            return Response([{"code": 403, "description": _("api_key 无效或缺失。")}], status=status.HTTP_403_FORBIDDEN)
        category = domain.get_category(data["service_code"])
        if category is None:
            raise ValidationError({"service_code": _("服务代码 %(c)s 不存在。") % {"c": data["service_code"]}})
        location = domain.locate(data.get("lat"), data.get("long"), data.get("address_string", ""))
        with transaction.atomic():
            case = domain.create_public_report(
                category=category,
                location=location,
                description=data.get("description", ""),
                contact={k: data[k] for k in ("email", "first_name", "last_name", "phone", "device_id", "account_id") if data.get(k)},
            )
            Open311Submission.objects.create(
                case_id=case.pk, api_key=key, media_url=data.get("media_url", ""), address_string=data.get("address_string", "")
            )
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return Response(
            [{"service_request_id": domain.request_id(case), "service_notice": _("已受理，等待核实。"), "account_id": None}],
            status=status.HTTP_201_CREATED,
        )


class RequestDetailView(Open311View):
    schema_name = "request"
    xml_root = "service_requests"
    xml_item = "request"

    @extend_schema(responses={200: s.ServiceRequestSerializer(many=True), 404: s.Open311ErrorSerializer(many=True)},
                   tags=["open311"], auth=[])
    def get(self, request, request_id: str, format=None):
        case = get_object_or_404(domain.public_cases().filter(**domain.number_in_lookup([request_id])))
        return Response(domain.service_requests([case]))


__all__ = ["DiscoveryView", "RequestDetailView", "RequestListView", "ServiceDefinitionView", "ServiceListView",
           "serializers"]
