"""Evaluation configuration: weights, volume step tables, grade thresholds — loaded from YAML and validated.

The defaults live in data/evaluation.yaml; `CITYGIS_EVALUATION_CONFIG` (setting or environment variable) points
at a replacement file. Its structure is the JSON Schema data/evaluation.schema.json; the rules a schema cannot
say (weights summing to 100, ordered minimums) are checked after it. Errors name the file and the offending key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from django.conf import settings

from layers.configschema import file_stamp, load_schema, read_yaml, schema_error

DEFAULT_PATH = Path(__file__).with_name("data") / "evaluation.yaml"
SCHEMA = load_schema(Path(__file__).with_name("data") / "evaluation.schema.json")
LEVEL_WEIGHT_KEYS: tuple[str, ...] = tuple(SCHEMA["properties"]["weights"]["required"])


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


def parse_config(data: dict, path: str = "<config>") -> EvaluationConfig:
    """Validate a decoded YAML document (schema first, then the rules a schema cannot say) and build the configuration."""
    error = schema_error(data, SCHEMA)
    if error:
        raise _fail(path, *error)
    grades = tuple(Grade(g["grade"], float(g["min"]), g.get("color", "#888888")) for g in data["grades"])
    mins = [g.min for g in grades]
    if any(a <= b for a, b in pairwise(mins)):
        raise _fail(path, "grades", "minimums must be strictly decreasing")
    if mins[-1] != 0:
        raise _fail(path, "grades", "the last grade must start at 0")
    steps = {name: tuple((row["min"], float(row["score"])) for row in table)
             for name, table in data["volume_steps"].items()}
    for name, rows in steps.items():
        if any(a[0] >= b[0] for a, b in pairwise(rows)):
            raise _fail(path, f"volume_steps.{name}", "minimums must be strictly increasing")
    weights = {level: {k: float(v) for k, v in data["weights"][level].items()} for level in LEVEL_WEIGHT_KEYS}
    for level, w in weights.items():
        total = sum(w.values())
        if abs(total - 100) > 1e-6:
            raise _fail(path, f"weights.{level}", f"weights sum to {total:g}, not 100")
        if "volume" in w and level not in steps:
            raise _fail(path, f"volume_steps.{level}", f"needed by weights.{level}.volume")
    return EvaluationConfig(
        grades=grades,
        volume_steps=steps,
        weights=weights,
        empty_rate=float(data.get("empty_rate", 1.0)),
        error_close_kinds=tuple(data.get("error_close_kinds", ["error"])),
        fallback_limits_minutes=dict(data.get("fallback_limits_minutes") or {}),
        source=path,
    )


def config_path() -> Path:
    """The file in force: settings.CITYGIS_EVALUATION_CONFIG, else (empty) the packaged defaults."""
    value = settings.CITYGIS_EVALUATION_CONFIG
    return Path(value) if value else DEFAULT_PATH


def load_config(path: Path | str | None = None) -> EvaluationConfig:
    """Read and validate a configuration file (default: `config_path()`)."""
    path = Path(path) if path else config_path()
    return parse_config(read_yaml(path, ConfigError), str(path))


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> EvaluationConfig:
    return load_config(path)


def get_config() -> EvaluationConfig:
    """The configuration in force, re-read when its file changes."""
    return _cached(*file_stamp(config_path()))
