"""The two control lines the registry lacked (生态保护红线, 城镇开发边界) and the stored reviews.

The control-line tables are published as `land.eco_redline` (owner: 自然资源/国土) and
`planning.urban_boundary` (owner: 规划) through the registry like every thematic table; all in EPSG:4490.
A Review keeps everything needed to reproduce it: the inputs, the rule set document it ran (and its version),
the data versions it read and the results.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

SRID = 4490


class ControlLine(models.Model):
    """Common columns of a control-line polygon."""

    name = models.CharField(_("名称"), max_length=120, blank=True)
    source = models.CharField(_("数据来源"), max_length=120, blank=True)
    synthetic = models.BooleanField(_("模拟数据"), default=False)
    area_m2 = models.FloatField(_("面积(平方米)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"


class EcoRedline(ControlLine):
    """An ecological protection redline (生态保护红线) patch with its dominant ecological function."""

    redline_code = models.CharField(_("红线编号"), max_length=30, unique=True)
    function = models.CharField(_("生态功能"), max_length=40, help_text=_("水源涵养/水土保持/生物多样性维护…"))

    class Meta:
        verbose_name = _("生态保护红线")
        verbose_name_plural = _("生态保护红线")


class UrbanBoundary(ControlLine):
    """An urban development boundary (城镇开发边界) zone: 集中建设区, 弹性发展区 or 特别用途区."""

    boundary_code = models.CharField(_("边界编号"), max_length=30, unique=True)
    zone = models.CharField(_("分区"), max_length=20)

    class Meta:
        verbose_name = _("城镇开发边界")
        verbose_name_plural = _("城镇开发边界")


class Review(models.Model):
    """One compliance review: number, inputs, the rule set and data versions it used, its results."""

    class Outcome(models.TextChoices):
        PASS = "pass", _("通过")
        WARNING = "warning", _("有提示")
        BLOCKING = "blocking", _("不通过")

    number = models.CharField(_("审查编号"), max_length=20, unique=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审查人"), on_delete=models.PROTECT,
                               related_name="reviews")
    department = models.ForeignKey("accounts.Department", verbose_name=_("部门"), null=True, on_delete=models.PROTECT,
                                   related_name="reviews")
    created_at = models.DateTimeField(_("审查时间"), auto_now_add=True)
    title = models.CharField(_("项目名称"), max_length=120, blank=True)
    source = models.CharField(_("红线来源"), max_length=20)  # geometry | upload | plot
    redline = models.MultiPolygonField(_("红线"), srid=SRID)
    redline_area_m2 = models.FloatField(_("红线面积(平方米)"))
    use_class = models.CharField(_("拟用地性质"), max_length=8)
    far = models.FloatField(_("拟容积率"))
    height_m = models.FloatField(_("拟建筑高度(米)"))
    inputs = models.JSONField(_("输入"), default=dict)
    ruleset_version = models.CharField(_("规则集版本"), max_length=40)
    ruleset = models.JSONField(_("规则集"), default=dict)
    data_versions = models.JSONField(_("数据版本"), default=dict)
    outcome = models.CharField(_("结论"), max_length=10, choices=Outcome.choices)
    results = models.JSONField(_("结果"), default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("合规性审查")
        verbose_name_plural = _("合规性审查")

    def __str__(self) -> str:
        return self.number


class BatchConflict(models.Model):
    """One conflict found by the batch review of every zoning plot: the plot, the rule, the overlap.

    Rows of the latest successful batch run are published as `planning.review_conflicts`; a run replaces the
    previous one in its own transaction.
    """

    run = models.ForeignKey("BatchRun", on_delete=models.CASCADE, related_name="rows")
    plot_code = models.CharField(_("地块编号"), max_length=30, db_index=True)
    plot_use = models.CharField(_("地块用地性质"), max_length=8)
    rule = models.CharField(_("规则"), max_length=40)
    rule_title = models.CharField(_("规则名称"), max_length=60)
    severity = models.CharField(_("级别"), max_length=10)
    feature_code = models.CharField(_("冲突要素编号"), max_length=60, blank=True)
    area_m2 = models.FloatField(_("冲突面积(平方米)"))
    pct = models.FloatField(_("占地块比例(%)"))
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("批量审查冲突")
        verbose_name_plural = _("批量审查冲突")


class BatchRun(models.Model):
    """One batch review run: when, by whom, the rule set and data versions it read, its totals."""

    started_at = models.DateTimeField(auto_now_add=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ruleset_version = models.CharField(_("规则集版本"), max_length=40)
    data_versions = models.JSONField(default=dict)
    plots = models.IntegerField(default=0)
    conflicts = models.IntegerField(default=0)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at", "-id"]


class LandUseSurvey(models.Model):
    """A land-use status parcel of a later survey (e.g. the 2026 年度变更调查), GB/T 21010 coded: the "after" of
    farmland change monitoring when the city keeps it as its own layer."""

    survey = models.CharField(_("调查年度"), max_length=20, db_index=True)
    parcel_code = models.CharField(_("图斑编号"), max_length=30)
    landuse_code = models.CharField(_("地类编码"), max_length=6, db_index=True)
    landuse_name = models.CharField(_("地类名称"), max_length=40)
    source = models.CharField(_("数据来源"), max_length=120, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("土地利用现状（年度调查）")
        verbose_name_plural = _("土地利用现状（年度调查）")
        constraints = [models.UniqueConstraint(fields=["survey", "parcel_code"], name="review_landusesurvey_unique")]


class ChangeRun(models.Model):
    """One farmland change comparison: which two layers, when, by whom, the totals by community and class."""

    started_at = models.DateTimeField(auto_now_add=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    before_layer = models.CharField(max_length=80)
    after_layer = models.CharField(max_length=80)
    data_versions = models.JSONField(default=dict)
    changes = models.IntegerField(default=0)
    area_m2 = models.FloatField(default=0)
    summary = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at", "-id"]


class FarmlandChange(models.Model):
    """Cultivated land (GB/T 21010 01xx) in the earlier layer that is another class in the later one, per
    community: published as `land.farmland_changes` (the latest run)."""

    run = models.ForeignKey(ChangeRun, on_delete=models.CASCADE, related_name="rows")
    community_code = models.CharField(_("社区代码"), max_length=12, blank=True)
    community_name = models.CharField(_("社区"), max_length=60, blank=True)
    from_code = models.CharField(_("原地类编码"), max_length=6)
    from_name = models.CharField(_("原地类"), max_length=40)
    to_code = models.CharField(_("现地类编码"), max_length=6)
    to_name = models.CharField(_("现地类"), max_length=40)
    to_group = models.CharField(_("去向"), max_length=12)  # construction | other
    area_m2 = models.FloatField(_("面积(平方米)"))
    geom = models.MultiPolygonField(srid=SRID)

    class Meta:
        verbose_name = _("耕地变化图斑")
        verbose_name_plural = _("耕地变化图斑")
