"""The monitoring network (monitored hazard points, devices), alerts with their audit trail, the dead-letter log.

Readings are not a Django model: they live in the month-partitioned table `hazards_reading` created by
migration 0002 (native PostgreSQL declarative partitioning, primary key (device_id, observed_at)) and are
written and read with SQL only (city_gis/hazards/ingest.py, city_gis/hazards/alerts.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

SRID = 4490
# Device codes are one MQTT topic level (citygis/devices/{code}/readings): no '/', '+', '#' or spaces.
DEVICE_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class Grade(models.TextChoices):
    """Hazard point grade by threatened people and property (特大/大/中/小型)."""

    EXTRA_LARGE = "extra_large", _("特大型")
    LARGE = "large", _("大型")
    MEDIUM = "medium", _("中型")
    SMALL = "small", _("小型")


class DeviceType(models.TextChoices):
    RAIN_GAUGE = "rain_gauge", _("雨量计")
    GNSS = "gnss", _("GNSS 地表位移")
    CRACK_METER = "crack_meter", _("裂缝计")
    INCLINOMETER = "inclinometer", _("倾角计")
    WATER_LEVEL = "water_level", _("水位计")


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("运行")
    MAINTENANCE = "maintenance", _("维护")
    RETIRED = "retired", _("停用")


class Level(models.IntegerChoices):
    """The national four-colour warning levels; a higher number is more severe."""

    BLUE = 1, _("蓝色")
    YELLOW = 2, _("黄色")
    ORANGE = 3, _("橙色")
    RED = 4, _("红色")


LEVEL_NAMES: dict[int, str] = {1: "blue", 2: "yellow", 3: "orange", 4: "red"}
LEVEL_BY_NAME: dict[str, int] = {v: k for k, v in LEVEL_NAMES.items()}


class MonitoredPoint(models.Model):
    """A registry hazard point (layers.HazardPoint, layer disaster.hazard_points) under monitoring."""

    hazard_point = models.OneToOneField("layers.HazardPoint", verbose_name=_("隐患点"), on_delete=models.CASCADE,
                                        related_name="monitoring")
    monitor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("群测群防员"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="monitored_points")
    grade = models.CharField(_("等级"), max_length=12, choices=Grade.choices)

    class Meta:
        ordering = ["hazard_point__code"]
        verbose_name = _("监测隐患点")
        verbose_name_plural = _("监测隐患点")

    def __str__(self) -> str:
        return self.hazard_point.code


class Device(models.Model):
    """A sensor on a hazard point; `last_reading_at` is the newest observed_at stored for it."""

    code = models.CharField(_("设备编号"), max_length=40, unique=True)
    type = models.CharField(_("类型"), max_length=14, choices=DeviceType.choices)
    hazard_point = models.ForeignKey("layers.HazardPoint", verbose_name=_("隐患点"), on_delete=models.CASCADE,
                                     related_name="devices")
    location = models.PointField(_("位置"), srid=SRID)
    installed_on = models.DateField(_("安装日期"))
    status = models.CharField(_("状态"), max_length=12, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE)
    last_reading_at = models.DateTimeField(_("最近观测时间"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("监测设备")
        verbose_name_plural = _("监测设备")
        constraints = [models.CheckConstraint(condition=Q(code__regex=DEVICE_CODE_PATTERN), name="hazards_device_code")]

    def __str__(self) -> str:
        return self.code


class Alert(models.Model):
    """One alert of a hazard point and rule (offline alerts: of a device); at most one open per point and rule.

    `level` only rises while the alert is open (escalation); it closes after the calm period with no value at
    or above blue (`last_exceeded_at`), or when an offline device reports again.
    """

    hazard_point = models.ForeignKey("layers.HazardPoint", verbose_name=_("隐患点"), on_delete=models.CASCADE,
                                     related_name="alerts")
    rule = models.CharField(_("规则"), max_length=40)
    device = models.ForeignKey(Device, verbose_name=_("设备"), null=True, blank=True, on_delete=models.CASCADE,
                               related_name="alerts")
    level = models.PositiveSmallIntegerField(_("级别"), choices=Level.choices)
    value = models.FloatField(_("触发值"), null=True, blank=True)
    threshold = models.FloatField(_("阈值"), null=True, blank=True)
    rules_version = models.CharField(_("规则版本"), max_length=40)
    opened_at = models.DateTimeField(_("发出时间"))
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    last_exceeded_at = models.DateTimeField(_("最近超阈值时间"))
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    close_reason = models.CharField(_("解除原因"), max_length=20, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        constraints = [
            models.UniqueConstraint(fields=["hazard_point", "rule", "device"], condition=Q(closed_at__isnull=True),
                                    nulls_distinct=False, name="hazards_one_open_alert"),
        ]
        indexes = [models.Index(fields=["closed_at", "level"])]

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


class AlertEvent(models.Model):
    """The audit trail of an alert: created, escalated, acknowledged (by whom), closed."""

    class Kind(models.TextChoices):
        CREATED = "created", _("发出")
        ESCALATED = "escalated", _("升级")
        ACKNOWLEDGED = "acknowledged", _("确认")
        CLOSED = "closed", _("解除")
        PATROL = "patrol", _("巡查")  # a patrol's result (normal / deformation / evacuate), actor = the monitor

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("时间"))
    kind = models.CharField(_("事件"), max_length=14, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(_("级别"), choices=Level.choices)
    value = models.FloatField(_("值"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    note = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("预警记录")
        verbose_name_plural = _("预警记录")


class DeadLetter(models.Model):
    """A refused MQTT message: topic, the start of the payload, why, when."""

    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True, db_index=True)
    topic = models.CharField(_("主题"), max_length=300)
    payload = models.TextField(_("报文（截断）"))
    reason = models.CharField(_("原因"), max_length=300)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("死信")
        verbose_name_plural = _("死信")


class AreaWarning(models.Model):
    """A meteorological geohazard risk warning for an area and a validity window (自然资源 + 气象 + 应急).

    While valid (valid_from ≤ now < valid_to, not cancelled) every monitored hazard point inside the area has an
    open `area_warning` alert at least at this level; when no valid warning covers a point any more its alert
    closes (reason `warning_ended`).
    """

    level = models.PositiveSmallIntegerField(_("级别"), choices=Level.choices)
    area = models.MultiPolygonField(_("范围"), srid=SRID)
    valid_from = models.DateTimeField(_("生效时间"))
    valid_to = models.DateTimeField(_("失效时间"))
    issuer = models.CharField(_("发布单位"), max_length=100, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("发布人"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    issued_at = models.DateTimeField(_("发布时间"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        verbose_name = _("气象风险预警")
        verbose_name_plural = _("气象风险预警")
        constraints = [models.CheckConstraint(condition=Q(valid_to__gt=models.F("valid_from")),
                                              name="hazards_warning_window")]

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


class PatrolResult(models.TextChoices):
    """What the monitor found on a patrol (city_gis/hazards/patrols.py)."""

    NORMAL = "normal", _("正常")
    DEFORMATION = "deformation", _("发现变形")
    EVACUATE = "evacuate", _("需要撤离")


class Patrol(models.Model):
    """A patrol task of an alert: the case (category 地质灾害巡查) on the monitor's `/m/` task list.

    At most one open (not completed) patrol per hazard point; `alert` is the alert that asked for it. The link
    lives here, so city_gis.cases knows nothing of hazards.
    """

    alert = models.ForeignKey(Alert, verbose_name=_("预警"), on_delete=models.CASCADE, related_name="patrols")
    hazard_point = models.ForeignKey("layers.HazardPoint", verbose_name=_("隐患点"), on_delete=models.CASCADE,
                                     related_name="patrols")
    case = models.OneToOneField("cases.Case", verbose_name=_("任务案卷"), on_delete=models.CASCADE,
                                related_name="hazard_patrol")
    monitor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("群测群防员"), null=True,
                                on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("下达时间"))
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    result = models.CharField(_("巡查结果"), max_length=12, choices=PatrolResult.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("巡查任务")
        verbose_name_plural = _("巡查任务")
        constraints = [models.UniqueConstraint(fields=["hazard_point"], condition=Q(completed_at__isnull=True),
                                               name="hazards_one_open_patrol")]
