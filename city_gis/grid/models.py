"""Administrative units (district → street → community) and unit grid cells (万米单元网格), EPSG:4490.

Codes follow DOMAIN.md: district 6 digits (GB/T 2260), street = district + 3, community = street + 3,
cell = community + sequence (2 digits by default, `CITYGIS_CELL_SEQ_WIDTH`). Components (部件) are the
`Component` model below.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

SRID = 4490


class AdminUnit(models.Model):
    code = models.CharField(_("代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    synthetic = models.BooleanField(_("模拟数据"), default=False, help_text=_("演示用虚构单元"))
    area_m2 = models.FloatField(_("面积(平方米)"), null=True, blank=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class District(AdminUnit):
    """District / county (区/县), 6-digit GB/T 2260 code."""

    class Meta(AdminUnit.Meta):
        verbose_name = _("区县")
        verbose_name_plural = _("区县")


class Street(AdminUnit):
    """Street / town (街道/乡镇): 9-digit code = district + 3."""

    district = models.ForeignKey(District, verbose_name=_("区县"), on_delete=models.PROTECT, related_name="streets")

    class Meta(AdminUnit.Meta):
        verbose_name = _("街道")
        verbose_name_plural = _("街道")


class Community(AdminUnit):
    """Community (社区): 12-digit code = street + 3."""

    street = models.ForeignKey(Street, verbose_name=_("街道"), on_delete=models.PROTECT, related_name="communities")

    class Meta(AdminUnit.Meta):
        verbose_name = _("社区")
        verbose_name_plural = _("社区")


class Cell(models.Model):
    """Unit grid cell (万米单元网格): ~10,000 m², inside exactly one community, tiling the managed area."""

    code = models.CharField(_("网格编码"), max_length=16, db_index=True)
    community = models.ForeignKey(Community, verbose_name=_("社区"), on_delete=models.PROTECT, related_name="cells")
    area_m2 = models.FloatField(_("面积(平方米)"))
    valid_from = models.DateField(_("生效日期"))
    valid_to = models.DateField(_("失效日期"), null=True, blank=True)
    geom = models.PolygonField(srid=SRID)
    # The codes and names of the cell's community, street and district, copied onto the cell so that geocoding
    # is one indexed lookup without joins. Kept by database triggers (migration 0004) on every insert/update of
    # a cell and every change of a unit's code, name or parent — whatever path (import, admin, SQL) made it.
    community_code = models.CharField(_("社区代码"), max_length=12, default="", editable=False)
    community_name = models.CharField(_("社区名称"), max_length=60, default="", editable=False)
    street_code = models.CharField(_("街道代码"), max_length=12, default="", editable=False)
    street_name = models.CharField(_("街道名称"), max_length=60, default="", editable=False)
    district_code = models.CharField(_("区县代码"), max_length=12, default="", editable=False)
    district_name = models.CharField(_("区县名称"), max_length=60, default="", editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("单元网格")
        verbose_name_plural = _("单元网格")
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(valid_to__isnull=True), name="cell_code_current_unique")
        ]

    def __str__(self) -> str:
        return self.code


class ResponsibilityArea(models.Model):
    """Responsibility grid (责任网格): the cells one inspector patrols."""

    name = models.CharField(_("名称"), max_length=60)
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("监督员"), on_delete=models.PROTECT, related_name="responsibility_areas"
    )
    cells = models.ManyToManyField(Cell, verbose_name=_("单元网格"), related_name="responsibility_areas")

    class Meta:
        verbose_name = _("责任网格")
        verbose_name_plural = _("责任网格")

    def __str__(self) -> str:
        return self.name


class ComponentState(models.TextChoices):
    INTACT = "intact", _("完好")
    DAMAGED = "damaged", _("损坏")
    LOST = "lost", _("丢失")
    REMOVED = "removed", _("废弃")


class Component(models.Model):
    """A component (部件): a physical city asset with a 16-digit identifier.

    code = district 6 + big class 2 + small class 2 + serial 6 (e.g. 5202010101000001).
    """

    code = models.CharField(_("部件标识码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=80)
    category = models.ForeignKey(
        "cases.Category", verbose_name=_("小类"), on_delete=models.PROTECT, related_name="components"
    )
    competent_department = models.ForeignKey(
        "accounts.Department", verbose_name=_("主管部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    owner_department = models.ForeignKey(
        "accounts.Department", verbose_name=_("权属部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    maintainer_department = models.ForeignKey(
        "accounts.Department", verbose_name=_("养护部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    cell = models.ForeignKey(Cell, verbose_name=_("单元网格"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="components")
    state = models.CharField(_("状态"), max_length=10, choices=ComponentState.choices, default=ComponentState.INTACT)
    initial_date = models.DateField(_("初始日期"))
    changed_date = models.DateField(_("变更日期"), null=True, blank=True)
    source = models.CharField(_("数据来源"), max_length=80, blank=True)
    geom = models.PointField(srid=SRID)

    class Meta:
        ordering = ["code"]
        verbose_name = _("部件")
        verbose_name_plural = _("部件")

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"
