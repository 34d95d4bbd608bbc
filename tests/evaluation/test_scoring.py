"""Scoring: rates are clamped ratios, composite scores are weighted sums in 0–100, grades follow thresholds."""

from __future__ import annotations

import pytest

from city_gis.evaluation.config import EvaluationConfig, Grade
from city_gis.evaluation.scoring import composite_score, rate

CONFIG = EvaluationConfig(
    grades=(Grade("A", 90, "#1a9850"), Grade("B", 75, "#91cf60"), Grade("C", 60, "#fee08b"), Grade("D", 0, "#d73027")),
    volume_steps={"department": ((1, 50.0), (10, 100.0))},
    weights={
        "inspector": {"effective_report_rate": 40, "1-miss_rate": 20, "on_time_verify_rate": 20, "on_time_check_rate": 20},
        "department": {"volume": 10, "closing_rate": 90},
    },
    empty_rate=0.5,
)


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (3, 4, 0.75),
    (0, 5, 0.0),
    (5, 5, 1.0),
    (0, 0, None),   # nothing to rate
    (6, 5, 1.0),    # never above 1 (a late correction can count twice)
    (-1, 5, 0.0),   # never below 0
])
def test_rate_is_a_ratio_clamped_to_zero_one(numerator, denominator, expected):
    assert rate(numerator, denominator) == expected


def test_composite_score_weights_rates_and_complements():
    rates = {"effective_report_rate": 0.5, "miss_rate": 0.25, "on_time_verify_rate": 1.0, "on_time_check_rate": 0.0}
    # 40×0.5 + 20×(1−0.25) + 20×1 + 20×0 = 20 + 15 + 20 + 0
    assert composite_score(CONFIG, "inspector", rates) == 55.0


def test_a_component_without_denominator_scores_empty_rate_of_its_weight():
    rates = {"effective_report_rate": None, "miss_rate": 0.0, "on_time_verify_rate": 1.0, "on_time_check_rate": 1.0}
    assert composite_score(CONFIG, "inspector", rates) == 40 * 0.5 + 20 + 20 + 20


def test_volume_counts_its_weight_per_hundred_points():
    assert composite_score(CONFIG, "department", {"closing_rate": 1.0}, volume=50.0) == 95.0
    assert composite_score(CONFIG, "department", {"closing_rate": 1.0}, volume=None) == 90.0


@pytest.mark.parametrize(("count", "expected"), [(0, 0.0), (1, 50.0), (9, 50.0), (10, 100.0), (500, 100.0)])
def test_volume_score_is_the_highest_step_reached(count, expected):
    assert CONFIG.volume_score("department", count) == expected


@pytest.mark.parametrize(("score", "grade"), [(100, "A"), (90, "A"), (89.99, "B"), (75, "B"), (60, "C"), (0, "D"),
                                              (None, None)])
def test_grade_is_the_first_threshold_reached(score, grade):
    assert CONFIG.grade_for(score) == grade
