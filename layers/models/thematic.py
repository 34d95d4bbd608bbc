"""Typed thematic datasets with domain meaning (base, land, planning, housing, disaster), all in EPSG:4490.

Each is published through a registered Layer pointing at its table. Areas are computed in EPSG:4544.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

SRID = 4490


class ThematicFeature(models.Model):
    """Common columns: a name, the source of the record and when it last changed."""

    name = models.CharField(_("名称"), max_length=120, blank=True)
    source = models.CharField(_("数据来源"), max_length=120, blank=True)
    synthetic = models.BooleanField(_("模拟数据"), default=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"


# --- base (基础地理) ---------------------------------------------------------------------------------------
class Road(ThematicFeature):
    class Grade(models.TextChoices):
        EXPRESSWAY = "expressway", _("快速路")
        ARTERIAL = "arterial", _("主干路")
        SECONDARY = "secondary", _("次干路")
        BRANCH = "branch", _("支路")

    grade = models.CharField(_("等级"), max_length=12, choices=Grade.choices)
    width_m = models.FloatField(_("路宽(米)"), null=True, blank=True)
    geom = models.MultiLineStringField(srid=SRID)

    class Meta:
        verbose_name = _("道路")
        verbose_name_plural = _("道路")


class Building(ThematicFeature):
    floors = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)
    use = models.CharField(_("用途"), max_length=40, blank=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("建筑")
        verbose_name_plural = _("建筑")


class WaterBody(ThematicFeature):
    class Kind(models.TextChoices):
        RIVER = "river", _("河流")
        LAKE = "lake", _("湖泊")
        RESERVOIR = "reservoir", _("水库")
        POND = "pond", _("坑塘")

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("水系")
        verbose_name_plural = _("水系")


# --- land (国土) ------------------------------------------------------------------------------------------
class LandParcel(ThematicFeature):
    """A land-use parcel classified by GB/T 21010-2017 (e.g. 0701 城镇住宅用地)."""

    parcel_code = models.CharField(_("宗地号"), max_length=30, unique=True)
    landuse_code = models.CharField(_("地类编码"), max_length=6, db_index=True)
    landuse_name = models.CharField(_("地类名称"), max_length=40)
    tenure = models.CharField(_("权属性质"), max_length=20, blank=True, help_text=_("国有/集体"))
    right_holder = models.CharField(_("权利人"), max_length=120, blank=True)
    area_m2 = models.FloatField(_("面积(平方米)"), null=True, blank=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("土地利用图斑")
        verbose_name_plural = _("土地利用图斑")


class BasicFarmland(ThematicFeature):
    """Permanent basic farmland (永久基本农田) protection block."""

    block_code = models.CharField(_("保护图斑编号"), max_length=30, unique=True)
    quality_grade = models.PositiveSmallIntegerField(_("耕地质量等别"), null=True, blank=True)
    area_m2 = models.FloatField(_("面积(平方米)"), null=True, blank=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("永久基本农田")
        verbose_name_plural = _("永久基本农田")


class MiningRight(ThematicFeature):
    license_no = models.CharField(_("许可证号"), max_length=40, unique=True)
    holder = models.CharField(_("采矿权人"), max_length=120)
    mineral = models.CharField(_("开采矿种"), max_length=40)
    valid_from = models.DateField(_("有效期起"), null=True, blank=True)
    valid_to = models.DateField(_("有效期止"), null=True, blank=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("采矿权")
        verbose_name_plural = _("采矿权")


# --- planning (规划) --------------------------------------------------------------------------------------
class ZoningPlot(ThematicFeature):
    """A regulatory detailed-plan (控规) plot with GB 50137-2011 land-use code and controls."""

    plot_code = models.CharField(_("地块编号"), max_length=30, unique=True)
    landuse_code = models.CharField(_("用地代码"), max_length=8, db_index=True)
    landuse_name = models.CharField(_("用地性质"), max_length=40)
    far_max = models.FloatField(_("容积率上限"), null=True, blank=True)
    height_max_m = models.FloatField(_("限高(米)"), null=True, blank=True)
    density_max = models.FloatField(_("建筑密度上限"), null=True, blank=True)
    green_ratio_min = models.FloatField(_("绿地率下限"), null=True, blank=True)
    plan_name = models.CharField(_("所属规划"), max_length=120, blank=True)
    approved_on = models.DateField(_("批复日期"), null=True, blank=True)
    area_m2 = models.FloatField(_("面积(平方米)"), null=True, blank=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("控规地块")
        verbose_name_plural = _("控规地块")


# --- housing (住房保障) -----------------------------------------------------------------------------------
class HousingProject(ThematicFeature):
    class Kind(models.TextChoices):
        PUBLIC_RENTAL = "public_rental", _("公共租赁住房")
        LOW_RENT = "low_rent", _("廉租住房")
        RESETTLEMENT = "resettlement", _("棚改安置房")
        AFFORDABLE = "affordable", _("保障性租赁住房")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    units_total = models.PositiveIntegerField(_("总套数"))
    units_occupied = models.PositiveIntegerField(_("已入住套数"), default=0)
    completed_year = models.PositiveSmallIntegerField(_("竣工年份"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    geom = models.PointField(srid=SRID)

    class Meta:
        verbose_name = _("保障房项目")
        verbose_name_plural = _("保障房项目")

    @property
    def occupancy_rate(self) -> float:
        return self.units_occupied / self.units_total if self.units_total else 0.0


# --- disaster (地质灾害) ----------------------------------------------------------------------------------
class RiskLevel(models.TextChoices):
    LOW = "low", _("低")
    MEDIUM = "medium", _("中")
    HIGH = "high", _("高")
    EXTREME = "extreme", _("极高")


class HazardPoint(ThematicFeature):
    class Kind(models.TextChoices):
        LANDSLIDE = "landslide", _("滑坡")
        COLLAPSE = "collapse", _("崩塌")
        DEBRIS_FLOW = "debris_flow", _("泥石流")
        SUBSIDENCE = "subsidence", _("地面塌陷")

    code = models.CharField(_("隐患点编号"), max_length=30, unique=True)
    kind = models.CharField(_("灾种"), max_length=12, choices=Kind.choices)
    threatened_people = models.PositiveIntegerField(_("威胁人数"), default=0)
    threatened_property_wan = models.FloatField(_("威胁财产(万元)"), default=0)
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices)
    scale = models.CharField(_("规模"), max_length=20, blank=True)
    monitor = models.CharField(_("监测责任人"), max_length=60, blank=True)
    slope_deg = models.FloatField(_("坡度(度)"), null=True, blank=True)
    geom = models.PointField(srid=SRID)

    class Meta:
        verbose_name = _("地质灾害隐患点")
        verbose_name_plural = _("地质灾害隐患点")


class HazardZone(ThematicFeature):
    kind = models.CharField(_("灾种"), max_length=12, choices=HazardPoint.Kind.choices)
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("地质灾害风险区")
        verbose_name_plural = _("地质灾害风险区")


class Shelter(ThematicFeature):
    capacity = models.PositiveIntegerField(_("容纳人数"))
    area_m2 = models.FloatField(_("面积(平方米)"), null=True, blank=True)
    kind = models.CharField(_("类型"), max_length=30, blank=True, help_text=_("广场/学校/公园/体育场"))
    address = models.CharField(_("地址"), max_length=200, blank=True)
    geom = models.PointField(srid=SRID)

    class Meta:
        verbose_name = _("应急避难场所")
        verbose_name_plural = _("应急避难场所")
