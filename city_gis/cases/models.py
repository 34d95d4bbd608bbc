"""Categories, cases (案卷), their immutable history and attachments.

The history (`CaseHistory`) is the stable contract for evaluation: one row per transition with the
actor, the time, from/to state, the action, the department holding the case after the transition and
the deadline fields (`due_at` = deadline of the stage this transition ends, `deadline` = deadline of the
stage it starts, `disposal_deadline` = the case's disposal deadline at that moment).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, CharField, ExpressionWrapper, F, Func, Q
from django.db.models.functions import Length, Now
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from city_gis.text_limits import DESCRIPTION_MAX_LENGTH, NOTE_MAX_LENGTH

SRID = 4490


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("部件")
    EVENT = "event", _("事件")


class Category(models.Model):
    """A small class (小类) of the component or event tree, with its big class (大类) inline.

    `urgency_levels` is a list of {"code", "name_zh", "name_en", "limit", "unit"}; unit is one of
    city_gis.cases.calendar.UNITS (minutes, hours, working_minutes, working_hours, working_days).
    The first level is the default.
    """

    kind = models.CharField(_("类型"), max_length=10, choices=CategoryKind.choices)
    code = models.CharField(_("小类代码"), max_length=4)
    big_code = models.CharField(_("大类代码"), max_length=2)
    big_name_zh = models.CharField(_("大类名称"), max_length=60)
    big_name_en = models.CharField(_("大类英文名称"), max_length=80, blank=True)
    name_zh = models.CharField(_("小类名称"), max_length=60)
    name_en = models.CharField(_("英文名称"), max_length=80, blank=True)
    version = models.CharField(_("代码版本"), max_length=40)
    default_department = models.ForeignKey(
        "accounts.Department", verbose_name=_("默认处置部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    register_condition = models.TextField(_("立案条件"), blank=True)
    close_condition = models.TextField(_("结案条件"), blank=True)
    urgency_levels = models.JSONField(_("紧急程度与处置时限"), default=list)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("案卷类别")
        verbose_name_plural = _("案卷类别")
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="category_kind_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    def urgency(self, code: str | None) -> dict:
        """The urgency level `code` (default: the first); ValidationError naming `urgency` if unknown."""
        levels = self.urgency_levels or []
        if not levels:
            raise ValidationError({"urgency": _("类别 %(c)s 未配置处置时限") % {"c": self.code}})
        if not code:
            return levels[0]
        for level in levels:
            if level["code"] == code:
                return level
        raise ValidationError({"urgency": _("未知紧急程度：%(u)s") % {"u": code}})


class StageLimit(models.Model):
    """Time limit of a workflow stage (verify, accept, register, dispatch, check, close, review)."""

    stage = models.CharField(_("阶段"), max_length=20, unique=True)
    limit = models.FloatField(_("时限"))
    unit = models.CharField(_("单位"), max_length=20)

    class Meta:
        ordering = ["stage"]
        verbose_name = _("阶段时限")
        verbose_name_plural = _("阶段时限")

    def __str__(self) -> str:
        return f"{self.stage}: {self.limit} {self.unit}"


class State(models.TextChoices):
    PENDING_VERIFICATION = "pending_verification", _("待核实")
    REPORTED = "reported", _("已上报")
    ACCEPTED = "accepted", _("已受理")
    REGISTERED = "registered", _("已立案")
    DISPATCHED = "dispatched", _("已派遣")
    SUSPENDED = "suspended", _("挂账")
    DISPOSED = "disposed", _("已处置")
    CHECKED = "checked", _("已核查")
    SELF_HANDLED = "self_handled", _("自处理待审核")
    CLOSED = "closed", _("已结案")
    REJECTED = "rejected", _("不予受理")
    VOIDED = "voided", _("已作废")
    MERGED = "merged", _("已合并")


TERMINAL_STATES = frozenset({State.CLOSED, State.REJECTED, State.VOIDED, State.MERGED})
OPEN_STATES = frozenset(s for s in State.values if s not in TERMINAL_STATES)


class Source(models.TextChoices):
    INSPECTOR = "inspector", _("监督员上报")
    PUBLIC = "public", _("公众举报")
    HOTLINE = "hotline", _("热线")
    OPEN311 = "open311", _("Open311")
    SELF_HANDLED = "self_handled", _("监督员自处理")


class CloseType(models.TextChoices):
    NORMAL = "normal", _("正常结案")
    OVERDUE = "overdue", _("超期结案")
    ERROR = "error", _("错误结案")
    SPECIAL = "special", _("特殊结案")
    SELF_HANDLED = "self_handled", _("自处理结案")


class Light(models.TextChoices):
    GREEN = "green", _("绿灯")
    YELLOW = "yellow", _("黄灯")
    RED = "red", _("红灯")


class CaseLight(Func):
    """`citygis_case_light(is_open, yellow_at, deadline, at)`: THE traffic-light rule (migration 0004).

    green/yellow/red, NULL without a running deadline (terminal or suspended cases). The `cases_open_v`
    view, `with_light()` and `Case.light_at()` all call it, so the map, the lists and a single case agree.
    """

    function = "citygis_case_light"
    output_field = CharField()


class CaseQuerySet(models.QuerySet):
    def with_light(self) -> CaseQuerySet:
        """Annotate `light_now` (green/yellow/red, NULL without a running deadline) computed at read time."""
        is_open = ExpressionWrapper(~Q(state__in=list(TERMINAL_STATES)), output_field=BooleanField())
        return self.annotate(light_now=CaseLight(is_open, F("stage_yellow_at"), F("stage_deadline"), Now()))

    def with_light_value(self, light: str) -> CaseQuerySet:
        return self.with_light().filter(light_now=light)

    def open(self) -> CaseQuerySet:
        return self.exclude(state__in=list(TERMINAL_STATES))


class Case(models.Model):
    """An urban-management case (案卷). Change it only through city_gis.cases.workflow / services."""

    number = models.CharField(_("案卷编号"), max_length=16, unique=True)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    category = models.ForeignKey(Category, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="cases")
    category_version = models.CharField(_("代码版本"), max_length=40)
    location = models.PointField(_("位置"), srid=SRID)
    cell = models.ForeignKey(
        "grid.Cell", verbose_name=_("单元网格"), null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    cell_code = models.CharField(_("网格编码"), max_length=16, db_index=True)
    community_code = models.CharField(_("社区代码"), max_length=12, db_index=True)
    street_code = models.CharField(_("街道代码"), max_length=9, db_index=True)
    district_code = models.CharField(_("区县代码"), max_length=6, db_index=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    description = models.TextField(_("问题描述"))
    urgency = models.CharField(_("紧急程度"), max_length=20, blank=True)
    contact = models.JSONField(_("联系方式"), default=dict, blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上报人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="reported_cases",
    )
    client_uuid = models.UUIDField(_("客户端标识"), null=True, blank=True, unique=True)
    observed_at = models.DateTimeField(_("发现时间"))
    created_at = models.DateTimeField(_("创建时间"), db_index=True)
    state = models.CharField(_("状态"), max_length=24, choices=State.choices, db_index=True)
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("处置部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="cases",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("核实/核查监督员"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="case_tasks",
    )
    stage_started_at = models.DateTimeField(_("当前阶段开始"), null=True, blank=True)
    stage_yellow_at = models.DateTimeField(_("黄灯时间"), null=True, blank=True)
    stage_deadline = models.DateTimeField(_("当前阶段时限"), null=True, blank=True, db_index=True)
    disposal_deadline = models.DateTimeField(_("处置时限"), null=True, blank=True)
    suspended_remaining_s = models.FloatField(_("挂账时剩余工作时间(秒)"), null=True, blank=True)
    pending_request = models.CharField(_("待审批申请"), max_length=20, blank=True)
    pending_request_data = models.JSONField(_("申请内容"), default=dict, blank=True)
    supervised = models.BooleanField(_("督办"), default=False)
    rework_count = models.PositiveIntegerField(_("返工次数"), default=0)
    return_count = models.PositiveIntegerField(_("回退次数"), default=0)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("合并至"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases"
    )
    duplicates = models.ManyToManyField(
        "self", verbose_name=_("疑似重复"), through="DuplicateLink", symmetrical=False, related_name="duplicate_of",
        blank=True,
    )
    close_type = models.CharField(_("结案类型"), max_length=20, choices=CloseType.choices, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"))

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("案卷")
        verbose_name_plural = _("案卷")
        indexes = [models.Index(fields=["category", "state"], name="case_category_state")]
        # The database keeps the text limit too, whatever path writes (the serializers give the 400).
        constraints = [models.CheckConstraint(condition=LessThanOrEqual(Length("description"), DESCRIPTION_MAX_LENGTH),
                                              name="case_description_max_length")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL_STATES

    def light_at(self, now: dt.datetime | None = None) -> str | None:
        """Traffic light (green/yellow/red) of this instance's running stage at `now`; None without a deadline.

        Evaluated by the database's citygis_case_light (one query, no table read) so that the rule is not
        restated here; lists use `Case.objects.with_light()` instead (no query per row).
        """
        with connection.cursor() as cur:
            cur.execute("SELECT citygis_case_light(%s, %s, %s, %s)",
                        [self.is_open, self.stage_yellow_at, self.stage_deadline, now or timezone.now()])
            return cur.fetchone()[0]

    @property
    def light(self) -> str | None:
        """The `light_now` annotation when the row was read `with_light()`, else `light_at()` now."""
        return self.light_now if hasattr(self, "light_now") else self.light_at()


class ImmutableError(Exception):
    """Raised when code tries to change or delete an immutable history row."""


class CaseHistory(models.Model):
    """One workflow transition of a case; append-only (save refuses updates, a DB trigger refuses both).

    `seq` numbers the entries of one case from 1. `due_at`/`on_time` say whether the stage this
    transition ends was finished in time; `deadline` is the deadline of the stage it starts.
    """

    case = models.ForeignKey(Case, verbose_name=_("案卷"), on_delete=models.CASCADE, related_name="history")
    seq = models.PositiveIntegerField(_("序号"))
    action = models.CharField(_("操作"), max_length=30, db_index=True)
    from_state = models.CharField(_("原状态"), max_length=24, blank=True)
    to_state = models.CharField(_("新状态"), max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="case_actions",
    )
    actor_role = models.CharField(_("操作角色"), max_length=20, blank=True)
    actor_department = models.ForeignKey(
        "accounts.Department", verbose_name=_("操作人部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("时间"), db_index=True)
    note = models.TextField(_("说明"), blank=True)
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("处置部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="case_history",
    )
    due_at = models.DateTimeField(_("本阶段时限"), null=True, blank=True)
    on_time = models.BooleanField(_("按时"), null=True)
    deadline = models.DateTimeField(_("下一阶段时限"), null=True, blank=True)
    disposal_deadline = models.DateTimeField(_("处置时限"), null=True, blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    class Meta:
        ordering = ["case_id", "seq"]
        verbose_name = _("案卷流转记录")
        verbose_name_plural = _("案卷流转记录")
        constraints = [
            # Partitioned by month of `at` (migration 0005), the key must be in every unique constraint; one seq per
            # case is kept by the workflow's row lock on the case, this is the backstop.
            models.UniqueConstraint(fields=["case", "seq", "at"], name="case_history_case_seq_at_unique"),
            # Append-only rows are kept forever: a note is bounded (workflow gives the 400, this is the backstop).
            models.CheckConstraint(condition=LessThanOrEqual(Length("note"), NOTE_MAX_LENGTH),
                                   name="case_history_note_max_length"),
        ]
        indexes = [models.Index(fields=["at", "action"], name="case_history_at_action")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableError("case history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("case history is append-only")


class DuplicateLink(models.Model):
    """`case` looks like a duplicate of the earlier open `original` (same small class, near in space and time)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="duplicate_links")
    original = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    distance_m = models.FloatField(_("距离(米)"))
    created_at = models.DateTimeField(_("发现时间"))
    resolved = models.BooleanField(_("已处理"), default=False)

    class Meta:
        verbose_name = _("疑似重复")
        verbose_name_plural = _("疑似重复")
        constraints = [models.UniqueConstraint(fields=["case", "original"], name="duplicate_link_unique")]


