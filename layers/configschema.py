"""The one way configuration documents are checked against their JSON Schema (draft 2020-12).

Configuration (layer styles, evaluation weights, categories, …) is data with a versioned schema file; each
loader calls `schema_error` first and keeps only the checks a schema cannot express as code after it.
The error is reported as the key path our messages and tests name: `classes[2].fill`, `weights.leader`, the
missing key of a `required` failure and the unexpected key of an `additionalProperties` failure (not the
enclosing object). A subschema may carry `x-messages`, {keyword: gettext msgid with optional `%(value)s`},
to replace jsonschema's English text for that keyword. This module lives in `layers` because every app may import `layers`, and `layers`
may import no domain app.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match


@lru_cache(maxsize=16)
def read_yaml(path: Path, error: type[Exception]) -> Any:
    """The YAML document of a configuration file; `error` naming the file when it cannot be read or parsed."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {exc}") from exc


def file_stamp(path: Path) -> tuple[str, float]:
    """(path, mtime): the cache key of a configuration file that is re-read when it changes (0.0 if missing)."""
    return str(path), path.stat().st_mtime if path.exists() else 0.0


def load_schema(path: Path) -> dict[str, Any]:
    """The schema in `path`, checked once against the draft 2020-12 meta-schema (a broken schema fails loudly)."""
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    if "version" not in schema:
        raise ValueError(f"{path}: a configuration schema declares its 'version'")
    return schema


def key_path(parts: Iterable[str | int], root: str = "<root>") -> str:
    """`["classes", 2, "fill"]` → "classes[2].fill"; the empty path is `root`."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or root


def _offending_key(error: ValidationError) -> list[str | int]:
    """The path of the key that is wrong: for required/additionalProperties the key itself, not its parent."""
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        parts += missing[:1]
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in known)
        parts += extra[:1]
    return parts


def schema_error(doc: Any, schema: dict[str, Any], *, root: str = "<root>",
                 translate: Callable[[str], str] = str) -> tuple[str, str] | None:
    """The most relevant error of `doc` against `schema` as (key path, message), or None when `doc` is valid.

    jsonschema's `best_match` picks it (ties: the first in schema order), so a faulty document always reports
    the same error.
    """
    best = best_match(Draft202012Validator(schema).iter_errors(doc))
    if best is None:
        return None
    template = best.schema.get("x-messages", {}).get(best.validator) if isinstance(best.schema, dict) else None
    message = translate(template) % {"value": repr(best.instance)} if template else best.message
    return key_path(_offending_key(best), root), message
