"""Layer versions and feature-level history (valid-from/valid-to version ranges), and background jobs.

`FeatureHistory` stores *states*, not copies: a feature's row is written when the feature appears or changes
and closed (`valid_to`) when it changes again or is removed, so a layer edited daily grows by its changes only.
The state of a layer at version n is every row with ``valid_from <= n < valid_to`` (open rows: valid_to NULL).
`feature_id` is the feature's key in the layer's own table (typed thematic table or GenericFeature), so one
history table serves both; `attributes` holds the published columns (typed) or the JSONB attributes (generic).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from .registry import Layer


class VersionKind(models.TextChoices):
    BASELINE = "baseline", _("初始状态")
    APPEND = "append", _("追加导入")
    REPLACE = "replace", _("替换导入")
    EDIT = "edit", _("编辑")
    ROLLBACK = "rollback", _("回滚")


class LayerVersion(models.Model):
    """One committed change of a layer's features: who, when, why, how much, where."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="versions", db_index=False)
    number = models.PositiveIntegerField(_("版本号"))
    kind = models.CharField(_("类型"), max_length=12, choices=VersionKind.choices)
    comment = models.CharField(_("说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    rows_added = models.PositiveIntegerField(_("新增要素"), default=0)
    rows_changed = models.PositiveIntegerField(_("修改要素"), default=0)
    rows_removed = models.PositiveIntegerField(_("删除要素"), default=0)
    feature_count = models.PositiveIntegerField(_("要素数"), default=0)
    extent = models.PolygonField(_("变更范围"), srid=4490, null=True, blank=True)
    restores = models.PositiveIntegerField(_("回滚到的版本"), null=True, blank=True)

    class Meta:
        ordering = ["layer", "number"]
        constraints = [models.UniqueConstraint(fields=["layer", "number"], name="layerversion_unique_number")]
        verbose_name = _("图层版本")
        verbose_name_plural = _("图层版本")

    def __str__(self) -> str:
        return f"{self.layer_id} v{self.number}"


class FeatureHistory(models.Model):
    """One state of one feature, valid from version `valid_from` up to (not including) `valid_to`."""

    id = models.BigAutoField(primary_key=True)
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="+", db_index=False)
    feature_id = models.BigIntegerField()
    valid_from = models.PositiveIntegerField()
    valid_to = models.PositiveIntegerField(null=True, blank=True)
    attributes = models.JSONField(default=dict)
    geom = models.GeometryField(srid=4490, null=True, spatial_index=False)

    class Meta:
        indexes = [
            # the current state (open rows), one per feature: the join partner of every write
            models.Index(fields=["layer", "feature_id"], name="fhist_open", condition=models.Q(valid_to__isnull=True)),
            models.Index(fields=["layer", "valid_from"], name="fhist_from"),
            models.Index(fields=["layer", "valid_to"], name="fhist_to", condition=models.Q(valid_to__isnull=False)),
        ]
        constraints = [models.UniqueConstraint(fields=["layer", "feature_id"], condition=models.Q(valid_to__isnull=True),
                                               name="fhist_one_open_state")]
        verbose_name = _("要素历史")
        verbose_name_plural = _("要素历史")


class JobState(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class Job(models.Model):
    """A unit of background work (e.g. a large import), claimed by `citygis run_jobs` workers."""

    kind = models.CharField(_("类型"), max_length=40)
    state = models.CharField(_("状态"), max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.PositiveSmallIntegerField(_("进度"), default=0)
    params = models.JSONField(_("参数"), default=dict)
    result = models.JSONField(_("结果"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("提交人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Progress in the handler's own units (rows, plots; total None when unknown up front) and what it is doing.
    done = models.BigIntegerField(_("已完成"), null=True, blank=True)
    total = models.BigIntegerField(_("总数"), null=True, blank=True)
    message = models.CharField(_("进度说明"), max_length=200, blank=True)
    # Set by layers.jobs.cancel on a running job; the handler stops (and rolls back) at its next progress point.
    cancel_requested_at = models.DateTimeField(_("请求取消时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"], name="job_claim")]
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.state}"