def _attachment_path(instance: CaseAttachment, filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()[:8] or ".jpg"
    return f"cases/{uuid.uuid4().hex}{suffix}"


def _thumbnail_path(instance: CaseAttachment, filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()[:8] or ".jpg"
    return f"cases/thumbs/{uuid.uuid4().hex}{suffix}"


class CaseAttachment(models.Model):
    """A photo of a case, optionally tied to the history entry it documents (report, disposal, check)."""

    case = models.ForeignKey(Case, verbose_name=_("案卷"), on_delete=models.CASCADE, related_name="attachments")
    history = models.ForeignKey(  # no database constraint: the history is partitioned (migration 0005)
        CaseHistory, verbose_name=_("流转记录"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="attachments", db_constraint=False,
    )
    image = models.ImageField(_("照片"), upload_to=_attachment_path)
    thumbnail = models.ImageField(_("缩略图"), upload_to=_thumbnail_path, blank=True)
    taken_at = models.DateTimeField(_("拍摄时间"), null=True, blank=True)
    gps = models.PointField(_("拍摄位置"), srid=SRID, null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("案卷照片")
        verbose_name_plural = _("案卷照片")


__all__ = [
    "Case", "CaseAttachment", "CaseHistory", "CaseLight", "Category", "CategoryKind", "CloseType", "DuplicateLink",
    "ImmutableError", "Light", "OPEN_STATES", "Source", "StageLimit", "State", "TERMINAL_STATES",
]
