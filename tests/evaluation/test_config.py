"""The configuration file: defaults from DOMAIN.md, validation errors naming the key, override by path."""

from __future__ import annotations

import pytest
import yaml

from city_gis.evaluation.config import DEFAULT_PATH, ConfigError, get_config, load_config, parse_config


def defaults() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_defaults_follow_domain_md():
    cfg = load_config()
    assert [(g.grade, g.min) for g in cfg.grades] == [("A", 90), ("B", 75), ("C", 60), ("D", 40), ("E", 0)]
    assert cfg.weights["inspector"] == {"effective_report_rate": 40, "1-miss_rate": 20, "on_time_verify_rate": 20,
                                        "on_time_check_rate": 20}
    assert cfg.weights["department"]["volume"] == 10 and cfg.weights["area"]["volume"] == 20
    assert cfg.weights["leader"] == {"on_time_register_rate": 25, "accurate_register_rate": 40,
                                     "on_time_close_rate": 35}


@pytest.mark.parametrize("score,grade", [(100, "A"), (90, "A"), (89.99, "B"), (75, "B"), (74.99, "C"), (60, "C"),
                                         (59.99, "D"), (40, "D"), (39.99, "E"), (0, "E")])
def test_grade_thresholds(score, grade):
    assert load_config().grade_for(score) == grade


def test_volume_steps():
    cfg = load_config()
    assert [cfg.volume_score("area", n) for n in (0, 1, 4, 5, 20, 49, 50, 10_000)] == [0, 40, 40, 60, 80, 80, 100, 100]


def test_weights_must_sum_to_100():
    data = defaults()
    data["weights"]["dispatcher"]["volume"] = 30
    with pytest.raises(ConfigError, match=r"weights\.dispatcher.*110"):
        parse_config(data, "x.yaml")


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d["grades"].reverse(), "grades"),
    (lambda d: d["volume_steps"]["area"].append({"min": 2, "score": 90}), "volume_steps.area"),
    (lambda d: d["grades"][0].update(min="high"), r"grades\[0\]\.min"),
    (lambda d: d["weights"].pop("leader"), "weights.leader"),
])
def test_invalid_files_are_refused_naming_the_key(mutate, key):
    data = defaults()
    mutate(data)
    with pytest.raises(ConfigError, match=f"x.yaml: {key}"):
        parse_config(data, "x.yaml")


def test_a_city_overrides_the_file_by_setting(tmp_path, settings):
    data = defaults()
    data["grades"][0]["min"] = 95
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings.CITYGIS_EVALUATION_CONFIG = str(path)
    assert get_config().grade_for(92) == "B"
    settings.CITYGIS_EVALUATION_CONFIG = str(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        get_config()
