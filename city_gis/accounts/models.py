"""Departments, roles and users: every user belongs to a department and holds one or more roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles of the platform; permissions are decided from these plus the user's department."""

    INSPECTOR = "inspector", _("监督员")
    OPERATOR = "operator", _("受理员")
    LEADER = "leader", _("值班长")
    DISPATCHER = "dispatcher", _("派遣员")
    HANDLER = "handler", _("专业部门处置人员")
    DATA_STEWARD = "data_steward", _("数据管理员")
    PLANNER = "planner", _("规划分析人员")
    LEADER_VIEW = "leader_view", _("领导查看")
    ADMIN = "admin", _("系统管理员")
    # Geohazard monitoring (city_gis/hazards): the duty officer, and the account a device gateway posts with.
    HAZARD_OFFICER = "hazard_officer", _("地灾值班员")
    DEVICE_GATEWAY = "device_gateway", _("监测设备网关")


class Department(models.Model):
    """A government department: owns map layers and disposes of dispatched cases."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name_zh = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    is_disposal_unit = models.BooleanField(_("处置单位"), default=True, help_text=_("可被派遣案卷"))
    phone = models.CharField(_("电话"), max_length=40, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self) -> str:
        return self.name_zh


class User(AbstractUser):
    """A platform user: one department, any number of roles."""

    department = models.ForeignKey(
        Department, verbose_name=_("部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    roles = ArrayField(
        models.CharField(max_length=20, choices=Role.choices), verbose_name=_("角色"), default=list, blank=True
    )
    display_name = models.CharField(_("姓名"), max_length=60, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    @property
    def is_admin(self) -> bool:
        """An active superuser or holder of the admin role: the one definition of "administrator"."""
        return self.is_active and (self.is_superuser or Role.ADMIN in self.roles)

    def has_role(self, *roles: str) -> bool:
        """True when the user holds any of `roles` (superusers and admins hold every role)."""
        if not self.is_active:
            return False
        if self.is_admin:
            return True
        return any(r in self.roles for r in roles)

    def save(self, *args, **kwargs) -> None:
        # set_password() leaves the raw password in _password until saved: a changed password revokes
        # every API token (sessions are already invalidated by Django's session auth hash).
        password_changed = self.pk is not None and self._password is not None
        super().save(*args, **kwargs)
        if password_changed:
            from city_gis.security.tokens import revoke_tokens

            revoke_tokens(self)

    @property
    def label(self) -> str:
        return self.display_name or self.username
