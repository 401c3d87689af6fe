"""Scenario files: defaults, extends, variants, overrides, schema and reference."""

from __future__ import annotations

import json

import pytest

from conftest import PAPER_YAML, REPO, run_msrc
from msrc_model.config.errors import ScenarioError
from msrc_model.config.loader import load_scenario, scenario_from_yaml, scenario_to_yaml, valid_keys_at
from msrc_model.config.reference import scenario_reference_markdown
from msrc_model.config.scenario import scenario_json_schema


def test_paper_scenario_matches_sec_v(paper_scenario):
    s = paper_scenario
    assert s.network.site_count == 19
    assert [b.name for b in s.bands.table] == ["L800", "L1800", "L2600", "N3700"]
    assert [b.capacity_mbps for b in s.bands.table] == [50, 100, 120, 500]
    assert s.traffic.users == 1000
    assert {k: c.share for k, c in s.traffic.classes.items()} == {
        "emergency": 0.02, "voice": 0.15, "essential": 0.5, "best_effort": 0.33,
    }
    assert (s.battery.capacity_kwh, s.battery.soc_initial, s.battery.max_discharge_kw) == (20, 0.8, 10)
    assert (s.cooperation.kappa_min, s.cooperation.max_links, s.cooperation.coop_radius_m) == (0.3, 3, 1000)
    assert (s.objective.survival, s.objective.service, s.objective.v2g_cost, s.objective.mode_switching) == (
        0.5, 0.3, 0.1, 0.1,
    )


def test_variants_and_overrides_apply_in_order():
    heavy = load_scenario(PAPER_YAML, variant="heavy").scenario
    assert heavy.traffic.load == 1.8
    light = load_scenario(PAPER_YAML, variant="light").scenario
    assert light.traffic.load == 0.5
    # --set comes after the variant
    both = load_scenario(PAPER_YAML, overrides=["traffic.load=0.7", "run.strategies=[msrc]"], variant="heavy")
    assert both.scenario.traffic.load == 0.7
    assert both.scenario.run.strategies == ["msrc"]
    assert both.provenance()["scenario_overrides"] == "traffic.load=0.7 run.strategies=[msrc]"


def test_extends_merges_mappings_and_replaces_lists(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text(
        f"extends: {PAPER_YAML}\nbattery:\n  capacity_kwh: 30\nrun:\n  strategies: [independent]\n", encoding="utf-8"
    )
    s = load_scenario(child).scenario
    assert s.battery.capacity_kwh == 30
    assert s.battery.soc_initial == 0.8  # kept from the parent
    assert s.run.strategies == ["independent"]
    assert s.name == "msrc-paper"


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")


def test_tables_inline_or_csv_give_the_same_scenario(tmp_path, paper_scenario):
    inline = tmp_path / "inline.yaml"
    inline.write_text(scenario_to_yaml(paper_scenario), encoding="utf-8")
    assert load_scenario(inline).scenario == paper_scenario


def test_stored_yaml_rebuilds_the_scenario(paper_scenario):
    text = scenario_to_yaml(paper_scenario)
    assert "variants" not in text and "extends" not in text
    assert scenario_from_yaml(text) == paper_scenario


def test_explicit_site_table(tmp_path):
    path = tmp_path / "sites.yaml"
    path.write_text(
        f"extends: {PAPER_YAML}\nnetwork:\n  layout: table\n  sites:\n"
        "    - {name: A, x_m: 0, y_m: 0}\n    - {name: B, x_m: 600, y_m: 0}\n",
        encoding="utf-8",
    )
    s = load_scenario(path).scenario
    assert s.network.site_count == 2
    with pytest.raises(ScenarioError, match="site names must be unique; repeated: A"):
        load_scenario(path, overrides=["network.sites.1.name=A"])


def test_unknown_key_suggestion_lists_valid_keys_when_nothing_is_close(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(f"extends: {PAPER_YAML}\nbattery:\n  zzz: 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (issue,) = info.value.issues
    assert issue.message.startswith("unknown key; valid keys: capacity_kwh, soc_initial, soc_min")


def test_valid_keys_follow_nested_models():
    assert "rate_mbps" in valid_keys_at(("traffic", "classes", "voice", "demand"))
    assert "capacity_mbps" in valid_keys_at(("bands", "table", 0))


def test_json_schema_describes_units_and_csv_tables():
    schema = scenario_json_schema()
    battery = schema["$defs"]["Battery"]["properties"]
    assert battery["capacity_kwh"]["unit"] == "kWh"
    assert schema["$defs"]["Battery"]["additionalProperties"] is False
    table = schema["$defs"]["Bands"]["properties"]["table"]
    assert {"type": "string", "description": "CSV file path relative to the YAML file"} in table["anyOf"]


def test_schema_command_prints_json():
    result = run_msrc("schema")
    assert result.returncode == 0
    assert set(json.loads(result.stdout)["properties"]) >= {"network", "bands", "battery", "traffic", "run"}


def test_scenario_reference_is_current():
    committed = (REPO / "docs" / "scenario.md").read_text(encoding="utf-8")
    assert committed == scenario_reference_markdown(), (
        "docs/scenario.md is stale: run `msrc schema --format markdown > docs/scenario.md`"
    )


def test_reference_lists_every_leaf_key_with_unit():
    text = scenario_reference_markdown()
    for key, unit in [
        ("battery.capacity_kwh", "kWh"),
        ("network.isd_m", "m"),
        ("bands.table[].capacity_mbps", "Mbit/s"),
        ("controller.stage2_interval_s", "s"),
        ("traffic.classes.<name>.demand.rate_mbps", "Mbit/s"),
    ]:
        assert f"| `{key}` | float | {unit} |" in text
