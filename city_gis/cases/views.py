"""REST for the console: cases (list/filters/GeoJSON, create, detail, transitions, allowed actions), categories."""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.geos import Polygon
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, PermissionDenied, ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.accounts.models import Role
from city_gis.api_parsers import SMALL_BODY_PARSERS
from city_gis.text_limits import has_control_chars
from layers.features import QueryError, parse_bbox

from . import services, workflow
from .access import visible_cases
from .models import Case, Category, Light, State
from .serializers import (
    ActionSpecSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseFeatureCollectionSerializer,
    CaseListSerializer,
    CategoryGroupSerializer,
    CategorySerializer,
    TransitionSerializer,
)


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


FILTER_VALUE_MAX = 500  # characters of one filter parameter
FILTER_CODES_MAX = 100  # comma-separated values of one filter parameter


def _param(name: str, value: str) -> str:
    """A filter parameter's text, refused (400 naming it) if too long or holding control characters (NUL…)."""
    if len(value) > FILTER_VALUE_MAX:
        raise ValidationError({name: f"不超过 {FILTER_VALUE_MAX} 个字符"})
    if has_control_chars(value):
        raise ValidationError({name: "不能包含控制字符"})
    return value


def _codes(name: str, value: str) -> list[str]:
    codes = [v.strip() for v in _param(name, value).split(",") if v.strip()]
    if len(codes) > FILTER_CODES_MAX:
        raise ValidationError({name: f"最多 {FILTER_CODES_MAX} 个值"})
    return codes


def _bbox(value: str) -> Polygon:
    """The one bbox rule of the platform (layers.features.parse_bbox: four finite numbers, min ≤ max)."""
    try:
        parts = parse_bbox(_param("bbox", value))
    except QueryError as exc:
        raise ValidationError({exc.param: str(exc).split(": ", 1)[-1]}) from None
    if not (-180 <= parts[0] <= parts[2] <= 180 and -90 <= parts[1] <= parts[3] <= 90):
        raise ValidationError({"bbox": "bbox 应为 minlon,minlat,maxlon,maxlat（经度 −180…180，纬度 −90…90）"})
    return Polygon.from_bbox(parts)


def _date(name: str, value: str) -> dt.date:
    try:
        d = parse_date(_param(name, value).strip()) if value else None
    except ValueError:  # well-formed but not a date, e.g. 2026-02-30
        d = None
    if d is None:
        raise ValidationError({name: "日期格式应为 YYYY-MM-DD（且须为有效日期）"})
    return d


FILTER_PARAMS = [
    OpenApiParameter("state", str, description="状态，可逗号分隔多个"),
    OpenApiParameter("category", str, description="小类代码（可加 event:/component: 前缀），逗号分隔"),
    OpenApiParameter("source", str), OpenApiParameter("district", str), OpenApiParameter("street", str),
    OpenApiParameter("community", str), OpenApiParameter("cell", str),
    OpenApiParameter("department", str, description="处置部门代码"),
    OpenApiParameter("light", str, enum=Light.values), OpenApiParameter("open", bool),
    OpenApiParameter("supervised", bool),
    OpenApiParameter("created_from", OpenApiTypes.DATE), OpenApiParameter("created_to", OpenApiTypes.DATE),
    OpenApiParameter("bbox", str, description="minlon,minlat,maxlon,maxlat (EPSG:4490)"),
]


