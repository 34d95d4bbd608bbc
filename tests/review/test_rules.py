"""The rule set is configuration with a versioned schema: a faulty document names its key; the defaults load."""

from __future__ import annotations

import copy

import pytest

from city_gis.review.rules import (
    DEFAULT_RULESET,
    RulesetError,
    load_ruleset,
    parse_ruleset,
    use_classes,
    use_compatible,
)


@pytest.fixture
def doc():
    return copy.deepcopy(load_ruleset(DEFAULT_RULESET).document)


def test_the_default_rule_set_carries_its_version_and_the_domain_defaults():
    ruleset = load_ruleset(DEFAULT_RULESET)
    assert ruleset.version == "LPS-GH-2026.1" and ruleset.sliver_m2 == 1.0
    severity = {r.id: (r.layer, r.severity) for r in ruleset.rules}
    assert severity == {
        "farmland": ("land.farmland", "blocking"), "eco_redline": ("land.eco_redline", "blocking"),
        "urban_boundary": ("planning.urban_boundary", "blocking"), "cultivated": ("land.parcels", "warning"),
        "hazard_zones": ("disaster.hazard_zones", "warning"), "mining": ("land.mining", "warning"),
        "zoning": ("planning.zoning", "blocking"),
    }
    assert ruleset.batch_rules == ("farmland", "eco_redline")


@pytest.mark.parametrize("change, key", [
    (lambda d: d.pop("ruleset"), "ruleset"),
    (lambda d: d.update(version=2), "version"),
    (lambda d: d["rules"][0].update(severity="fatal"), "rules[0].severity"),
    (lambda d: d["rules"][1].update(layer="Not A Layer"), "rules[1].layer"),
    (lambda d: d["rules"][2].update(surprise=1), "rules[2].surprise"),
    (lambda d: d["rules"][3]["where"].update(field="drop table"), "rules[3].where.field"),
    (lambda d: d["rules"][1].update(id="farmland"), "rules[1].id"),
    (lambda d: d["rules"][6]["fields"].pop("far_max"), "rules[6].fields"),
])
def test_a_faulty_rule_set_names_the_key(doc, change, key):
    change(doc)
    with pytest.raises(RulesetError) as exc:
        parse_ruleset(doc, "ruleset.yaml")
    assert str(exc.value).startswith(f"ruleset.yaml: {key}:"), str(exc.value)


def test_use_classes_follow_gb_50137_and_compatibility_goes_down_the_hierarchy():
    table = use_classes()
    assert (table["R2"].name, table["R2"].urban) == ("二类居住用地", True)
    assert table["E2"].urban is False
    assert use_compatible("R21", "R2", {}) and use_compatible("R2", "R2", {})
    assert not use_compatible("R", "R2", {}) and not use_compatible("M1", "R2", {})
    assert use_compatible("B2", "B1", {"B1": ("B2",)})
