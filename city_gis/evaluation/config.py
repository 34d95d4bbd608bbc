"""Evaluation configuration: weights, volume step tables, grade thresholds — loaded from YAML and validated.

The defaults live in data/evaluation.yaml; `CITYGIS_EVALUATION_CONFIG` (setting or environment variable) points
at a replacement file. Errors name the file and the offending key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings

DEFAULT_PATH = Path(__file__).with_name("data") / "evaluation.yaml"
LEVEL_WEIGHT_KEYS = ("inspector", "department", "area", "dispatcher", "leader")


class ConfigError(ValueError):
    """The evaluation configuration file is invalid (message names file and key)."""


@dataclass(frozen=True)
class Grade:
    grade: str
    min: float
    color: str


@dataclass(frozen=True)
class EvaluationConfig:
    grades: tuple[Grade, ...]
    volume_steps: dict[str, tuple[tuple[int, float], ...]]
    weights: dict[str, dict[str, float]]
    empty_rate: float = 1.0
    error_close_kinds: tuple[str, ...] = ("error",)
    fallback_limits_minutes: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def grade_for(self, score: float | None) -> str | None:
        """Grade letter of a 0–100 score (None for None)."""
        if score is None:
            return None
        for g in self.grades:
            if score >= g.min:
                return g.grade
        return self.grades[-1].grade

    def volume_score(self, table: str, count: int) -> float:
        """Score 0–100 of `count` by the step table `table` (highest step reached; 0 below the first)."""
        score = 0.0
        for minimum, value in self.volume_steps[table]:
            if count >= minimum:
                score = value
        return score


def _fail(path: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {msg}")


def _number(path: str, key: str, value, *, lo: float = 0, hi: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, key, f"expected a number, got {value!r}")
    if not lo <= value <= hi:
        raise _fail(path, key, f"{value} is outside [{lo}, {hi}]")
    return float(value)


def parse_config(data: dict, path: str = "<config>") -> EvaluationConfig:
    """Validate a decoded YAML document and build the configuration."""
    if not isinstance(data, dict):
        raise _fail(path, "<root>", "expected a mapping")
    grades_raw = data.get("grades")
    if not isinstance(grades_raw, list) or not grades_raw:
        raise _fail(path, "grades", "expected a non-empty list")
    grades = []
    for i, g in enumerate(grades_raw):
        key = f"grades[{i}]"
        if not isinstance(g, dict) or not isinstance(g.get("grade"), str):
            raise _fail(path, key, "expected {grade, min, color}")
        grades.append(Grade(g["grade"], _number(path, f"{key}.min", g.get("min"), hi=100), str(g.get("color", "#888888"))))
    mins = [g.min for g in grades]
    if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
        raise _fail(path, "grades", "minimums must be strictly decreasing")
    if grades[-1].min != 0:
        raise _fail(path, "grades", "the last grade must start at 0")

    steps_raw = data.get("volume_steps")
    if not isinstance(steps_raw, dict):
        raise _fail(path, "volume_steps", "expected a mapping of tables")
    steps: dict[str, tuple[tuple[int, float], ...]] = {}
    for name, table in steps_raw.items():
        if not isinstance(table, list) or not table:
            raise _fail(path, f"volume_steps.{name}", "expected a non-empty list of {min, score}")
        rows = []
        for i, row in enumerate(table):
            key = f"volume_steps.{name}[{i}]"
            if not isinstance(row, dict):
                raise _fail(path, key, "expected {min, score}")
            rows.append((int(_number(path, f"{key}.min", row.get("min"))), _number(path, f"{key}.score", row.get("score"), hi=100)))
        if [r[0] for r in rows] != sorted({r[0] for r in rows}):
            raise _fail(path, f"volume_steps.{name}", "minimums must be strictly increasing")
        steps[name] = tuple(rows)

    weights_raw = data.get("weights")
    if not isinstance(weights_raw, dict):
        raise _fail(path, "weights", "expected a mapping per level")
    weights: dict[str, dict[str, float]] = {}
    for level in LEVEL_WEIGHT_KEYS:
        w = weights_raw.get(level)
        if not isinstance(w, dict) or not w:
            raise _fail(path, f"weights.{level}", "missing")
        weights[level] = {k: _number(path, f"weights.{level}.{k}", v) for k, v in w.items()}
        total = sum(weights[level].values())
        if abs(total - 100) > 1e-6:
            raise _fail(path, f"weights.{level}", f"weights sum to {total:g}, not 100")
        if "volume" in weights[level] and level not in steps:
            raise _fail(path, f"volume_steps.{level}", "needed by weights.{level}.volume")
    return EvaluationConfig(
        grades=tuple(grades),
        volume_steps=steps,
        weights=weights,
        empty_rate=_number(path, "empty_rate", data.get("empty_rate", 1.0), hi=1),
        error_close_kinds=tuple(str(k) for k in data.get("error_close_kinds", ["error"])),
        fallback_limits_minutes={k: int(_number(path, f"fallback_limits_minutes.{k}", v)) for k, v in (data.get("fallback_limits_minutes") or {}).items()},
        source=path,
    )


def config_path() -> Path:
    """The file in force: setting, then environment, then the packaged defaults."""
    value = getattr(settings, "CITYGIS_EVALUATION_CONFIG", None) or os.environ.get("CITYGIS_EVALUATION_CONFIG")
    return Path(value) if value else DEFAULT_PATH


def load_config(path: Path | str | None = None) -> EvaluationConfig:
    """Read and validate a configuration file (default: `config_path()`)."""
    path = Path(path) if path else config_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_config(data, str(path))


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> EvaluationConfig:
    return load_config(path)


def get_config() -> EvaluationConfig:
    """The configuration in force, re-read when its file changes."""
    path = config_path()
    return _cached(str(path), path.stat().st_mtime if path.exists() else 0.0)