@extend_schema(tags=["cases"])
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """案卷：列表（过滤、GeoJSON）、受理员录入热线案卷、详情（含流转记录）、流转操作。"""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, GeoJSONRenderer]
    parser_classes = SMALL_BODY_PARSERS

    def get_serializer_class(self):
        if self.action == "create":
            return CaseCreateSerializer
        if self.action == "retrieve":
            return CaseDetailSerializer
        return CaseListSerializer

    def get_queryset(self) -> QuerySet[Case]:
        qs = visible_cases(self.request.user).select_related("category", "department").with_light()
        if self.action == "retrieve":
            return qs.select_related("reporter", "assignee", "merged_into").prefetch_related(
                "history__actor", "history__department", "attachments__history")
        if self.action not in ("list", "geojson"):
            return qs
        p = self.request.query_params
        if p.get("state"):
            states = _codes("state", p["state"])
            bad = [s for s in states if s not in State.values]
            if bad:
                raise ValidationError({"state": f"未知状态：{', '.join(bad)}"})
            qs = qs.filter(state__in=states)
        if p.get("category"):
            try:
                cats = [services.find_category(c).pk for c in _codes("category", p["category"])]
            except DjangoValidationError:
                raise ValidationError({"category": f"未知类别：{p['category']}"}) from None
            qs = qs.filter(category_id__in=cats)
        for param, column in (("district", "district_code"), ("street", "street_code"),
                              ("community", "community_code"), ("cell", "cell_code"), ("source", "source"),
                              ("department", "department__code")):
            if p.get(param):
                qs = qs.filter(**{f"{column}__in": _codes(param, p[param])})
        if p.get("light"):
            if _param("light", p["light"]) not in Light.values:
                raise ValidationError({"light": f"应为 {'/'.join(Light.values)}"})
            qs = qs.filter(light_now=p["light"])
        if p.get("open") in ("1", "true"):
            qs = qs.open()
        if p.get("supervised") in ("1", "true"):
            qs = qs.filter(supervised=True)
        if p.get("created_from"):
            qs = qs.filter(created_at__date__gte=_date("created_from", p["created_from"]))
        if p.get("created_to"):
            qs = qs.filter(created_at__date__lte=_date("created_to", p["created_to"]))
        if p.get("bbox"):
            qs = qs.filter(location__intersects=_bbox(p["bbox"]))
        return qs

    @extend_schema(parameters=FILTER_PARAMS + [OpenApiParameter("format", str, enum=["json", "geojson"])],
                   responses={(200, "application/json"): CaseListSerializer(many=True),
                              (200, "application/geo+json"): CaseFeatureCollectionSerializer})
    def list(self, request, *args, **kwargs):
        if getattr(request.accepted_renderer, "format", None) == "geojson":
            return self.geojson(request)
        return super().list(request, *args, **kwargs)

    # Always answered as application/geo+json (Response(content_type=…)), whatever renderer was negotiated.
    @extend_schema(parameters=FILTER_PARAMS, responses={(200, "application/geo+json"): CaseFeatureCollectionSerializer})
    @action(detail=False, methods=["get"], renderer_classes=[GeoJSONRenderer, JSONRenderer])
    def geojson(self, request, *args, **kwargs):
        """GeoJSON FeatureCollection of the filtered cases (at most 5,000; `bbox` recommended)."""
        qs = self.get_queryset()
        limit = 5000
        rows = list(qs[: limit + 1])
        data = CaseListSerializer(rows[:limit], many=True).data
        features = [{"type": "Feature", "id": d["id"], "geometry": {"type": "Point", "coordinates": [d["lon"], d["lat"]]},
                     "properties": {k: v for k, v in d.items() if k not in ("lon", "lat")}} for d in data]
        return Response({"type": "FeatureCollection", "features": features, "truncated": len(rows) > limit},
                        content_type="application/geo+json")

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseDetailSerializer})
    def create(self, request, *args, **kwargs):
        if not request.user.has_role(Role.OPERATOR):
            raise PermissionDenied("只有受理员可以录入案卷")
        ser = CaseCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        try:
            case = services.create_case(
                source=v["source"], category_code=v["category_code"], location=ser.location(),
                description=v["description"], reporter=request.user, observed_at=v.get("observed_at"),
                urgency=v.get("urgency") or None, contact=v.get("contact"),
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from None
        case = Case.objects.with_light().get(pk=case.pk)
        return Response(CaseDetailSerializer(case, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TransitionSerializer, responses={200: CaseDetailSerializer, 400: OpenApiTypes.OBJECT,
                                                           403: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def transitions(self, request, pk=None):
        """Take a workflow action: `{"action": "dispatch", "department": "sanitation", "note": "…"}`."""
        case = self.get_object()
        if not isinstance(request.data, dict):
            raise ParseError("请求体应为 JSON 对象")
        ser = TransitionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        # Only the action's declared, validated fields — never the raw body (keys like `user` or `case`).
        fields = ser.validated_data["fields"]
        try:
            workflow.perform(case, ser.validated_data["action"], request.user, **fields)
        except workflow.IllegalTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc) or None) from None
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from None
        case = self.get_queryset().get(pk=case.pk)
        return Response(CaseDetailSerializer(case, context={"request": request}).data)

    @extend_schema(responses=ActionSpecSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # a plain list, never paginated
    def allowed_actions(self, request, pk=None):
        """Actions the current user may take on this case now (buttons of the console)."""
        case = self.get_object()
        return Response([a.as_dict() for a in workflow.allowed_actions(case, request.user)])


@extend_schema(tags=["cases"], responses=CategoryGroupSerializer(many=True))
class CategoryTreeView(APIView):
    """部件/事件分类树：[{kind, big_code, big_name_zh, big_name_en, children: [小类…]}]。"""

    def get(self, request):
        tree: dict[tuple[str, str], dict] = {}
        for cat in Category.objects.filter(active=True).select_related("default_department"):
            node = tree.setdefault((cat.kind, cat.big_code), {
                "kind": cat.kind, "big_code": cat.big_code, "big_name_zh": cat.big_name_zh,
                "big_name_en": cat.big_name_en, "children": []})
            node["children"].append(CategorySerializer(cat).data)
        return Response(list(tree.values()))
