"""The layer `style` JSON: validation and normalisation.

Schema (every key optional):
    fill, stroke         colour "#rrggbb" (or "#rgb", normalised to "#rrggbb", lower case)
    stroke_width         number ≥ 0 (pixels)
    opacity              integer 0–100 (percent)
    symbol               one of SYMBOLS (point layers)
    size                 number > 0 (pixels, point symbol size)
    classify_by          attribute name the classes match on (required when classes are given)
    classes              list of {value (required), label, fill, stroke, stroke_width, opacity, symbol, size}
    label                {attribute (required), size, color, min_scale, max_scale}
  raster layers also:
    colormap             name of a colour ramp (e.g. "gray", "terrain", "slope")
    min, max             value range the ramp stretches over (min ≤ max)
    nodata               the no-data value
  (raster classes may use ranges as values, e.g. "15-25")

`normalise_style` returns a clean copy or raises `StyleError` whose message names the offending key
(e.g. "classes[2].fill"). The admin, the API and the tileserver (mapfile CLASSes) all go through it.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ATTRIBUTE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SYMBOLS = ("circle", "square", "triangle", "star", "cross")
STYLE_KEYS = {"fill", "stroke", "stroke_width", "opacity", "symbol", "size", "classify_by", "classes", "label",
              "colormap", "min", "max", "nodata"}
CLASS_KEYS = {"value", "label", "fill", "stroke", "stroke_width", "opacity", "symbol", "size"}
LABEL_KEYS = {"attribute", "size", "color", "min_scale", "max_scale"}


class StyleError(ValueError):
    """A style document is invalid; `key` names the offending key path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _color(key: str, value: Any) -> str:
    if not isinstance(value, str) or not COLOR_RE.match(value):
        raise StyleError(key, _("颜色必须是 #rrggbb 形式，得到 %(value)s") % {"value": repr(value)})
    value = value.lower()
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value


def _number(key: str, value: Any, *, minimum: float = 0, strict: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StyleError(key, _("必须是数字，得到 %(value)s") % {"value": repr(value)})
    if value < minimum or (strict and value == minimum):
        raise StyleError(key, (_("必须大于 %(minimum)s，得到 %(value)s") if strict else _("必须不小于 %(minimum)s，得到 %(value)s"))
                         % {"minimum": minimum, "value": repr(value)})
    return value


def _opacity(key: str, value: Any) -> int:
    value = _number(key, value)
    if value > 100:
        raise StyleError(key, _("不透明度取 0–100，得到 %(value)s") % {"value": repr(value)})
    return int(round(value))


def _attribute(key: str, value: Any) -> str:
    if not isinstance(value, str) or not ATTRIBUTE_RE.match(value):
        raise StyleError(key, _("不是合法的属性名：%(value)s") % {"value": repr(value)})
    return value


def _unknown(prefix: str, doc: dict, allowed: set[str]) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise StyleError(f"{prefix}{extra[0]}", _('未知的样式键'))


def _symbolizer(prefix: str, doc: dict) -> dict[str, Any]:
    """The keys shared by the layer and its classes."""
    out: dict[str, Any] = {}
    for key in ("fill", "stroke"):
        if key in doc and doc[key] is not None:
            out[key] = _color(prefix + key, doc[key])
    if doc.get("stroke_width") is not None:
        out["stroke_width"] = _number(prefix + "stroke_width", doc["stroke_width"])
    if doc.get("opacity") is not None:
        out["opacity"] = _opacity(prefix + "opacity", doc["opacity"])
    if doc.get("symbol") is not None:
        if doc["symbol"] not in SYMBOLS:
            raise StyleError(prefix + "symbol", _("符号取 %(symbols)s 之一，得到 %(value)s") % {"symbols": ", ".join(SYMBOLS), "value": repr(doc["symbol"])})
        out["symbol"] = doc["symbol"]
    if doc.get("size") is not None:
        out["size"] = _number(prefix + "size", doc["size"], strict=True)
    return out


def _raster_keys(style: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if style.get("colormap") is not None:
        out["colormap"] = _attribute("colormap", style["colormap"])
    for key in ("min", "max", "nodata"):
        if style.get(key) is not None:
            out[key] = _number(key, style[key], minimum=float("-inf"))
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise StyleError("min", _('不能大于 max'))
    return out


def normalise_style(style: Any) -> dict[str, Any]:
    """Validate `style` and return its normalised copy; raise StyleError naming the key on error.

    Raster styles (colormap/min/max/nodata) may classify by value ranges without `classify_by`.
    """
    if style in (None, ""):
        return {}
    if not isinstance(style, dict):
        raise StyleError("style", _('样式必须是 JSON 对象'))
    _unknown("", style, STYLE_KEYS)
    out = _symbolizer("", style)
    out.update(_raster_keys(style))
    raster = any(k in out for k in ("colormap", "min", "max", "nodata"))
    if style.get("classify_by") is not None:
        out["classify_by"] = _attribute("classify_by", style["classify_by"])
    classes = style.get("classes")
    if classes:
        if not isinstance(classes, list):
            raise StyleError("classes", _('必须是列表'))
        if "classify_by" not in out and not raster:
            raise StyleError("classify_by", _('给出 classes 时必须指定分类属性'))
        out["classes"] = []
        seen: set[str] = set()
        for i, cls in enumerate(classes):
            prefix = f"classes[{i}]."
            if not isinstance(cls, dict):
                raise StyleError(f"classes[{i}]", _('必须是 JSON 对象'))
            _unknown(prefix, cls, CLASS_KEYS)
            if cls.get("value") is None or isinstance(cls["value"], (dict, list)):
                raise StyleError(prefix + "value", _('必须给出分类值（字符串或数字）'))
            value = str(cls["value"])
            if value in seen:
                raise StyleError(prefix + "value", _("分类值重复：%(value)s") % {"value": value})
            seen.add(value)
            label = cls.get("label", value)
            if not isinstance(label, str):
                raise StyleError(prefix + "label", _('必须是字符串'))
            out["classes"].append({"value": value, "label": label or value, **_symbolizer(prefix, cls)})
    label = style.get("label")
    if label:
        if not isinstance(label, dict):
            raise StyleError("label", _('必须是 JSON 对象'))
        _unknown("label.", label, LABEL_KEYS)
        lab: dict[str, Any] = {"attribute": _attribute("label.attribute", label.get("attribute"))}
        if label.get("size") is not None:
            lab["size"] = _number("label.size", label["size"], strict=True)
        if label.get("color") is not None:
            lab["color"] = _color("label.color", label["color"])
        for key in ("min_scale", "max_scale"):
            if label.get(key) is not None:
                lab[key] = _number(f"label.{key}", label[key])
        if lab.get("max_scale") and lab.get("min_scale", 0) > lab["max_scale"]:
            raise StyleError("label.min_scale", _('不能大于 max_scale'))
        out["label"] = lab
    return out


def validate_style(value: Any) -> None:
    """Django validator wrapper: StyleError → ValidationError (for model forms / admin)."""
    try:
        normalise_style(value)
    except StyleError as exc:
        raise ValidationError(str(exc), code="style") from exc
