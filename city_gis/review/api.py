"""REST: `/api/v1/reviews/` (create, list), `/api/v1/reviews/{number}/` and `…/{number}/report.pdf`.

A review is created from exactly one redline source — `geometry` (GeoJSON geometry/Feature or WKT, in `srs`),
`plot` (a zoning plot code) or `file` (multipart upload: GeoPackage, GeoJSON, zipped Shapefile, CSV) — plus
`use_class`, `far` and `height_m`. Bad input is a 400 naming the field, and nothing is stored. Bounds:
city_gis/review/limits.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.api_parsers import BodyTooLarge, BoundedFormParser, BoundedJSONParser
from city_gis.text_limits import has_control_chars
from layers.jobs_api import JobSerializer, location

from . import limits
from .access import may_review, visible_reviews
from .engine import RulesetBroken, check_proposal, create_review, redline_geojson
from .models import Review
from .redline import RedlineError, area_and_city_check, from_geometry, from_plot, from_upload
from .rules import get_ruleset

NUMBER_PATTERN = r"GH-[0-9]{4}-[0-9]{6,}"
SOURCES = ("geometry", "plot", "file")


class RulesetUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "审查规则集配置有误（图层或字段不存在），请联系管理员"
    default_code = "ruleset_broken"


class ReportUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "报告字体缺失（fonts-wqy-zenhei），请联系管理员"
    default_code = "report_font_missing"


class BoundedMultiPartParser(MultiPartParser):
    """Multipart bodies above the redline upload limit (plus form overhead) are refused with 413 unread."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int((request.META.get("CONTENT_LENGTH") if request is not None else 0) or 0)
        except ValueError:
            length = 0
        if length > limits.max_upload_bytes() + 64 * 1024:
            raise BodyTooLarge(_("上传超过 %(n)d 字节上限（CITYGIS_REVIEW_MAX_UPLOAD_BYTES）。") % {"n": limits.max_upload_bytes()})
        return super().parse(stream, media_type, parser_context)


class _Proposal(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=limits.TITLE_MAX_CHARS,
                                  help_text="项目名称")
    use_class = serializers.CharField(max_length=8, help_text="拟用地性质（GB 50137-2011 代码，如 R2）")
    far = serializers.FloatField(min_value=0, max_value=limits.FAR_MAX, help_text="拟容积率")
    height_m = serializers.FloatField(min_value=0, max_value=limits.HEIGHT_MAX_M, help_text="拟建筑高度（米）")
    srs = serializers.CharField(required=False, max_length=200, help_text="坐标系（缺省 EPSG:4490）")


class ReviewCreateSerializer(_Proposal):
    """JSON body: a geometry or a plot code, and the proposal."""

    geometry = serializers.JSONField(required=False, help_text="红线：GeoJSON 几何（或 Feature）对象，或 WKT 文本")
    plot = serializers.CharField(required=False, max_length=30, help_text="以控规地块为红线：地块编号，如 ZS-KZ01")


class ReviewUploadSerializer(_Proposal):
    """Multipart body: the redline file and the proposal."""

    file = serializers.FileField(help_text="红线文件：GeoPackage、GeoJSON、zip 打包的 Shapefile 或顶点 CSV（lon,lat）")


class ReviewListSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")
    department = serializers.CharField(source="department.code", allow_null=True, default=None)
    report_url = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["number", "title", "author", "department", "created_at", "source", "use_class", "far", "height_m",
                  "redline_area_m2", "ruleset_version", "outcome", "report_url"]

    def get_report_url(self, obj: Review) -> str:
        return f"/api/v1/reviews/{obj.number}/report.pdf"


class ReviewDetailSerializer(ReviewListSerializer):
    redline = serializers.SerializerMethodField()
    inputs = serializers.JSONField()
    data_versions = serializers.JSONField()
    results = serializers.JSONField()

    class Meta(ReviewListSerializer.Meta):
        fields = [*ReviewListSerializer.Meta.fields, "inputs", "data_versions", "results", "redline"]

    def get_redline(self, obj: Review) -> dict:
        import shapely

        return redline_geojson(shapely.from_wkb(bytes(obj.redline.wkb)))


