"""The layer registry: one row per published dataset, the single source for the tileserver, the catalog API
and the map viewer.

A vector layer points at a PostGIS table or view (`source_table`, `id_column`, `geom_column`, optional
`source_where`, a structured row filter: layers/source_filter.py) stored in EPSG:4490. A raster layer points at a GeoTIFF/COG file (`raster_path`).

`style` is a JSON document (see layers/style.py for the schema):
    {"fill": "#a6cee3", "stroke": "#1f78b4", "stroke_width": 0.8, "opacity": 70,
     "symbol": "circle", "size": 8,
     "classify_by": "landuse_code",
     "classes": [{"value": "0701", "label": "城镇住宅用地", "fill": "#ffd37f"}, ...],
     "label": {"attribute": "name", "size": 9, "color": "#333333", "min_scale": 0, "max_scale": 20000}}
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

LAYER_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SQL_IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


class Theme(models.TextChoices):
    BASE = "base", _("基础地理")
    LAND = "land", _("国土")
    PLANNING = "planning", _("规划")
    HOUSING = "housing", _("住房保障")
    DISASTER = "disaster", _("地质灾害")
    GRID = "grid", _("网格")
    CASES = "cases", _("案卷")
    EVALUATION = "evaluation", _("综合评价")
    RASTER = "raster", _("栅格")


class Classification(models.TextChoices):
    PUBLIC = "public", _("公开")
    INTERNAL = "internal", _("内部")
    RESTRICTED = "restricted", _("受限")


class LayerKind(models.TextChoices):
    VECTOR = "vector", _("矢量")
    RASTER = "raster", _("栅格")


class GeometryType(models.TextChoices):
    POINT = "POINT", _("点")
    LINE = "LINESTRING", _("线")
    POLYGON = "POLYGON", _("面")
    RASTER = "RASTER", _("栅格")


class UpdateFrequency(models.TextChoices):
    CONTINUAL = "continual", _("实时")
    DAILY = "daily", _("每日")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")
    QUARTERLY = "quarterly", _("每季度")
    ANNUALLY = "annually", _("每年")
    IRREGULAR = "irregular", _("不定期")


def validate_layer_name(value: str) -> None:
    if not LAYER_NAME_RE.match(value or ""):
        raise ValidationError(_("图层名必须是 <主题>.<名称>，小写字母、数字和下划线：%(v)s"), params={"v": value})
    theme = value.split(".", 1)[0]
    if theme not in Theme.values:
        raise ValidationError(_("未知主题：%(t)s"), params={"t": theme})


def validate_sql_identifier(value: str) -> None:
    if value and not SQL_IDENTIFIER_RE.match(value):
        raise ValidationError(_("不是合法的表名或列名：%(v)s"), params={"v": value})


class Layer(models.Model):
    """One registered, publishable dataset."""

    name = models.CharField(_("图层名"), max_length=80, unique=True, validators=[validate_layer_name])
    theme = models.CharField(_("主题"), max_length=20, choices=Theme.choices)
    title_zh = models.CharField(_("中文标题"), max_length=120)
    title_en = models.CharField(_("英文标题"), max_length=120, blank=True)
    abstract = models.TextField(_("摘要"), blank=True)
    keywords = ArrayField(models.CharField(max_length=40), verbose_name=_("关键词"), default=list, blank=True)
    owner = models.ForeignKey(
        "accounts.Department", verbose_name=_("责任部门"), on_delete=models.PROTECT, related_name="layers"
    )
    kind = models.CharField(_("类型"), max_length=10, choices=LayerKind.choices, default=LayerKind.VECTOR)
    geometry_type = models.CharField(_("几何类型"), max_length=12, choices=GeometryType.choices)
    srid = models.PositiveIntegerField(_("存储坐标系"), default=4490)
    source_table = models.CharField(
        _("数据表/视图"), max_length=120, blank=True, validators=[validate_sql_identifier]
    )
    id_column = models.CharField(_("主键列"), max_length=60, default="id", validators=[validate_sql_identifier])
    geom_column = models.CharField(_("几何列"), max_length=60, default="geom", validators=[validate_sql_identifier])
    # structured, never SQL text: layers.source_filter composes it (schema layers/schemas/source_where.schema.json)
    source_where = models.JSONField(
        _("过滤条件"), default=list, blank=True,
        help_text=_('条件列表（AND），仅系统管理员可设置，如 [{"column": "layer_id", "op": "=", "value": 12}]'),
    )
    attribute_columns = ArrayField(
        models.CharField(max_length=60, validators=[validate_sql_identifier]),
        verbose_name=_("属性列"),
        default=list,
        blank=True,
        help_text=_("对外发布的属性列；为空时发布除几何外的全部列"),
    )
    raster_path = models.CharField(_("栅格文件"), max_length=500, blank=True)
    is_generic = models.BooleanField(_("通用存储"), default=False, help_text=_("要素存于通用要素表（几何 + JSONB 属性）"))
    style = models.JSONField(_("样式"), default=dict, blank=True)
    classification = models.CharField(
        _("密级"), max_length=12, choices=Classification.choices, default=Classification.INTERNAL
    )
    readers = models.ManyToManyField(
        "accounts.Department", verbose_name=_("授权部门"), blank=True, related_name="readable_layers",
        help_text=_("可查看受限图层的其他部门"),
    )
    update_frequency = models.CharField(
        _("更新频率"), max_length=12, choices=UpdateFrequency.choices, default=UpdateFrequency.IRREGULAR
    )
    cacheable = models.BooleanField(_("缓存瓦片"), default=True, help_text=_("实时图层（案卷、评价）不缓存"))
    min_zoom = models.PositiveSmallIntegerField(default=0)
    max_zoom = models.PositiveSmallIntegerField(default=19)
    sort_order = models.IntegerField(_("排序"), default=100)
    extent = models.PolygonField(_("范围"), srid=4490, null=True, blank=True)
    feature_count = models.BigIntegerField(_("要素数"), default=0)
    last_update = models.DateTimeField(_("最后更新"), null=True, blank=True)
    # When the set of attributes (a generic layer's keys and their kinds) last may have changed: every feature
    # write stamps it with last_update except an edit session known to keep it (layers.versions), so the services'
    # schema caches (tileserver.ogcapi.collections) do not rescan a large layer's JSONB after every small edit.
    attributes_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Retired layers leave every service (layers.access.visible_layers); their rows and history stay.
    retired_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["theme", "sort_order", "name"]
        verbose_name = _("图层")
        verbose_name_plural = _("图层")

    def __str__(self) -> str:
        return f"{self.name} {self.title_zh}"

    def clean(self) -> None:
        if self.name and "." in self.name and self.name.split(".", 1)[0] != self.theme:
            raise ValidationError({"theme": _("图层名前缀必须与主题一致")})
        if self.kind == LayerKind.VECTOR and not self.source_table:
            raise ValidationError({"source_table": _("矢量图层必须指定数据表")})
        if self.kind == LayerKind.RASTER and not self.raster_path:
            raise ValidationError({"raster_path": _("栅格图层必须指定文件")})
        if self.kind == LayerKind.VECTOR:
            from ..source_filter import validate

            validate(self.source_where, self.source_table)

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """(minx, miny, maxx, maxy) in EPSG:4490 as lon/lat, or None when unknown."""
        return self.extent.extent if self.extent else None


class GenericFeature(models.Model):
    """A feature of a department-uploaded layer without a typed model: geometry + JSONB attributes."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="generic_features")
    geom = models.GeometryField(srid=settings.CITYGIS_STORAGE_SRID)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # the layer FK has its own index: a second one on layer_id only slows bulk imports down
        verbose_name = _("通用要素")
        verbose_name_plural = _("通用要素")
