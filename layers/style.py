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

The structure is the JSON Schema layers/schemas/style.schema.json (checked through layers.configschema); what a
schema cannot say (unique class values, min ≤ max, min_scale ≤ max_scale) and the normalisation are code here.
`normalise_style` returns a clean copy or raises `StyleError` whose message names the offending key
(e.g. "classes[2].fill"). The admin, the API and the tileserver (mapfile CLASSes) all go through it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .configschema import load_schema, schema_error

SCHEMA_PATH = Path(__file__).with_name("schemas") / "style.schema.json"
SCHEMA = load_schema(SCHEMA_PATH)
# Read from the schema so that the schema stays the one place these rules are written.
COLOR_RE = re.compile(SCHEMA["$defs"]["color"]["pattern"])
SYMBOLS: tuple[str, ...] = tuple(SCHEMA["$defs"]["symbol"]["enum"])
SYMBOLIZER_KEYS = ("fill", "stroke", "stroke_width", "opacity", "symbol", "size")


class StyleError(ValueError):
    """A style document is invalid; `key` names the offending key path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def normalise_color(value: Any, key: str = "color") -> str:
    """`value` as "#rrggbb" (lower case); StyleError naming `key` when it is not a colour."""
    if not isinstance(value, str) or not COLOR_RE.match(value):
        raise StyleError(key, _("颜色必须是 #rrggbb 形式，得到 %(value)s") % {"value": repr(value)})
    value = value.lower()
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value


def is_symbol(value: Any) -> bool:
    """True when `value` names one of the point symbols every map server of ours defines (SYMBOLS)."""
    return isinstance(value, str) and value in SYMBOLS


def _without_unset(doc: Any) -> Any:
    """`doc` without null keys (null means "unset"), and without an empty `label` or `classes`, as before."""
    if not isinstance(doc, dict):
        return doc
    out = {k: v for k, v in doc.items() if v is not None and not (k in ("label", "classes") and not v)}
    if isinstance(out.get("classes"), list):
        out["classes"] = [_without_unset(c) for c in out["classes"]]
    if isinstance(out.get("label"), dict):
        out["label"] = _without_unset(out["label"])
    return out


def _symbolizer(doc: dict) -> dict[str, Any]:
    """The keys shared by the layer and its classes, normalised (colours lower-case #rrggbb, opacity integer)."""
    out = {k: doc[k] for k in SYMBOLIZER_KEYS if k in doc}
    for key in ("fill", "stroke"):
        if key in out:
            out[key] = normalise_color(out[key], key)
    if "opacity" in out:
        out["opacity"] = int(round(out["opacity"]))
    return out


def normalise_style(style: Any) -> dict[str, Any]:
    """Validate `style` and return its normalised copy; raise StyleError naming the key on error.

    Raster styles (colormap/min/max/nodata) may classify by value ranges without `classify_by`.
    """
    if style in (None, ""):
        return {}
    style = _without_unset(style)
    error = schema_error(style, SCHEMA, root="style", translate=_)
    if error:
        raise StyleError(*error)
    out = _symbolizer(style)
    out.update({k: style[k] for k in ("colormap", "min", "max", "nodata", "classify_by") if k in style})
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise StyleError("min", _('不能大于 max'))
    if "classes" in style:
        out["classes"] = []
        seen: set[str] = set()
        for i, cls in enumerate(style["classes"]):
            # Values are compared as text: 701 and "701" are the same class in MapServer's expression.
            value = str(cls["value"])
            if value in seen:
                raise StyleError(f"classes[{i}].value", _("分类值重复：%(value)s") % {"value": value})
            seen.add(value)
            out["classes"].append({"value": value, "label": cls.get("label") or value, **_symbolizer(cls)})
    if "label" in style:
        lab = dict(style["label"])
        if "color" in lab:
            lab["color"] = normalise_color(lab["color"], "label.color")
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