def _clean_text(data: dict, name: str) -> str:
    value = data.get(name) or ""
    if has_control_chars(value):
        raise ValidationError({name: [_("不能包含控制字符。")]})
    return value.strip()


def _redline(request, data: dict):
    """(redline, source, inputs) from exactly one of geometry / plot / file."""
    given = [s for s in SOURCES if data.get(s) not in (None, "")]
    if len(given) != 1:
        raise ValidationError({"geometry": [_("请给出且只给出一种红线：geometry、plot 或 file")]})
    source = given[0]
    srs = _clean_text(data, "srs") or None
    if source == "geometry":
        return from_geometry(data["geometry"], srs), source, {"geometry": data["geometry"], "srs": srs}
    if source == "plot":
        code = _clean_text(data, "plot")
        return from_plot(code), source, {"plot": code}
    upload = data["file"]
    with tempfile.TemporaryDirectory(prefix="citygis-review-up-") as tmp:
        path = Path(tmp) / "upload"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        name = Path(str(upload.name or "upload")).name[:120]
        return from_upload(path, srs, name=name), source, {"file": name, "size": upload.size, "srs": srs}


@extend_schema(tags=["reviews"])
class ReviewListCreateView(generics.ListAPIView):
    """Reviews visible to the caller (newest first); POST runs and stores a new one."""

    serializer_class = ReviewListSerializer
    parser_classes = [BoundedJSONParser, BoundedFormParser, BoundedMultiPartParser]

    def get_queryset(self):
        return visible_reviews(self.request.user).select_related("author", "department")

    @extend_schema(
        request={"application/json": ReviewCreateSerializer, "multipart/form-data": ReviewUploadSerializer},
        responses={201: ReviewDetailSerializer},
        description="规划合规性审查：红线（geometry / plot / file 三选一）与拟用地性质、容积率、高度 → 各规则结论、冲突面积（EPSG:4544 平方米）与比例、地类构成、控规符合性。",
    )
    def post(self, request):
        if not may_review(request.user):
            raise PermissionDenied(_("只有规划分析人员和系统管理员可以发起审查"))
        data = request.data
        if not hasattr(data, "get"):
            raise ValidationError({"geometry": [_("请求体必须是对象")]})
        # the proposal's own fields first (types and bounds), then the redline, then the use-class table
        known = {k: v for k, v in data.items() if k in ("use_class", "far", "height_m", "title", "srs")} \
            if hasattr(data, "items") else {}
        proposal_check = _Proposal(data=known)
        proposal_check.is_valid(raise_exception=True)
        try:
            proposal = check_proposal(proposal_check.validated_data["use_class"], proposal_check.validated_data["far"],
                                      proposal_check.validated_data["height_m"])
            title = _clean_text(proposal_check.validated_data, "title")
            redline, source, inputs = _redline(request, data)
            area = area_and_city_check(redline, source)
            ruleset = get_ruleset()
            review = create_review(user=request.user, redline=redline, area_m2=area, proposal=proposal,
                                   ruleset=ruleset, source=source, title=title,
                                   inputs={**inputs, "use_class": proposal.use_class, "far": proposal.far,
                                           "height_m": proposal.height_m})
        except RedlineError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        except RulesetBroken:
            raise RulesetUnavailable() from None
        return Response(ReviewDetailSerializer(review).data, status=status.HTTP_201_CREATED)


def _visible(request, number: str) -> Review:
    review = visible_reviews(request.user).select_related("author", "department").filter(number=number).first()
    if review is None:
        raise NotFound()
    return review


NUMBER_PARAM = OpenApiParameter("number", {"type": "string", "pattern": f"^{NUMBER_PATTERN}$"},
                                OpenApiParameter.PATH, description="审查编号，如 GH-2026-000123")


@extend_schema(tags=["reviews"])
class ReviewDetailView(APIView):
    """One review: inputs, rule-set version, data versions, results and the redline."""

    @extend_schema(parameters=[NUMBER_PARAM], responses=ReviewDetailSerializer)
    def get(self, request, number: str):
        return Response(ReviewDetailSerializer(_visible(request, number)).data)


class PdfRenderer(BaseRenderer):
    media_type, format, charset = "application/pdf", "pdf", None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


