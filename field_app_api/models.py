"""Models of the field API: Open311 API keys and the idempotency receipts of field reports."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

KEY_PREFIX_LEN = 8


def hash_key(raw: str) -> str:
    """SHA-256 of an API key: keys are long random tokens, so a fast hash is enough (no salt needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def lookup(self, raw: str | None) -> ApiKey | None:
        """The active key matching `raw`, or None."""
        if not raw:
            return None
        return self.filter(key_hash=hash_key(raw.strip()), active=True).first()


class ApiKey(models.Model):
    """An Open311 API key of a partner application; only its hash is stored."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    prefix = models.CharField(_("前缀"), max_length=KEY_PREFIX_LEN, help_text=_("用于辨认密钥，不可用于认证"))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("Open311 API 密钥")
        verbose_name_plural = _("Open311 API 密钥")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, name: str) -> tuple[ApiKey, str]:
        """Create a key named `name`; return it with the raw key (shown once, never stored)."""
        raw = secrets.token_urlsafe(32)
        key = cls.objects.create(name=name, prefix=raw[:KEY_PREFIX_LEN], key_hash=hash_key(raw))
        return key, raw


class ReportReceipt(models.Model):
    """One per client_uuid: makes report intake idempotent across retries and concurrent requests.

    Inserted first in the report's transaction, so a concurrent retry blocks on the unique index and
    then finds the committed receipt instead of creating a second case.
    """

    client_uuid = models.UUIDField(_("客户端编号"), unique=True)
    payload_hash = models.CharField(max_length=64)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case_id = models.BigIntegerField(_("案卷"), null=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("上报回执")
        verbose_name_plural = _("上报回执")

    def __str__(self) -> str:
        return str(self.client_uuid)


class Open311Submission(models.Model):
    """What an Open311 partner sent beside the case: the key used, media_url and address text."""

    case_id = models.BigIntegerField(_("案卷"), unique=True)
    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="submissions")
    media_url = models.URLField(max_length=500, blank=True)
    address_string = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Open311 提交")
        verbose_name_plural = _("Open311 提交")

    def __str__(self) -> str:
        return f"{self.api_key.name}: {self.case_id}"
