"""Configuration is data with a versioned JSON Schema: each schema is valid draft 2020-12, each packaged file
passes it, and errors name the exact key path (the missing or unexpected key itself, not its parent)."""

from pathlib import Path

import pytest
import yaml

from city_gis.cases import categories
from city_gis.cases.calendar import UNITS
from city_gis.evaluation import config
from layers import style
from layers.configschema import key_path, load_schema, schema_error

SCHEMAS = {
    "style": style.SCHEMA_PATH,
    "evaluation": Path(config.__file__).with_name("data") / "evaluation.schema.json",
    "categories": Path(categories.__file__).with_name("data") / "categories.schema.json",
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_schema_is_draft_2020_12_and_versioned(name):
    schema = load_schema(SCHEMAS[name])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["version"] == 1


@pytest.mark.parametrize("schema,path", [(config.SCHEMA, config.DEFAULT_PATH), (categories.SCHEMA, categories.DEFAULT_FILE)])
def test_packaged_files_pass_their_schema(schema, path):
    assert schema_error(yaml.safe_load(path.read_text(encoding="utf-8")), schema) is None


def test_units_in_the_categories_schema_are_the_calendars():
    assert tuple(categories.SCHEMA["$defs"]["unit"]["enum"]) == UNITS


def test_symbols_and_level_keys_come_from_the_schemas():
    assert style.SYMBOLS == ("circle", "square", "triangle", "star", "cross")
    assert config.LEVEL_WEIGHT_KEYS == ("inspector", "department", "area", "dispatcher", "leader")


@pytest.mark.parametrize("parts,text", [([], "<root>"), (["a"], "a"), (["classes", 2, "fill"], "classes[2].fill"),
                                        (["weights", "leader"], "weights.leader"), ([0, "x"], "[0].x")])
def test_key_path(parts, text):
    assert key_path(parts) == text


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d.pop("version"), "version"),
    (lambda d: d.update(colour=1), "colour"),
    (lambda d: d["stage_limits"]["verify"].update(unit="weeks"), "stage_limits.verify.unit"),
    (lambda d: d["events"][0]["small"][0].pop("name_zh"), "events[0].small[0].name_zh"),
    (lambda d: d["events"][0]["small"][0].update(code="99"), "events[0].small[0].code"),
    (lambda d: d["events"][0]["small"][1]["urgency"][0].update(limit=0), "events[0].small[1].urgency[0].limit"),
    (lambda d: d["components"][0]["big"].update(code="1"), "components[0].big.code"),
])
def test_categories_errors_name_the_exact_key(mutate, key):
    doc = yaml.safe_load(categories.DEFAULT_FILE.read_text(encoding="utf-8"))
    mutate(doc)
    assert schema_error(doc, categories.SCHEMA)[0] == key


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d.update(version=2), "version"),
    (lambda d: d["weights"]["area"].update(volume=True), "weights.area.volume"),
    (lambda d: d["volume_steps"]["area"][0].pop("score"), "volume_steps.area[0].score"),
    (lambda d: d.update(empty_rate=2), "empty_rate"),
])
def test_evaluation_errors_name_the_exact_key(mutate, key):
    doc = yaml.safe_load(config.DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(doc)
    with pytest.raises(config.ConfigError) as err:
        config.parse_config(doc, "x.yaml")
    assert str(err.value).startswith(f"x.yaml: {key}: ")


def test_style_messages_are_ours_and_translated(settings):
    with pytest.raises(style.StyleError) as err:
        style.normalise_style({"fill": "red"})
    assert str(err.value) == "fill: 颜色必须是 #rrggbb 形式，得到 'red'"
    from django.utils import translation
    with translation.override("en"), pytest.raises(style.StyleError) as err:
        style.normalise_style({"classify_by": "k", "classes": [{"value": "a", "colour": "#fff"}]})
    assert str(err.value) == "classes[0].colour: unknown style key"


def test_null_means_unset_in_a_style():
    assert style.normalise_style({"fill": None, "label": None, "classes": [], "opacity": 49.6}) == {"opacity": 50}