@extend_schema(tags=["reviews"])
class ReviewReportView(APIView):
    """The review report as PDF (figures, map, rule-set version); errors as JSON."""

    renderer_classes = [PdfRenderer, JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        return (PdfRenderer(), PdfRenderer.media_type)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response

    @extend_schema(parameters=[NUMBER_PARAM], responses={(200, "application/pdf"): OpenApiTypes.BINARY},
                   description="审查报告（PDF，含中文）。")
    def get(self, request, number: str):
        from .report import FontMissing, render_pdf

        review = _visible(request, number)
        try:
            pdf = render_pdf(review)
        except FontMissing as exc:
            raise ReportUnavailable(str(exc)) from None
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{review.number}.pdf"'
        return response


class BatchRunSerializer(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    ruleset_version = serializers.CharField(allow_blank=True)
    plots = serializers.IntegerField()
    conflicts = serializers.IntegerField()
    by_rule = serializers.JSONField()
    layer = serializers.CharField()


@extend_schema(tags=["reviews"])
class BatchView(APIView):
    """The latest batch review of every zoning plot (GET); POST queues a new one as a background job."""

    @extend_schema(responses=BatchRunSerializer, description="最近一次批量审查（全部控规地块 × 永久基本农田、生态保护红线）的汇总。")
    def get(self, request):
        from .batch import LAYER
        from .models import BatchRun

        if not may_review(request.user):
            raise PermissionDenied(_("只有规划分析人员和系统管理员可以查看批量审查"))
        run = BatchRun.objects.first()
        return Response({"run": run.pk if run else None, "started_at": run.started_at if run else None,
                         "ruleset_version": run.ruleset_version if run else "", "plots": run.plots if run else 0,
                         "conflicts": run.conflicts if run else 0, "by_rule": run.summary if run else {},
                         "layer": LAYER})

    @extend_schema(request=None, responses={202: JobSerializer},
                   description="提交批量审查任务（后台执行）；202 的 Location 指向任务 /api/v1/jobs/{id}/。")
    def post(self, request):
        from layers.jobs import submit

        from .jobkinds import BATCH

        if not may_review(request.user):
            raise PermissionDenied(_("只有规划分析人员和系统管理员可以发起审查"))
        job = submit(BATCH, {}, request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location(job)})


class ChangeRequestSerializer(serializers.Serializer):
    before = serializers.RegexField(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", max_length=80, help_text="前一期土地利用图层，如 land.parcels")
    after = serializers.RegexField(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", max_length=80, help_text="后一期土地利用图层，如 land.landuse_2026")


class ChangeRunSerializer(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    before = serializers.CharField(allow_blank=True)
    after = serializers.CharField(allow_blank=True)
    changes = serializers.IntegerField()
    area_m2 = serializers.FloatField()
    by_community = serializers.JSONField()
    layer = serializers.CharField()


@extend_schema(tags=["reviews"])
class FarmlandChangeView(APIView):
    """The latest farmland change monitoring run (GET); POST queues a comparison of two land-use layers."""

    parser_classes = [BoundedJSONParser, BoundedFormParser]

    @extend_schema(responses=ChangeRunSerializer, description="最近一次耕地变化监测：按社区、去向地类统计的面积（平方米）。")
    def get(self, request):
        from .changes import run_json
        from .models import ChangeRun

        if not may_review(request.user):
            raise PermissionDenied(_("只有规划分析人员和系统管理员可以查看耕地变化监测"))
        return Response(run_json(ChangeRun.objects.first()))

    @extend_schema(request=ChangeRequestSerializer, responses={202: JobSerializer},
                   description="提交耕地变化监测任务：比较两期土地利用图层（后台执行），结果发布为图层 land.farmland_changes。")
    def post(self, request):
        from layers.jobs import submit

        from .changes import readable_layer
        from .jobkinds import CHANGES

        if not may_review(request.user):
            raise PermissionDenied(_("只有规划分析人员和系统管理员可以发起监测"))
        form = ChangeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        before, after = form.validated_data["before"], form.validated_data["after"]
        try:
            readable_layer(before, "before", request.user)
            readable_layer(after, "after", request.user)
        except RedlineError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        if before == after:
            raise ValidationError({"after": [_("两期图层相同")]})
        job = submit(CHANGES, {"before": before, "after": after}, request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location(job)})
