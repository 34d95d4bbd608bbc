"""Materialised area scores: the source of the `evaluation.*_score` choropleth layers.

Rows are derived data, rewritten by `refresh_area_scores` (the `evaluate` command and the demo build); the
indicators themselves are always computed from the case history (see indicators.py).
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class AreaScore(models.Model):
    """Composite score and grade of one area (cell, community, street, district) for one period."""

    level = models.CharField(_("层级"), max_length=12)
    code = models.CharField(_("代码"), max_length=16)
    name = models.CharField(_("名称"), max_length=60, blank=True)
    period = models.CharField(_("时段"), max_length=24)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"), help_text=_("不含当日"))
    is_current = models.BooleanField(_("当前时段"), default=False, help_text=_("地图图层显示的时段"))
    registered = models.IntegerField(_("立案数"), default=0)
    due = models.IntegerField(_("应结案数"), default=0)
    case_density = models.FloatField(_("案件密度(件/平方公里)"), null=True)
    report_rate = models.FloatField(_("上报率"), null=True)
    closing_rate = models.FloatField(_("结案率"), null=True)
    on_time_closing_rate = models.FloatField(_("按期结案率"), null=True)
    score = models.FloatField(_("综合得分"))
    grade = models.CharField(_("等级"), max_length=2)
    computed_at = models.DateTimeField(_("计算时间"), auto_now=True)
    geom = models.MultiPolygonField(srid=4490)

    class Meta:
        verbose_name = _("区域评价")
        verbose_name_plural = _("区域评价")
        constraints = [models.UniqueConstraint(fields=["level", "code", "period"], name="areascore_level_code_period")]
        indexes = [models.Index(fields=["level", "is_current"], name="areascore_level_current")]

    def __str__(self) -> str:
        return f"{self.level} {self.code} {self.period}: {self.score:.1f} {self.grade}"
