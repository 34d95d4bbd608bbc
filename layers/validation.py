"""Text that enters the registry from users and files: layer titles and abstracts, attribute names and values.

Checked on input (length, no control characters, nothing XML 1.0 forbids); escaping on output is each
writer's job. Every function returns the cleaned text or raises django.core.exceptions.ValidationError.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# C0/C1 controls, DEL, lone surrogates, the non-characters U+FFFE/U+FFFF, and bidi overrides that make a
# title read differently than it is stored.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
_FORBIDDEN_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
TITLE_MAX_CHARS = 120  # Layer.title_zh / title_en max_length
ABSTRACT_MAX_CHARS_DEFAULT = 4000
ATTRIBUTE_NAME_MAX_CHARS = 63  # PostgreSQL identifier length: attributes may become columns (WFS, exports)


def _check(text: str, field: str, max_chars: int, pattern: re.Pattern[str]) -> str:
    if not isinstance(text, str):
        raise ValidationError({field: _("必须是文本")})
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
    bad = pattern.search(text)
    if bad:
        raise ValidationError({field: _("含有不允许的控制字符 U+%(code)04X（位置 %(pos)s）")
                               % {"code": ord(bad.group(0)), "pos": bad.start() + 1}})
    if len(text) > max_chars:
        raise ValidationError({field: _("超过最大长度 %(max)s 个字符（%(n)s）") % {"max": max_chars, "n": len(text)}})
    return text


def validate_title(text: str, field: str = "title_zh") -> str:
    """A layer title: one line, at most 120 characters, no control characters."""
    return _check(text, field, TITLE_MAX_CHARS, _FORBIDDEN)


def validate_abstract(text: str, field: str = "abstract") -> str:
    """A layer abstract: line breaks and tabs allowed, at most CITYGIS_LAYER_ABSTRACT_MAX_CHARS characters."""
    limit = int(getattr(settings, "CITYGIS_LAYER_ABSTRACT_MAX_CHARS", ABSTRACT_MAX_CHARS_DEFAULT))
    return _check(text, field, limit, _FORBIDDEN_MULTILINE)


def validate_attribute_name(name: str) -> str:
    """An attribute (column) name from a file: one line, at most 63 characters, not empty."""
    cleaned = _check(str(name), "file", ATTRIBUTE_NAME_MAX_CHARS, _FORBIDDEN)
    if not cleaned:
        raise ValidationError({"file": _("列名为空")})
    return cleaned


def attribute_value_problem(value: str) -> str | None:
    """Why a text attribute value from a file can't be stored, or None (line breaks and tabs are fine)."""
    limit = int(getattr(settings, "CITYGIS_IMPORT_MAX_VALUE_CHARS", 10_000))
    if len(value) > limit:
        return _("超过最大长度 %(max)s 个字符（CITYGIS_IMPORT_MAX_VALUE_CHARS）") % {"max": limit}
    bad = _FORBIDDEN_MULTILINE.search(value)
    if bad:
        return _("含有不允许的控制字符 U+%(code)04X") % {"code": ord(bad.group(0))}
    return None


def any_value_problem(values: list[str]) -> bool:
    """Whether any of `values` has a problem: one length pass and one regex over the joined text (C speed),
    so clean columns cost no per-value Python call."""
    limit = int(getattr(settings, "CITYGIS_IMPORT_MAX_VALUE_CHARS", 10_000))
    return bool(values) and (max(map(len, values)) > limit or _FORBIDDEN_MULTILINE.search("\n".join(values)) is not None)
