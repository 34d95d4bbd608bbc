"""Catalog REST API: layer metadata, features as GeoJSON, import (multipart upload) and export.

Reading is open to everyone but filtered by layers.access (hidden layers answer 404). A domain layer a user
may read only in part (a handler's cases in cases.*) is listed and its `features` row-filtered by
layers.access.row_filter; `export` needs the whole layer (404 otherwise), like the OGC services. Writing needs
layers.access.can_write, creating a layer may_create_layer / may_publish_to_theme (403 otherwise).

Imports above CITYGIS_IMPORT_ASYNC_BYTES, or any with `?async=1`, run in a background job (layers.jobs): the
answer is 202 with `Location: /api/v1/jobs/{id}/`; `?async=0` keeps a large one in the request. Every import,
and `POST …/rollback/`, makes a layer version (layers.versions; read them in layers.versions_api).
`DELETE /api/v1/layers/{name}/` retires a layer: it leaves every service, its rows and history stay.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from . import jobs
from .access import can_write, may_create_layer, may_publish_to_theme, row_filter, visible_layers
from .exporter import CONTENT_TYPES, FORMATS, ExportError, export_response
from .features import QueryError, parse_bbox, parse_filter, query_features
from .importer import LayerCreate, LayerImportError, import_file
from .jobkinds import IMPORT, import_params
from .jobs_api import JobSerializer, location
from .models import Classification, Layer, Theme
from .versions import MAX_COMMENT, VersionError
from .versions import rollback as rollback_to
from .versions_api import LayerVersionSerializer

CRS_URN = "urn:ogc:def:crs:EPSG::4490"
# Paging bounds are read per request (settings CITYGIS_FEATURES_MAX_LIMIT / _MAX_OFFSET); these name the
# defaults in the API schema.
MAX_LIMIT = settings.CITYGIS_FEATURES_MAX_LIMIT
MAX_OFFSET = settings.CITYGIS_FEATURES_MAX_OFFSET
DEFAULT_LIMIT = 100
# Schema of a bbox parameter: four comma-separated numbers (layers.features.parse_bbox checks it, and min ≤ max).
_NUMBER = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
BBOX_PARAM = OpenApiParameter("bbox", {"type": "string", "pattern": rf"^{_NUMBER}(?:,{_NUMBER}){{3}}$"},
                              description=_lazy('minx,miny,maxx,maxy（经度,纬度，EPSG:4490），最小值不大于最大值'))
# Actions that serve rows one request at a time and apply the reader's row filter; the others (export, import)
# need the whole layer.
ROW_FILTERED_ACTIONS = ("list", "retrieve", "features")
# Uploads larger than this are imported by a background job unless the client asks `?async=0`.
ASYNC_BYTES = int(settings.CITYGIS_IMPORT_ASYNC_BYTES)
ASYNC_PARAM = OpenApiParameter("async", str, enum=["0", "1"], description=_lazy(
    "1：在后台任务中导入（202 + Location）；0：在请求中导入；缺省：超过 %(n)s 字节的文件在后台导入") % {"n": ASYNC_BYTES})
LOCATION_HEADER = OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                                   description=_lazy("后台任务的地址 /api/v1/jobs/{id}/"))


class OwnerSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(source="name_zh")


class LayerSerializer(serializers.ModelSerializer):
    """Everything a client needs to find, describe and show a layer."""

    owner = OwnerSerializer(read_only=True)
    bbox = serializers.SerializerMethodField(help_text=_lazy('[minx, miny, maxx, maxy]，EPSG:4490 经度/纬度'))
    wms_layer = serializers.CharField(source="name", read_only=True)
    legend_url = serializers.SerializerMethodField()
    tile_url = serializers.SerializerMethodField()
    features_url = serializers.SerializerMethodField()

    class Meta:
        model = Layer
        fields = [
            "name", "title_zh", "title_en", "abstract", "theme", "owner", "kind", "geometry_type", "srid",
            "classification", "keywords", "update_frequency", "bbox", "feature_count", "last_update",
            "wms_layer", "style", "legend_url", "tile_url", "features_url", "min_zoom", "max_zoom",
            "cacheable", "is_generic",
        ]
        read_only_fields = fields

    def get_bbox(self, layer: Layer) -> list[float] | None:
        return list(layer.bbox) if layer.bbox else None

    def get_legend_url(self, layer: Layer) -> str:
        # layer names are [a-z0-9_.] only: nothing to escape
        return f"/ows?SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER={layer.name}&FORMAT=image/png&VERSION=1.3.0&SLD_VERSION=1.1.0"

    def get_tile_url(self, layer: Layer) -> str:
        return f"/tiles/{layer.name}/webmercator/{{z}}/{{x}}/{{y}}.png"

    def get_features_url(self, layer: Layer) -> str | None:
        return f"/api/v1/layers/{layer.name}/features/" if layer.kind == "vector" else None


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    srs = serializers.CharField(required=False, allow_blank=True, help_text=_lazy('源坐标系，如 EPSG:4544（文件未声明时必填）'))
    skip_rejected = serializers.BooleanField(required=False, default=False)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_COMMENT,
                                    help_text=_lazy("版本说明"))


class ImportSerializer(UploadSerializer):
    mode = serializers.ChoiceField(choices=["append", "replace"], default="append")
    key = serializers.RegexField(r"^[^\x00-\x1f]{1,60}$", required=False, help_text=_lazy(
        "replace 时识别同一要素的属性（专题图层默认其唯一编号列；缺省时按几何与属性完全相同识别）"))


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=999_999_999)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_COMMENT)


class CreateSerializer(UploadSerializer):
    name = serializers.CharField()
    title_zh = serializers.CharField()
    title_en = serializers.CharField(required=False, allow_blank=True, default="")
    abstract = serializers.CharField(required=False, allow_blank=True, default="")
    theme = serializers.ChoiceField(choices=Theme.choices, required=False)
    department = serializers.CharField(required=False, help_text=_lazy('责任部门代码；默认为当前用户所在部门'))
    classification = serializers.ChoiceField(choices=Classification.choices, default=Classification.INTERNAL)


ReportSerializer = inline_serializer(
    "ImportReport",
    {
        "layer": serializers.CharField(), "mode": serializers.CharField(), "source_crs": serializers.CharField(),
        "rows_read": serializers.IntegerField(), "rows_written": serializers.IntegerField(),
        "rows_rejected": serializers.IntegerField(), "rows_repaired": serializers.IntegerField(),
        "rows_deleted": serializers.IntegerField(), "created": serializers.BooleanField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
        "bbox": serializers.ListField(child=serializers.FloatField(), allow_null=True),
        "version": serializers.IntegerField(allow_null=True), "rows_added": serializers.IntegerField(),
        "rows_changed": serializers.IntegerField(), "rows_removed": serializers.IntegerField(),
    },
)


def _int_param(request, name: str, default: int, maximum: int) -> int:
    """The non-negative integer query parameter `name` (≤ `maximum`), else a 400 naming it."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    # digits only: int() would also take "+1", " 1", "1_000" and (slowly) thousands of digits
    if len(raw) > 20 or not raw.isascii() or not raw.isdigit():
        raise ValidationError({name: _("必须是 0–%(maximum)s 的整数，得到 %(raw)s") % {"maximum": maximum, "raw": repr(raw[:40])}})
    value = int(raw)
    if value > maximum:
        raise ValidationError({name: _("取值范围 0–%(maximum)s，得到 %(value)s") % {"maximum": maximum, "value": value}})
    return value


