"""REST: figures, drill-down and export of the evaluation (`/api/v1/evaluation/…`). Read-only."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.text_limits import has_control_chars

from .access import scope_for
from .engine import UnknownUnit, drilldown, evaluate, get_level
from .export import CONTENT_TYPES, FORMATS, export
from .indicators import LEVELS
from .periods import PERIOD_PATTERNS, Period, PeriodError, resolve_period

UNIT_MAX_LENGTH = 150  # area codes, department codes and usernames (150 = Django's username limit)
LEVEL_PARAM = OpenApiParameter("level", str, enum=list(LEVELS), required=True, description="评价层级")
# The schema's enum/pattern are built from the tables the view validates against (never a second copy).
INDICATORS = list(dict.fromkeys(name for level in LEVELS.values() for name in level.indicators))
PERIOD_PATTERN = "^(?:" + "|".join(p.pattern.strip("^$") for p, _kind in PERIOD_PATTERNS) + ")$"
PERIOD_PARAMS = [
    OpenApiParameter("period", {"type": "string", "pattern": PERIOD_PATTERN},
                     description="2026 | 2026-Q4 | 2026-W44 | 2026-10 | 2026-10-05（缺省：本月）"),
    OpenApiParameter("start", OpenApiTypes.DATE, description="开始日期（与 end 同用，代替 period）"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="结束日期（含）"),
]
PERIOD_SCHEMA = inline_serializer("EvaluationPeriod", {
    "label": serializers.CharField(), "start": serializers.DateField(), "end": serializers.DateField(),
})
UNIT_SCHEMA = inline_serializer("EvaluationUnit", many=True, fields={
    "level": serializers.CharField(), "unit": serializers.CharField(), "name": serializers.CharField(),
    "counts": serializers.DictField(child=serializers.DictField(child=serializers.IntegerField())),
    "rates": serializers.DictField(child=serializers.FloatField(allow_null=True)),
    "case_density": serializers.FloatField(allow_null=True), "volume_score": serializers.FloatField(allow_null=True),
    "score": serializers.FloatField(), "grade": serializers.CharField(),
})


def _level(request) -> str:
    level = request.query_params.get("level", "")
    if level not in LEVELS:
        raise ValidationError({"level": _("未知层级 %(v)s，可选：%(all)s") % {"v": level, "all": ", ".join(LEVELS)}})
    return level


def _period(request) -> Period:
    q = request.query_params
    try:
        return resolve_period(q.get("period"), q.get("start"), q.get("end"))
    except PeriodError as exc:
        raise ValidationError({exc.field: exc.message}) from None


def _period_json(period: Period) -> dict:
    import datetime as dt

    return {"label": period.label, "start": period.start, "end": period.end - dt.timedelta(days=1)}


def _results(request, level: str, period: Period):
    scope = scope_for(request.user)
    if not scope.allows(level):
        raise PermissionDenied(_("无权查看该层级的评价"))
    results = evaluate(level, period)
    if not scope.all:
        results = [r for r in results if r.unit == scope.unit]
    return results


class EvaluationView(APIView):
    """Figures of every unit of a level for a period, best score first."""

    @extend_schema(
        parameters=[LEVEL_PARAM, *PERIOD_PARAMS],
        responses=inline_serializer("EvaluationResult", {
            "level": serializers.CharField(), "period": PERIOD_SCHEMA, "results": UNIT_SCHEMA,
        }),
        description="综合评价：各单元的比率（0–1）、综合得分（0–100）与等级（A–E）。",
    )
    def get(self, request):
        level, period = _level(request), _period(request)
        results = _results(request, level, period)
        return Response({"level": level, "period": _period_json(period), "results": [r.as_dict() for r in results]})


class DrilldownView(APIView):
    """The cases behind one figure: every counted item of the denominator, flagged when in the numerator."""

    @extend_schema(
        parameters=[
            LEVEL_PARAM,
            OpenApiParameter("unit", {"type": "string", "minLength": 1, "maxLength": UNIT_MAX_LENGTH},
                             required=True, description="区域代码、部门代码或用户名"),
            OpenApiParameter("indicator", str, enum=INDICATORS, required=True,
                             description="指标名（可选值随层级而定，见 level）"),
            *PERIOD_PARAMS,
        ],
        responses=inline_serializer("EvaluationDrilldown", {
            "level": serializers.CharField(), "unit": serializers.CharField(),
            "indicator": serializers.CharField(), "period": PERIOD_SCHEMA,
            "numerator": serializers.IntegerField(), "denominator": serializers.IntegerField(),
            "cases": inline_serializer("EvaluationDrillCase", {
                "id": serializers.IntegerField(), "number": serializers.CharField(),
                "at": serializers.DateTimeField(), "in_numerator": serializers.BooleanField(),
            }, many=True),
        }),
        description="下钻：某单元某指标背后的案卷（分母各项，并标明是否计入分子）。",
    )
    def get(self, request):
        level, period = _level(request), _period(request)
        unit = request.query_params.get("unit", "").strip()
        indicator = request.query_params.get("indicator", "").strip()
        if not unit:
            raise ValidationError({"unit": _("必填")})
        if len(unit) > UNIT_MAX_LENGTH or has_control_chars(unit):
            raise ValidationError({"unit": _("不超过 %(n)d 个字符，且不能包含控制字符") % {"n": UNIT_MAX_LENGTH}})
        if indicator not in get_level(level).indicators:
            raise ValidationError({"indicator": _("层级 %(l)s 没有指标 %(i)s，可选：%(all)s") % {
                "l": level, "i": indicator, "all": ", ".join(get_level(level).indicators)}})
        if not scope_for(request.user).allows(level, unit):
            raise PermissionDenied(_("无权查看该单元的评价"))
        try:
            rows = drilldown(level, unit, indicator, period)
        except UnknownUnit as exc:
            raise ValidationError({"unit": str(exc)}) from None
        return Response({
            "level": level, "unit": unit, "indicator": indicator, "period": _period_json(period),
            "numerator": sum(r.in_numerator for r in rows), "denominator": len(rows),
            "cases": [{"id": r.case_id, "number": r.number, "at": r.at, "in_numerator": r.in_numerator}
                      for r in rows],
        })


class _FileRenderer(BaseRenderer):
    """Lets DRF's `?format=` negotiation accept csv/xlsx (the view builds the bytes itself)."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class CsvRenderer(_FileRenderer):
    media_type, format = "text/csv", "csv"


