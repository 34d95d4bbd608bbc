"""From counts to rates, composite scores and grades (pure functions over the configuration)."""

from __future__ import annotations

from collections.abc import Mapping

from .config import EvaluationConfig


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator in [0, 1]; None when there is nothing to rate."""
    if not denominator:
        return None
    return max(0.0, min(1.0, numerator / denominator))


def composite_score(
    config: EvaluationConfig, weight_key: str, rates: Mapping[str, float | None], volume: float | None = None
) -> float:
    """Weighted 0–100 score: Σ weight × rate (or 1 − rate for `1-` keys) + weight × volume / 100.

    A component whose rate has no value (empty denominator) scores `config.empty_rate` × its weight.
    """
    total = 0.0
    for key, weight in config.weights[weight_key].items():
        if key == "volume":
            total += weight * (volume or 0.0) / 100.0
            continue
        complement = key.startswith("1-")
        name = key[2:] if complement else key
        value = rates.get(name)
        if value is None:  # nothing to rate: the component scores empty_rate of its weight
            total += weight * config.empty_rate
            continue
        total += weight * ((1.0 - value) if complement else value)
    return round(max(0.0, min(100.0, total)), 2)
