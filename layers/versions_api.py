"""REST API of layer versions: `/api/v1/layers/{name}/versions/` (list), `…/versions/{number}/` (metadata and the
layer's features as of that version, paged), `…/versions/{number}/diff/?from={m}` (added / changed / removed).
Rollback (`POST /api/v1/layers/{name}/rollback/`) is an action of the layer (layers.api).

Who reads: whoever reads the whole layer (layers.access.visible_layers / can_read); the history of a retired
layer stays readable for those who may write it (its department's data stewards, admins). Domain layers read
only row-filtered have no versions (their rows are not written by the registry). Hidden layers answer 404.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from .access import can_write, visible_layers
from .models import Layer, LayerVersion, VersionKind
from .versions import DEFAULT_PAGE, MAX_PAGE, diff, is_versioned, state_at

NAME_PARAM = OpenApiParameter("name", str, OpenApiParameter.PATH, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
                              description=_lazy("图层名 <主题>.<名称>"))
NUMBER_PARAM = OpenApiParameter("number", {"type": "integer", "minimum": 1, "maximum": 999_999_999},
                                OpenApiParameter.PATH, description=_lazy("版本号（1 起）"))
DIGITS_MAX = 9  # version numbers and paging values: longer input is refused before int()
PAGE_PARAMS = [
    OpenApiParameter("limit", {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
                     description=_lazy("每页要素数，默认 %(d)s，最多 %(m)s") % {"d": DEFAULT_PAGE, "m": MAX_PAGE}),
    OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": 999_999_999},
                     description=_lazy("跳过的要素数")),
]


def integer(raw: str | None, name: str, *, low: int = 0, high: int = 999_999_999, default: int | None = None) -> int:
    """The integer `raw` in [low, high], else a 400 naming `name` (missing: `default`, or 400 when None)."""
    if raw in (None, ""):
        if default is None:
            raise ValidationError({name: _("必填，取 %(low)s–%(high)s 的整数") % {"low": low, "high": high}})
        return default
    if len(raw) > DIGITS_MAX or not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError({name: _("必须是 %(low)s–%(high)s 的整数，得到 %(raw)s")
                               % {"low": low, "high": high, "raw": repr(raw[:40])}})
    return int(raw)


def history_layer(user, name: str) -> Layer:
    """The layer whose history `user` may read, else 404: a visible one, or a retired one the user may write."""
    layer = visible_layers(user).filter(name=name).first()
    if layer is None:
        layer = Layer.objects.filter(name=name, retired_at__isnull=False).first()
        if layer is None or not can_write(user, layer):
            raise NotFound(_("图层不存在或不可见：%(name)s") % {"name": name})
    return layer


@extend_schema_field({"type": "string", "enum": list(VersionKind.values)})
class VersionKindField(serializers.CharField):
    """What made the version, documented inline (a shared `kind` enum name would collide with the layer's)."""


class LayerVersionSerializer(serializers.ModelSerializer):
    """Who made a version, when, why, how much it changed and where."""

    kind = VersionKindField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    extent = serializers.SerializerMethodField(help_text=_lazy("变更范围 [minx, miny, maxx, maxy]，EPSG:4490"))

    class Meta:
        model = LayerVersion
        fields = ["number", "kind", "comment", "created_by", "created_at", "rows_added", "rows_changed",
                  "rows_removed", "feature_count", "extent", "restores"]
        read_only_fields = fields

    def get_extent(self, version: LayerVersion) -> list[float] | None:
        return list(version.extent.extent) if version.extent else None


FEATURES = inline_serializer("VersionFeatureCollection", {
    "type": serializers.CharField(), "numberMatched": serializers.IntegerField(),
    "numberReturned": serializers.IntegerField(), "features": serializers.ListField(child=serializers.DictField()),
})
VERSION_DETAIL = inline_serializer("LayerVersionDetail", {
    "version": LayerVersionSerializer(), "features": FEATURES,
})
VERSION_DIFF = inline_serializer("LayerVersionDiff", {
    "from": serializers.IntegerField(), "to": serializers.IntegerField(),
    "added": FEATURES, "changed": FEATURES, "removed": FEATURES,
})


def collection(matched: int, features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "numberMatched": matched, "numberReturned": len(features),
            "features": features}


@extend_schema(parameters=[NAME_PARAM])
class LayerVersionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`/api/v1/layers/{name}/versions/…`"""

    serializer_class = LayerVersionSerializer
    permission_classes = [permissions.AllowAny]  # the layer's own read rule decides (history_layer)
    lookup_field = "number"
    lookup_value_regex = r"[^/]+"  # checked by integer(): a non-number is a 400 naming it, not a 404

    def layer(self) -> Layer:
        return history_layer(self.request.user, self.kwargs["name"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspecting the view: no layer
            return LayerVersion.objects.none()
        layer = self.layer()
        if not is_versioned(layer):
            return LayerVersion.objects.none()
        return LayerVersion.objects.filter(layer=layer).select_related("created_by").order_by("-number")

    def version(self) -> tuple[Layer, LayerVersion]:
        layer = self.layer()
        number = integer(self.kwargs["number"], "number", low=1)
        found = LayerVersion.objects.filter(layer=layer, number=number).select_related("created_by").first()
        if found is None:
            raise NotFound(_("%(layer)s 没有版本 %(n)s") % {"layer": layer.name, "n": number})
        return layer, found

    def _page(self) -> tuple[int, int]:
        q = self.request.query_params
        return (integer(q.get("limit"), "limit", high=MAX_PAGE, default=DEFAULT_PAGE),
                integer(q.get("offset"), "offset", default=0))

    @extend_schema(description=_lazy("图层的版本（新的在前）：谁、何时、说明、新增/修改/删除的要素数、变更范围。"))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[NUMBER_PARAM, *PAGE_PARAMS], responses={200: VERSION_DETAIL},
                   description=_lazy("版本信息，以及该版本时图层的要素（GeoJSON，EPSG:4490，按要素编号分页）。"))
    def retrieve(self, request, *args, **kwargs):
        layer, version = self.version()
        limit, offset = self._page()
        matched, features = state_at(layer, version.number, limit=limit, offset=offset)
        return Response({"version": LayerVersionSerializer(version).data, "features": collection(matched, features)})

    @extend_schema(
        parameters=[NUMBER_PARAM, OpenApiParameter("from", {"type": "integer", "minimum": 1, "maximum": 999_999_999},
                                                   required=True, description=_lazy("起始版本号（不大于 number）")),
                    *PAGE_PARAMS],
        responses={200: VERSION_DIFF},
        description=_lazy("从版本 from 到版本 number 的变化：新增、修改（新状态）、删除（旧状态）的要素，"
                          "每类分别分页。"))
    @action(detail=True, methods=["get"])
    def diff(self, request, *args, **kwargs):
        layer, version = self.version()
        start = integer(request.query_params.get("from"), "from", low=1)
        if start > version.number:
            raise ValidationError({"from": _("不能大于版本号 %(n)s") % {"n": version.number}})
        if not LayerVersion.objects.filter(layer=layer, number=start).exists():
            raise ValidationError({"from": _("版本 %(n)s 不存在") % {"n": start}})
        limit, offset = self._page()
        d = diff(layer, start, version.number, limit=limit, offset=offset)
        return Response({"from": start, "to": version.number,
                         **{k: collection(d.counts[k], d.features[k]) for k in ("added", "changed", "removed")}})