class XlsxRenderer(_FileRenderer):
    media_type, format = CONTENT_TYPES["xlsx"], "xlsx"


class ExportView(APIView):
    """The figures of a level as a CSV or XLSX file (errors as JSON)."""

    renderer_classes = [CsvRenderer, XlsxRenderer, JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # An unknown ?format= is the client's choice of file format: a 400 naming `format`, not DRF's bare 404.
        fmt = request.query_params.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise ValidationError({"format": _("可选：%(all)s") % {"all": ", ".join(FORMATS)}})
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        # Errors are JSON whatever file format was negotiated (the file renderers only pass bytes through).
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response

    @extend_schema(
        parameters=[LEVEL_PARAM, *PERIOD_PARAMS,
                    OpenApiParameter("format", str, enum=list(FORMATS), description="csv（默认）或 xlsx")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY},
        description="导出综合评价结果（CSV 或 XLSX）。",
    )
    def get(self, request):
        level, period = _level(request), _period(request)
        fmt = request.query_params.get("format", "csv")
        if fmt not in FORMATS:
            raise ValidationError({"format": _("可选：%(all)s") % {"all": ", ".join(FORMATS)}})
        results = _results(request, level, period)
        response = HttpResponse(export(level, period, results, fmt), content_type=CONTENT_TYPES[fmt])
        filename = f"evaluation-{level}-{period.label.replace('~', '_')}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