def _wants_async(request, upload) -> bool:
    raw = request.query_params.get("async")
    if raw in (None, ""):
        return upload.size > ASYNC_BYTES
    if raw not in ("0", "1"):
        raise ValidationError({"async": _("取 0 或 1")})
    return raw == "1"


def _import_or_queue(request, upload, layer_name: str, ok_status: int, **kwargs) -> Response:
    """Import the upload now (`ok_status` + report), or queue it as a background job (202 + Location)."""
    if upload.size > settings.CITYGIS_IMPORT_MAX_BYTES:
        raise ValidationError({"file": _("文件超过上限 %(citygis_import_max_bytes)s 字节") % {"citygis_import_max_bytes": settings.CITYGIS_IMPORT_MAX_BYTES}})
    if not _wants_async(request, upload):
        return Response(_run_import(upload, layer_name, request.user, **kwargs), status=ok_status)
    folder = jobs.new_folder()
    file = f"upload{Path(upload.name or '').suffix.lower()[:10]}"
    with (folder / file).open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    job = jobs.submit(IMPORT, import_params(file=file, name=upload.name or "file", layer=layer_name,
                                            user=request.user, **kwargs), request.user, folder=folder)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location(job)})


def _run_import(upload, layer_name: str, user, **kwargs) -> dict:
    """Save the upload to a temporary file (keeping only its extension) and import it."""
    suffix = Path(upload.name or "").suffix.lower()[:10]
    with tempfile.TemporaryDirectory(prefix="citygis-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            return import_file(path, layer_name, user=user, **kwargs).to_dict()
        except LayerImportError as exc:
            detail = {exc.field: str(exc).replace(str(path), upload.name or "file")}
            if exc.report:
                detail["report"] = exc.report
            raise ValidationError(detail) from exc
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc


class LayerViewSet(viewsets.ReadOnlyModelViewSet):
    """`/api/v1/layers/`: the layer catalog."""

    serializer_class = LayerSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"
    pagination_class = None

    def get_permissions(self):
        if self.action in ("create", "import_features", "rollback", "destroy"):
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    def perform_content_negotiation(self, request, force=False):
        # `?format=gpkg` on export names the file format, not a DRF renderer: don't let DRF 404 on it.
        if getattr(self, "action", None) == "export":
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    def get_queryset(self):
        # Domain layers a user reads only in part (cases of their department) are listed and served row-filtered
        # by `features`; export needs the whole layer, like the OGC services.
        partial = getattr(self, "action", None) in ROW_FILTERED_ACTIONS
        qs = visible_layers(self.request.user, partial=partial).select_related("owner")
        theme = self.request.query_params.get("theme")
        owner = self.request.query_params.get("owner")
        if theme:
            if theme not in Theme.values:
                raise ValidationError({"theme": _("未知主题；可选：%(all)s") % {"all": ", ".join(Theme.values)}})
            qs = qs.filter(theme=theme)
        if owner:
            if len(owner) > 50 or not owner.isascii() or not owner.replace("_", "").replace("-", "").isalnum():
                raise ValidationError({"owner": _("部门代码只能由字母、数字、下划线组成")})
            qs = qs.filter(owner__code=owner)
        return qs

    @extend_schema(parameters=[
        OpenApiParameter("theme", str, enum=list(Theme.values), description=_lazy('按主题过滤，如 land')),
        OpenApiParameter("owner", str, description=_lazy('按责任部门代码过滤，如 land')),
    ])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": CreateSerializer},
        parameters=[ASYNC_PARAM, LOCATION_HEADER],
        responses={201: ReportSerializer, 202: JobSerializer},
        description=_lazy('新建通用图层并导入文件（zip Shapefile / GeoPackage / GeoJSON / CSV）；大文件在后台任务中导入（202）。'),
    )
    def create(self, request):
        form = CreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        department = data.get("department") or getattr(request.user.department, "code", None)
        if not department:
            raise ValidationError({"department": _('必须指定责任部门')})
        theme = data.get("theme") or data["name"].split(".", 1)[0]
        if not may_publish_to_theme(request.user, theme):
            raise PermissionDenied({"theme": _("无权向主题 %(theme)s 发布图层（底图主题仅限底图部门与管理员）") % {"theme": theme}})
        if not may_create_layer(request.user, department, theme):
            raise PermissionDenied({"department": _("无权为部门 %(department)s 创建图层") % {"department": department}})
        spec = LayerCreate(department=department, title_zh=data["title_zh"], title_en=data["title_en"],
                           theme=data.get("theme"), classification=data["classification"], abstract=data["abstract"])
        return _import_or_queue(request, data["file"], data["name"], status.HTTP_201_CREATED, create=spec,
                                srs=data.get("srs") or None, skip_rejected=data["skip_rejected"],
                                comment=data["comment"])

    @extend_schema(request={"multipart/form-data": ImportSerializer}, parameters=[ASYNC_PARAM, LOCATION_HEADER],
                   responses={200: ReportSerializer, 202: JobSerializer},
                   description=_lazy('向已有图层导入文件；mode=replace 先清空。仅责任部门的数据管理员或管理员。'
                                     '大文件在后台任务中导入（202）。'))
    @action(detail=True, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_features(self, request, name=None):
        layer = self.get_object()
        if not can_write(request.user, layer):
            raise PermissionDenied(_("无权写入图层 %(layer)s") % {"layer": layer.name})
        form = ImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        return _import_or_queue(request, data["file"], layer.name, status.HTTP_200_OK, srs=data.get("srs") or None,
                                mode=data["mode"], skip_rejected=data["skip_rejected"], comment=data["comment"],
                                key=data.get("key"))

    @extend_schema(request=RollbackSerializer, responses={201: LayerVersionSerializer},
                   description=_lazy('回滚：生成一个新版本，其要素与指定版本相同。仅责任部门的数据管理员或管理员。'))
    @action(detail=True, methods=["post"])
    def rollback(self, request, name=None):
        layer = self.get_object()
        if not can_write(request.user, layer):
            raise PermissionDenied(_("无权写入图层 %(layer)s") % {"layer": layer.name})
        form = RollbackSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            version = rollback_to(layer, request.user, form.validated_data["version"], form.validated_data["comment"])
        except VersionError as exc:
            raise ValidationError({exc.field: str(exc)}) from exc
        return Response(LayerVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None},
                   description=_lazy('停用图层：从 WMS/WMTS/WFS/OGC API/目录中移除；数据与版本历史保留。'
                                     '仅责任部门的数据管理员或管理员。'))
    def destroy(self, request, name=None):
        layer = self.get_object()
        if not can_write(request.user, layer):
            raise PermissionDenied(_("无权停用图层 %(layer)s") % {"layer": layer.name})
        layer.retired_at = timezone.now()
        layer.save(update_fields=["retired_at", "updated_at"])  # post_save: the tileserver regenerates
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            BBOX_PARAM,
            OpenApiParameter("limit", int, description=_lazy("每页要素数，默认 %(default_limit)s，最多 %(max_limit)s") % {"default_limit": DEFAULT_LIMIT, "max_limit": MAX_LIMIT}),
            OpenApiParameter("offset", int, description=_lazy("跳过的要素数，最多 %(max_offset)s") % {"max_offset": MAX_OFFSET}),
            OpenApiParameter("filter", {"type": "string", "pattern": r"^\s*[^=\s][^=]*="},
                             description=_lazy('属性过滤 <属性>=<值>')),
        ],
        responses={(200, "application/geo+json"): OpenApiTypes.OBJECT},
        description=_lazy('要素 GeoJSON（EPSG:4490，坐标顺序为经度、纬度），分页。'),
    )
    @action(detail=True, methods=["get"])
    def features(self, request, name=None):
        layer = self.get_object()
        if layer.kind != "vector":
            raise NotFound(_("%(layer)s 是栅格图层，没有要素") % {"layer": layer.name})
        max_limit = settings.CITYGIS_FEATURES_MAX_LIMIT
        limit = _int_param(request, "limit", min(DEFAULT_LIMIT, max_limit), max_limit)
        offset = _int_param(request, "offset", 0, settings.CITYGIS_FEATURES_MAX_OFFSET)
        try:
            page = query_features(layer, bbox=parse_bbox(request.query_params.get("bbox")),
                                  filter_=parse_filter(request.query_params.get("filter")), limit=limit, offset=offset,
                                  rows=row_filter(request.user, layer))
        except QueryError as exc:
            raise ValidationError({exc.param: str(exc)}) from exc
        features = [
            {"type": "Feature", "id": f["id"], "geometry": json.loads(f["geometry"]) if f["geometry"] else None,
             "properties": f["properties"]}
            for f in page.features
        ]
        body = {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": CRS_URN}},
            "crs_note": "CGCS2000（EPSG:4490），坐标顺序为经度、纬度 / lon,lat order",
            "numberMatched": page.number_matched,
            "numberReturned": len(features),
            "features": features,
            "links": self._links(request, page.number_matched, limit, offset),
        }
        return Response(body, content_type="application/geo+json")

    def _links(self, request, matched: int, limit: int, offset: int) -> list[dict]:
        links = [{"rel": "self", "href": request.build_absolute_uri()}]
        params = request.query_params.copy()
        if offset + limit < matched:
            params["offset"], params["limit"] = str(offset + limit), str(limit)
            links.append({"rel": "next", "href": request.build_absolute_uri(f"?{params.urlencode()}")})
        if offset > 0:
            params["offset"], params["limit"] = str(max(0, offset - limit)), str(limit)
            links.append({"rel": "prev", "href": request.build_absolute_uri(f"?{params.urlencode()}")})
        return links

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=[*FORMATS], required=True),
            BBOX_PARAM,
            OpenApiParameter("csv_geometry", str, enum=["auto", "wkt", "lonlat"]),
        ],
        # One media type per file format (exporter.CONTENT_TYPES, without the charset parameter); GeoJSON is JSON.
        responses={(200, CONTENT_TYPES[fmt].split(";")[0]): OpenApiTypes.OBJECT if fmt == "geojson"
                   else OpenApiTypes.BINARY for fmt in FORMATS},
        description=_lazy('导出图层：gpkg、geojson、shp（zip）、csv（WKT 或经纬度）。'),
    )
    @action(detail=True, methods=["get"])
    def export(self, request, name=None):
        layer = self.get_object()
        fmt = request.query_params.get("format", "")
        # `format` is also DRF's renderer override: it's consumed here, so answer JSON errors explicitly.
        if fmt not in FORMATS:
            raise ValidationError({"format": _('取 %(value)s 之一') % {'value': ', '.join(FORMATS)}})
        csv_geometry = request.query_params.get("csv_geometry", "auto")
        if csv_geometry not in ("auto", "wkt", "lonlat"):
            raise ValidationError({"csv_geometry": _('取 auto、wkt、lonlat 之一')})
        try:
            bbox = parse_bbox(request.query_params.get("bbox"))
        except QueryError as exc:
            raise ValidationError({exc.param: str(exc)}) from exc
        try:  # GeoJSON/CSV stream page by page; GeoPackage/Shapefile come from a temp file (layers.exporter)
            return export_response(layer, fmt, bbox=bbox, csv_geometry=csv_geometry)
        except ExportError as exc:
            raise ValidationError({exc.param: str(exc)}) from exc

