"""Bookkeeping of demo builds (so `citygis load_demo` is idempotent) and the city outline of the demo."""

from django.contrib.gis.db import models as gis_models
from django.db import models


class DemoBuild(models.Model):
    """One finished demo step (rerunning load_demo skips finished steps unless --force)."""

    step = models.CharField(max_length=60, unique=True)
    seed = models.IntegerField()
    options = models.JSONField(default=dict)
    finished_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.step


class CityBoundary(models.Model):
    """The prefecture-level city outline (六盘水市 520200), published as base.city; districts live in grid."""

    code = gis_models.CharField("代码", max_length=12, unique=True)
    name = gis_models.CharField("名称", max_length=60)
    area_m2 = gis_models.FloatField("面积(平方米)", null=True, blank=True)
    source = gis_models.CharField("数据来源", max_length=200, blank=True)
    geom = gis_models.MultiPolygonField(srid=4490)

    class Meta:
        verbose_name = "市域边界"
        verbose_name_plural = "市域边界"

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"
