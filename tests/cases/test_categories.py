"""The categories file: every DOMAIN.md default loads; a city edits the file and reloads; bad files are refused."""

import pytest
import yaml
from django.core.management import CommandError, call_command

from city_gis.cases import deadlines
from city_gis.cases.categories import DEFAULT_FILE, CategoryFileError, load_categories
from city_gis.cases.models import Category, StageLimit


def test_default_file_has_the_domain_defaults_and_local_events(db):
    load_categories(DEFAULT_FILE)
    events = dict(Category.objects.filter(kind="event").values_list("code", "name_zh"))
    components = dict(Category.objects.filter(kind="component").values_list("code", "name_zh"))
    for code in ("0101", "0102", "0103", "0104", "0105", "0106", "0107", "0201", "0202", "0301", "0302", "0401",
                 "0402", "0403", "0501", "0503", "0504"):
        assert code in events
    for code in ("0101", "0102", "0103", "0104", "0105", "0110", "0111", "0113", "0117", "0118", "0121", "0201",
                 "0203", "0205", "0209", "0211", "0213", "0214", "0301", "0305", "0307", "0401", "0402", "0405",
                 "0407", "0502"):
        assert code in components
    assert {"山体滑坡隐患", "地面塌陷隐患"} <= set(events.values())
    garbage = Category.objects.get(kind="event", code="0102")
    assert garbage.default_department.code == "sanitation"
    assert garbage.urgency(None) == {"code": "normal", "name_zh": "一般", "name_en": "Normal", "limit": 1.0,
                                     "unit": "working_days"}
    assert garbage.register_condition and garbage.close_condition and garbage.version
    assert StageLimit.objects.get(stage="verify").limit == 30


def test_editing_and_reloading_the_file_changes_limits_and_deactivates_removed_classes(db, tmp_path):
    doc = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    doc["stage_limits"]["verify"] = {"limit": 45, "unit": "minutes"}
    doc["events"][0]["small"][1]["urgency"][0]["limit"] = 2
    doc["events"][0]["small"].pop()  # drop 0107 废弃车辆
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    call_command("load_categories", str(path))
    assert Category.objects.get(kind="event", code="0102").urgency(None)["limit"] == 2
    assert not Category.objects.get(kind="event", code="0107").active
    assert deadlines.stage_limit("verify") == (45, "minutes")


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["events"][0]["small"][0].update(code="99"), "code"),
    (lambda d: d["events"][0]["small"][0].update(department="nowhere"), "department"),
    (lambda d: d["events"][0]["small"][0]["urgency"][0].update(unit="weeks"), "unit"),
    (lambda d: d.pop("version"), "version"),
])
def test_bad_files_are_refused_naming_entry_and_field(db, tmp_path, mutate, message):
    doc = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    before = list(Category.objects.values_list("code", "urgency_levels"))
    with pytest.raises(CategoryFileError, match=message):
        load_categories(path)
    with pytest.raises(CommandError, match="bad.yaml"):
        call_command("load_categories", str(path))
    assert list(Category.objects.values_list("code", "urgency_levels")) == before
