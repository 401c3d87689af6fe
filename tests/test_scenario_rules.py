"""Every validation rule of the scenario format, each broken once.

A rule is a check that refuses a scenario: a ``RuleViolation`` or custom check
in ``msrc_model/config/scenario.py``, a YAML-level rule of
``msrc_model/config/loader.py``, a table rule of ``msrc_model/config/tables.py``,
or a notable field constraint (``gt``/``ge``/``le``/``lt``, ``Literal``,
``min_length``/``max_length``). Each case below starts from a valid scenario
(the schema's defaults with the shipped ``data/*.csv`` tables, loaded in-process
through :func:`load_scenario` like a user's file), breaks exactly one rule, and checks
that the scenario is refused with a single one-line issue that names the
offending key and the place to edit (file and line, or the ``--set`` option).

Rules and the test that breaks each (``test_...[id]`` is row ``id`` of the table
that test reads; rules broken by tests in other files are named with their test
function and parameter)

scenario.py, cross-field rules (RuleViolation and custom validators)
  Network: site list needs layout 'table' ........ test_yaml_edit_breaks_rule[network_sites_with_hex]
  Network: table layout needs a non-empty list .... test_cli_errors.py::test_bad_scenario_reports_exact_line[empty_site_list]
  Network: site names unique ..................... test_scenario.py::test_explicit_site_table
  Bands: band table not empty .................... test_yaml_edit_breaks_rule[bands_table_empty]
  Bands: band names unique ....................... test_yaml_edit_breaks_rule[bands_names_repeated]
  Bands: assisted_bands name existing bands ...... test_cli_errors.py::test_bad_scenario_reports_exact_line[assisted_band_unknown]
  Bands: assisted band names unique .............. test_yaml_edit_breaks_rule[assisted_bands_repeated]
  Battery: soc_min below soc_max ................. test_cli_errors.py::test_bad_scenario_reports_exact_line[soc_min_above_soc_max]
  Battery: soc_initial in [soc_min, soc_max] ..... test_yaml_edit_breaks_rule[battery_soc_initial_below_min, battery_soc_initial_above_max]
  EV: capacity_min_kwh below capacity_max_kwh .... test_yaml_edit_breaks_rule[ev_capacity_min_above_max]
  EV: capacity_mean_kwh within [min, max] ........ test_yaml_edit_breaks_rule[ev_capacity_mean_outside]
  EV: soc_initial_low <= soc_initial_high ........ test_yaml_edit_breaks_rule[ev_soc_initial_low_above_high]
  Traffic: at least one class .................... test_override_breaks_rule[traffic_no_classes]
  Traffic: class shares sum to 1 ................. test_cli_errors.py::test_bad_scenario_reports_exact_line[class_shares]
  Traffic: hotspot_share > 0 needs a hotspot ..... test_yaml_edit_breaks_rule[traffic_hotspot_share_without_hotspots]
  Controller: Stage-1 interval a whole multiple
    of the Stage-2 step ........................ test_yaml_edit_breaks_rule[controller_stage1_not_multiple, controller_stage1_below_one_step]
  Controller: stage1_horizon_h covers at least
    one stage1_interval_min .................... test_yaml_edit_breaks_rule[stage1_horizon_shorter_than_interval]
  Controller: stage1_block_h <= stage1_horizon_h . test_yaml_edit_breaks_rule[controller_block_longer_than_horizon]
  Controller: max_duration_h >= one Stage-2 step . test_yaml_edit_breaks_rule[controller_duration_below_one_step]
  Objective: weights sum to 1 .................... test_yaml_edit_breaks_rule[objective_weights_sum]
  Run: strategies do not repeat .................. test_yaml_edit_breaks_rule[run_strategies_repeat]
  Formulation: tangent_breakpoints in [0, 1] ..... test_yaml_edit_breaks_rule[formulation_breakpoint_above_one]
  Solver: option is a HiGHS option ............... test_bad_inputs.py::test_bad_input_is_one_located_error[solver_unknown_option]
                                                   and test_yaml_edit_breaks_rule[solver_option_private_name]
  Solver: option value of the option's type ...... test_bad_inputs.py::test_bad_input_is_one_located_error[solver_option_type]
  Solver: option value HiGHS accepts ............. test_yaml_edit_breaks_rule[solver_option_refused_value]
  Sweep dimension: one label per value ........... test_yaml_edit_breaks_rule[sweep_labels_count]
  Sweep dimension: labels do not repeat .......... test_yaml_edit_breaks_rule[sweep_labels_repeat]
  Sweep dimension: values (no labels) do not repeat test_yaml_edit_breaks_rule[sweep_values_repeat]
  Sweep dimension: key not in sweep, variants,
    extends, output or run ..................... test_yaml_edit_breaks_rule[sweep_key_in_sweep, sweep_key_in_variants,
                                                   sweep_key_in_extends, sweep_key_in_output, sweep_key_in_run]
  Sweep: dimension names not taken by results .... test_yaml_edit_breaks_rule[sweep_dimension_name_reserved]
  Sweep: dimension names not empty ............... test_yaml_edit_breaks_rule[sweep_dimension_name_empty]
  Sweep: each key swept by one dimension only .... test_yaml_edit_breaks_rule[sweep_two_dimensions_one_key]
  Scenario: power rows name existing bands ....... test_yaml_edit_breaks_rule[power_row_unknown_band]
  Scenario: one power row per band (repeat) ...... test_yaml_edit_breaks_rule[power_row_repeated]
  Scenario: one power row per band (missing) ..... test_yaml_edit_breaks_rule[power_row_missing]
  Scenario: a sweep needs run.mode simulate ...... test_yaml_edit_breaks_rule[sweep_of_a_plan, sweep_dimensions_of_a_plan],
                                                   test_command_line_refuses_a_sweep_of_a_plan (msrc solve, msrc validate)
  Scenario: run fits run.memory_limit_gib ........ test_bad_inputs.py::test_bad_input_is_one_located_error[size_users, size_hotspots,
                                                   size_horizon, size_step, size_sites, size_trials]

scenario.py, field constraints
  unknown key (extra="forbid") ................... test_cli_errors.py::test_bad_scenario_reports_exact_line[unknown_key],
                                                   test_scenario.py::test_unknown_key_suggestion_lists_valid_keys_when_nothing_is_close
  non-finite numbers (allow_inf_nan=False) ....... test_bad_inputs.py::test_bad_input_is_one_located_error[nonfinite_*]
  wrong type ..................................... test_cli_errors.py::test_bad_scenario_reports_exact_line[wrong_type]
  gt 0 (battery.capacity_kwh) .................... test_cli_errors.py::test_bad_scenario_reports_exact_line[negative_capacity]
  ge 1 (traffic.users) ........................... test_cli_errors.py::test_all_errors_reported_at_once
  le 1 (hotspot_share, kappa_min) ................ test_cli_errors.py::test_bad_scenario_reports_exact_line[out_of_range_share],
                                                   test_cli_errors.py::test_validate_reports_errors_with_status_2
  Literal strategies ............................. test_cli_errors.py::test_bad_scenario_reports_exact_line[unknown_strategy]
  bands.assisted_bands at least one .............. test_yaml_edit_breaks_rule[bands_assisted_empty]
  bands.table at most 64 rows .................... test_yaml_edit_breaks_rule[bands_table_too_long]
  table row: required column missing ............. test_yaml_edit_breaks_rule[band_row_missing_column]
  table row: gt 0 in a CSV cell .................. test_cli_errors.py::test_bad_value_in_csv_table_names_the_csv_row
  traffic class: share <= 1, weight > 0 .......... test_yaml_edit_breaks_rule[class_share_above_one, class_weight_zero]
  demand: known distribution (discriminator) ..... test_yaml_edit_breaks_rule[demand_unknown_distribution],
                                                   test_override_breaks_rule[demand_without_distribution]
  demand: lognormal sigma <= 5 ................... test_yaml_edit_breaks_rule[demand_sigma_above_five]
  seed in [0, 2**63 - 1] ......................... test_yaml_edit_breaks_rule[seed_negative, seed_too_large]
  name not empty ................................. test_yaml_edit_breaks_rule[name_empty]
  network.layout Literal, network.rings <= 60 .... test_yaml_edit_breaks_rule[network_layout_unknown, network_rings_above_60]
  run.mode Literal ............................... test_yaml_edit_breaks_rule[run_mode_unknown]
  formulation.tangent_breakpoints not empty ...... test_yaml_edit_breaks_rule[formulation_breakpoints_empty]
  solver.mip_gap < 1, solver.threads >= 1 ........ test_yaml_edit_breaks_rule[solver_mip_gap_one, solver_threads_zero]
  cooperation.helping_overhead < 1 ............... test_yaml_edit_breaks_rule[cooperation_overhead_one]
  sweep.trials >= 1 .............................. test_yaml_edit_breaks_rule[sweep_trials_zero]
  sweep dimension key not empty, values not empty  test_yaml_edit_breaks_rule[sweep_key_empty, sweep_values_empty]

loader.py, YAML files
  scenario file not found ........................ test_cli_errors.py::test_missing_file
  scenario path is a directory ................... test_scenario_path_is_a_directory
  scenario file not a regular file (pipe) ........ test_bad_inputs.py::test_pipe_is_refused_without_blocking
  scenario file too large ........................ test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_huge_file]
  scenario file not UTF-8 ........................ test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_not_utf8]
  YAML syntax error .............................. test_cli_errors.py::test_yaml_syntax_error_names_file_and_line
  YAML character error (not marked) .............. test_file_breaks_rule[yaml_control_character]
  tag other than the plain ones .................. test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_tag_timestamp, yaml_tag_python]
  tagged scalar not of its tag's type ............ test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_tag_int, yaml_tag_float, yaml_tag_bool]
  nesting deeper than 32 ......................... test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_deep_nesting]
  alias inside the node it names ................. test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_self_alias]
  alias naming no anchor ......................... test_file_breaks_rule[yaml_alias_without_anchor]
  alias bomb ..................................... test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_alias_bomb]
  top level not a mapping ........................ test_file_breaks_rule[top_level_list, top_level_scalar]
  duplicate key .................................. test_cli_errors.py::test_bad_scenario_reports_exact_line[duplicate_key]
  required key missing (named at the file loaded
    when no file sets its section) ............. test_file_breaks_rule[section_missing] (and band_row_missing_column)
  extends: more than 16 files .................... test_bad_inputs.py::test_bad_input_is_one_located_error[yaml_extends_chain]
  extends: cycle ................................. test_scenario.py::test_extends_cycle_is_an_error
  extends: not a file path ....................... test_file_breaks_rule[extends_list, extends_number, extends_empty]
  extends: file not found ........................ test_cli_errors.py::test_missing_extends_target
  extends: names a directory ..................... test_file_breaks_rule[extends_directory]

loader.py, variants and --set overrides
  variants not a mapping ......................... test_file_breaks_rule[variants_list]
  --variant names no variant ..................... test_cli_errors.py::test_unknown_variant
  variant not a mapping .......................... test_file_breaks_rule[variant_not_mapping]
  every variant valid (msrc validate) ............ test_cli_errors.py::test_validate_checks_every_variant
  --set without '=' .............................. test_cli_errors.py::test_malformed_set_option
  --set with an empty key ........................ test_override_breaks_rule[set_empty_key]
  --set value not valid YAML ..................... test_override_breaks_rule[set_value_not_yaml]
  --set value with a YAML character error ........ test_override_breaks_rule[set_value_control_character]
  --set value with a disallowed tag .............. test_override_breaks_rule[set_value_tag]
  --set key with an empty part ................... test_override_breaks_rule[set_empty_part]
  --set key through a value that is no section ... test_override_breaks_rule[set_into_scalar, set_into_scalar_deep, set_list_index_past_end]
  --set unknown key, --set bad value ............. test_cli_errors.py::test_set_option_with_unknown_key_and_bad_value
  cross-field rule broken by --set (named at the
    option, whichever of its keys is blamed) ... test_override_breaks_rule[set_breaks_weights_sum, set_breaks_block_within_horizon]

loader.py and tables.py, CSV tables
  table file not found ........................... test_file_breaks_rule[csv_not_found]
  table file larger than 20 MB ................... test_table_file_too_large
  table file is a directory ...................... test_bad_inputs.py::test_bad_input_is_one_located_error[csv_is_directory]
  table path unreadable (NUL byte) ............... test_bad_inputs.py::test_bad_input_is_one_located_error[csv_nul_in_path]
  table file not UTF-8 ........................... test_bad_inputs.py::test_bad_input_is_one_located_error[csv_not_utf8]
  table file without a header line ............... test_file_breaks_rule[csv_no_header]
  row with more cells than the header ............ test_file_breaks_rule[csv_row_too_wide]
  row the csv module cannot read ................. test_bad_inputs.py::test_bad_input_is_one_located_error[csv_overlong_field]

loader.py, sweeps
  swept key unknown .............................. test_bad_inputs.py::test_bad_input_is_one_located_error[sweep_unknown_key]
  swept value refused by its key ................. test_bad_inputs.py::test_bad_input_is_one_located_error[sweep_refused_value]
  swept value breaking a cross-field rule ........ test_sweep.py::test_points_cover_every_combination_and_validate_values
  swept value not finite ......................... test_bad_inputs.py::test_bad_input_is_one_located_error[nonfinite_sweep_value]
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import REPO
from msrc_model.config.errors import Issue, ScenarioError
from msrc_model.config.loader import load_scenario
from msrc_model.config.tables import read_csv_rows

#: The valid scenario every case edits: the schema's defaults (the paper's Sec. V setup) with the
#: shipped band and power tables, and the keys some edits go through written out (classes,
#: strategies). Short, so each case parses in milliseconds (the shipped model files take about
#: 0.1 s each to parse).
BASE_YAML = f"""\
bands:
  table: {REPO / 'data' / 'bands.csv'}
power:
  coefficients: {REPO / 'data' / 'power_model.csv'}
traffic:
  load: 1.0
  classes:
    emergency: {{share: 0.02, weight: 1000, demand: {{distribution: constant, rate_mbps: 0.064}}, min_rate_fraction: 1.0, qos_target: 1.0, critical: true}}
    voice: {{share: 0.15, weight: 100, demand: {{distribution: constant, rate_mbps: 0.064}}, min_rate_fraction: 1.0, qos_target: 0.95, critical: true}}
    essential: {{share: 0.5, weight: 10, demand: {{distribution: lognormal, mu: 0.0, sigma: 0.5}}, min_rate_fraction: 0.5, qos_target: 0.8}}
    best_effort: {{share: 0.33, weight: 1, demand: {{distribution: lognormal, mu: 1.5, sigma: 0.7}}, qos_target: 0.5}}
run:
  strategies: [independent, static, msrc]
"""
HEAD = "extends: {base}\n"  # line 1 of every edited file; the edit starts on line 2


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "base.yaml"
    path.write_text(BASE_YAML, encoding="utf-8")
    return path


def _write(path: Path, text: str, base: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("{base}", str(base)), encoding="utf-8")
    return path


def test_base_scenario_is_valid(base):
    scenario = load_scenario(base).scenario
    assert scenario.network.site_count == 19 and [b.name for b in scenario.bands.table] == ["L800", "L1800", "L2600", "N3700"]
    assert scenario.traffic == load_scenario(REPO / "models" / "msrc.yaml").scenario.traffic


def _flow_rows(csv_name: str, edit=lambda rows: rows) -> str:
    """The rows of a shipped CSV table as YAML flow mappings, one per line (after ``edit``)."""
    rows, _ = read_csv_rows(REPO / "data" / csv_name)
    return "".join("    - {" + ", ".join(f"{k}: {v}" for k, v in row.items()) + "}\n" for row in edit(rows))


BANDS_DUPLICATED = _flow_rows("bands.csv", lambda rows: rows + rows[:1])
BANDS_TOO_MANY = _flow_rows("bands.csv", lambda rows: [{**rows[0], "name": f"B{k}"} for k in range(65)])
POWER_UNKNOWN_BAND = _flow_rows("power_model.csv", lambda rows: [{**rows[0], "band": "L900"}, *rows[1:]])
POWER_REPEATED = _flow_rows("power_model.csv", lambda rows: rows + rows[:1])
POWER_MISSING = _flow_rows("power_model.csv", lambda rows: rows[:-1])


def _one_issue(path: Path, overrides: tuple[str, ...] = (), variant: str | None = None) -> Issue:
    """The single issue ``load_scenario`` refuses the scenario with; it must print on one line."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides, variant)
    issues = info.value.issues
    assert len(issues) == 1, [str(i) for i in issues]
    text = str(info.value)
    assert text == str(issues[0]) and len(text.splitlines()) == 1 and "\r" not in text, repr(text)
    return issues[0]


# ---------------------------------------------------------------- schema rules, as YAML edits


class Edit(NamedTuple):
    """A file extending the base scenario with ``body``; the issue names ``key`` at ``line`` of that file."""

    body: str
    key: str
    line: int
    fragment: str


EDITS: dict[str, Edit] = {
    # network
    "network_sites_with_hex": Edit(
        "network:\n  sites:\n    - {name: a, x_m: 0, y_m: 0}\n", "network.sites", 3,
        "a site list is only read with layout 'table' (layout is 'hex')",
    ),
    "network_layout_unknown": Edit("network:\n  layout: ring\n", "network.layout", 3, "= 'ring': input should be 'hex' or 'table'"),
    "network_rings_above_60": Edit("network:\n  rings: 61\n", "network.rings", 3, "= 61: input should be less than or equal to 60"),
    # bands
    "bands_table_empty": Edit("bands:\n  table: []\n", "bands.table", 3, "the band table is empty; at least one band is needed"),
    "bands_names_repeated": Edit(f"bands:\n  table:\n{BANDS_DUPLICATED}", "bands.table", 3, "band names must be unique; repeated: L800"),
    "bands_table_too_long": Edit(f"bands:\n  table:\n{BANDS_TOO_MANY}", "bands.table", 3, "list should have at most 64 items"),
    "bands_assisted_empty": Edit("bands:\n  assisted_bands: []\n", "bands.assisted_bands", 3, "= []: list should have at least 1 item"),
    "assisted_bands_repeated": Edit(
        "bands:\n  assisted_bands: [L800, L800]\n", "bands.assisted_bands", 3, "assisted band names must be unique; repeated: L800"
    ),
    "band_row_missing_column": Edit(
        "bands:\n  table:\n    - {name: L800, frequency_mhz: 800, bandwidth_mhz: 10, tx_power_dbm: 46, antenna_gain_dbi: 15}\n",
        "bands.table[0].capacity_mbps", 4, "required key is missing",
    ),
    # power-coefficient rows against the band table
    "power_row_unknown_band": Edit(
        f"power:\n  coefficients:\n{POWER_UNKNOWN_BAND}", "power.coefficients[0].band", 4,
        "'L900' is not in the band table (bands: L800, L1800, L2600, N3700)",
    ),
    "power_row_repeated": Edit(
        f"power:\n  coefficients:\n{POWER_REPEATED}", "power.coefficients", 3, "each band needs exactly one row; some band is repeated"
    ),
    "power_row_missing": Edit(f"power:\n  coefficients:\n{POWER_MISSING}", "power.coefficients", 3, "no coefficients for band(s) N3700"),
    # battery
    "battery_soc_initial_below_min": Edit(
        "battery:\n  soc_initial: 0.1\n", "battery.soc_initial", 3, "= 0.1: must lie between soc_min (0.2) and soc_max (1.0)"
    ),
    "battery_soc_initial_above_max": Edit(
        "battery:\n  soc_initial: 0.95\n  soc_max: 0.9\n", "battery.soc_initial", 3, "= 0.95: must lie between soc_min (0.2) and soc_max (0.9)"
    ),
    # EVs
    "ev_capacity_min_above_max": Edit(
        "ev:\n  capacity_min_kwh: 200\n", "ev.capacity_min_kwh", 3, "= 200.0: must be below capacity_max_kwh (120.0)"
    ),
    "ev_capacity_mean_outside": Edit(
        "ev:\n  capacity_mean_kwh: 10\n", "ev.capacity_mean_kwh", 3, "= 10.0: must lie between capacity_min_kwh and capacity_max_kwh"
    ),
    "ev_soc_initial_low_above_high": Edit(
        "ev:\n  soc_initial_low: 0.9\n", "ev.soc_initial_low", 3, "= 0.9: must not exceed soc_initial_high (0.8)"
    ),
    # traffic
    "traffic_hotspot_share_without_hotspots": Edit(
        "traffic:\n  hotspots: 0\n", "traffic.hotspots", 3, "= 0: hotspot_share is 0.7, so at least one hotspot is needed"
    ),
    "class_share_above_one": Edit(
        "traffic:\n  classes:\n    voice: {share: 1.5}\n", "traffic.classes.voice.share", 4, "= 1.5: input should be less than or equal to 1"
    ),
    "class_weight_zero": Edit(
        "traffic:\n  classes:\n    voice: {weight: 0}\n", "traffic.classes.voice.weight", 4, "= 0: input should be greater than 0"
    ),
    "demand_unknown_distribution": Edit(
        "traffic:\n  classes:\n    voice:\n      demand: {distribution: uniform}\n", "traffic.classes.voice.demand", 5,
        "input tag 'uniform' found using 'distribution' does not match any of the expected tags: 'constant', 'lognormal'",
    ),
    "demand_sigma_above_five": Edit(
        "traffic:\n  classes:\n    essential:\n      demand: {sigma: 6}\n", "traffic.classes.essential.demand.sigma", 5,
        "= 6: input should be less than or equal to 5",
    ),
    # controller timing
    "controller_stage1_not_multiple": Edit(
        "controller:\n  stage1_interval_min: 0.75\n", "controller.stage1_interval_min", 3,
        "= 0.75: must be a whole multiple of stage2_interval_s (30 s)",
    ),
    "controller_stage1_below_one_step": Edit(
        "controller:\n  stage1_interval_min: 1.0e-12\n", "controller.stage1_interval_min", 3,
        "must be a whole multiple of stage2_interval_s (30 s)",
    ),
    "controller_block_longer_than_horizon": Edit(
        "controller:\n  stage1_block_h: 7\n", "controller.stage1_block_h", 3, "= 7: longer than stage1_horizon_h (6 h)"
    ),
    "stage1_horizon_shorter_than_interval": Edit(
        "controller:\n  stage1_horizon_h: 0.1\n  stage1_block_h: 0.05\n", "controller.stage1_horizon_h", 3,
        "= 0.1: shorter than stage1_interval_min (15 min); the horizon must cover at least one planning interval",
    ),
    "controller_duration_below_one_step": Edit(
        "controller:\n  max_duration_h: 0.001\n", "controller.max_duration_h", 3, "= 0.001: shorter than one Stage-2 step"
    ),
    # a part step would be cut off while the summary speaks of the whole duration
    "controller_duration_part_step": Edit(
        "controller:\n  max_duration_h: 0.0123\n", "controller.max_duration_h", 3,
        "= 0.0123: not a whole number of Stage-2 steps of 30 s (1.476 steps)",
    ),
    "plan_duration_part_step": Edit(
        "controller:\n  max_duration_h: 0.6\nrun:\n  mode: plan\n", "controller.max_duration_h", 3,
        "= 0.6: the plan (run.mode plan) needs a whole number of its 15-min steps, at least one (2.4 steps)",
    ),
    "plan_duration_below_one_step": Edit(
        "controller:\n  max_duration_h: 0.1\nrun:\n  mode: plan\n", "controller.max_duration_h", 3, "at least one (0.4 steps)",
    ),
    "sites_same_position": Edit(
        "network:\n  layout: table\n  sites:\n    - {name: A, x_m: 0, y_m: 0}\n    - {name: B, x_m: 0, y_m: 0}\n",
        "network.sites[1]", 6, "site 'B' stands where site 'A' does (0 m, 0 m); every site needs its own position",
    ),
    # YAML's yes / no are booleans: not a 1-kWh battery, nor 1 an "on"
    "bool_for_number": Edit("battery:\n  capacity_kwh: yes\n", "battery.capacity_kwh", 3, "= true: a number is expected, not true/false"),
    "bool_for_count": Edit("traffic:\n  users: true\n", "traffic.users", 3, "= true: a number is expected, not true/false"),
    "number_for_bool": Edit("ev:\n  enabled: 1\n", "ev.enabled", 3, "= 1: true or false is expected, not a number"),
    # objective, run, formulation, solver, cooperation
    "objective_weights_sum": Edit("objective:\n  survival: 0.6\n", "objective", 2, "weights must sum to 1, they sum to 1.1"),
    "run_strategies_repeat": Edit("run:\n  strategies: [msrc, msrc]\n", "run.strategies", 3, "strategies must not repeat"),
    "run_mode_unknown": Edit("run:\n  mode: optimise\n", "run.mode", 3, "= 'optimise': input should be 'simulate' or 'plan'"),
    "formulation_breakpoint_above_one": Edit(
        "formulation:\n  tangent_breakpoints: [0.5, 2]\n", "formulation.tangent_breakpoints", 3, "breakpoints must lie in [0, 1]"
    ),
    "formulation_breakpoints_empty": Edit(
        "formulation:\n  tangent_breakpoints: []\n", "formulation.tangent_breakpoints", 3, "list should have at least 1 item"
    ),
    "solver_option_refused_value": Edit(
        "solver:\n  options:\n    mip_rel_gap: -1\n", "solver.options.mip_rel_gap", 4,
        "= -1: HiGHS refuses this value for mip_rel_gap (out of its range or not one of its choices)",
    ),
    "solver_option_private_name": Edit("solver:\n  options:\n    _private: 1\n", "solver.options._private", 4, "not a HiGHS option"),
    "solver_mip_gap_one": Edit("solver:\n  mip_gap: 1\n", "solver.mip_gap", 3, "= 1: input should be less than 1"),
    "solver_threads_zero": Edit("solver:\n  threads: 0\n", "solver.threads", 3, "= 0: input should be greater than or equal to 1"),
    "cooperation_overhead_one": Edit(
        "cooperation:\n  helping_overhead: 1\n", "cooperation.helping_overhead", 3, "= 1: input should be less than 1"
    ),
    # top-level keys
    "seed_negative": Edit("seed: -1\n", "seed", 2, "= -1: input should be greater than or equal to 0"),
    "seed_too_large": Edit("seed: 9223372036854775808\n", "seed", 2, "input should be less than or equal to 9223372036854775807"),
    "name_empty": Edit("name: ''\n", "name", 2, "= '': string should have at least 1 character"),
    # sweeps
    "sweep_trials_zero": Edit("sweep:\n  trials: 0\n", "sweep.trials", 3, "= 0: input should be greater than or equal to 1"),
    "sweep_labels_count": Edit(
        "sweep:\n  dimensions:\n    load: {key: traffic.load, values: [0.5, 1.0], labels: [light]}\n",
        "sweep.dimensions.load.labels", 4, "1 labels for 2 values: give one per value",
    ),
    "sweep_labels_repeat": Edit(
        "sweep:\n  dimensions:\n    load: {key: traffic.load, values: [0.5, 1.0], labels: [x, x]}\n",
        "sweep.dimensions.load.labels", 4, "must not repeat",
    ),
    "sweep_values_repeat": Edit(
        "sweep:\n  dimensions:\n    load: {key: traffic.load, values: [0.5, 0.5]}\n", "sweep.dimensions.load.values", 4, "must not repeat"
    ),
    **{
        f"sweep_key_in_{section}": Edit(
            f"sweep:\n  dimensions:\n    x: {{key: {key}, values: [{value}]}}\n", "sweep.dimensions.x.key", 4,
            f"= {key}: the {section} section cannot be swept",
        )
        for section, key, value in [
            ("sweep", "sweep.trials", 2), ("variants", "variants.heavy.traffic.load", 2), ("extends", "extends", "a.yaml"),
            ("output", "output.path", "a.nc"), ("run", "run.mode", "plan"),
        ]
    },
    "sweep_key_empty": Edit(
        "sweep:\n  dimensions:\n    x: {key: '', values: [1]}\n", "sweep.dimensions.x.key", 4, "string should have at least 1 character"
    ),
    "sweep_values_empty": Edit(
        "sweep:\n  dimensions:\n    x: {key: traffic.load, values: []}\n", "sweep.dimensions.x.values", 4, "list should have at least 1 item"
    ),
    "sweep_dimension_name_reserved": Edit(
        "sweep:\n  dimensions:\n    trial: {key: traffic.load, values: [1.0]}\n", "sweep.dimensions", 3,
        "dimension name(s) trial are taken by the results; choose another",
    ),
    "sweep_dimension_name_empty": Edit(
        "sweep:\n  dimensions:\n    '': {key: traffic.load, values: [0.5, 1.0]}\n", "sweep.dimensions.''", 4,
        "the dimension name is empty; name the results dimension",
    ),
    "sweep_two_dimensions_one_key": Edit(
        "sweep:\n  dimensions:\n    a: {key: traffic.load, values: [0.5, 1.0]}\n    b: {key: traffic.load, values: [1.8]}\n",
        "sweep.dimensions.b.key", 5, "= traffic.load: dimensions 'a' and 'b' both sweep this key; give its values to one dimension only",
    ),
    "sweep_also_count": Edit(
        "sweep:\n  dimensions:\n    x: {key: network.rings, values: [1, 2], also: {traffic.users: [300]}}\n",
        "sweep.dimensions.x.also.traffic.users", 4, "1 values for the 2 of network.rings: give one per value",
    ),
    "sweep_also_its_own_key": Edit(
        "sweep:\n  dimensions:\n    x: {key: network.rings, values: [1], also: {network.rings: [2]}}\n",
        "sweep.dimensions.x.also.network.rings", 4, "already the dimension's key",
    ),
    "sweep_also_swept_elsewhere": Edit(
        "sweep:\n  dimensions:\n    a: {key: traffic.users, values: [300]}\n    b: {key: network.rings, values: [1], also: {traffic.users: [400]}}\n",
        "sweep.dimensions.b.also.traffic.users", 5, "= traffic.users: dimensions 'a' and 'b' both sweep this key",
    ),
    "sweep_dimension_name_baseline": Edit(
        "sweep:\n  dimensions:\n    baseline: {key: traffic.load, values: [1.0]}\n", "sweep.dimensions", 3,
        "dimension name(s) baseline are taken by the results; choose another",
    ),
    "sweep_of_a_plan": Edit(
        "run:\n  mode: plan\nsweep:\n  trials: 2\n", "sweep.trials", 5, "= 2: a sweep needs run.mode simulate (run.mode is plan)"
    ),
    "sweep_dimensions_of_a_plan": Edit(
        "run:\n  mode: plan\nsweep:\n  dimensions:\n    load: {key: traffic.load, values: [0.5]}\n", "sweep.dimensions", 5,
        "a sweep needs run.mode simulate (run.mode is plan)",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_yaml_edit_breaks_rule(tmp_path, base, case):
    edit = EDITS[case]
    path = _write(tmp_path / "case.yaml", HEAD + edit.body, base)
    assert HEAD.count("\n") + edit.body.count("\n") >= edit.line
    issue = _one_issue(path)
    assert (issue.where, issue.path) == (f"{path}:{edit.line}", edit.key), str(issue)
    assert edit.fragment in issue.message, str(issue)


# ---------------------------------------------------------------- --set overrides


class Override(NamedTuple):
    """``--set text`` on the base scenario; the issue names the option and ``key``."""

    text: str
    key: str
    fragment: str


OVERRIDES: dict[str, Override] = {
    # an empty mapping in a YAML file merges into the parent's classes, so only --set empties them
    "traffic_no_classes": Override("traffic.classes={}", "traffic.classes", "at least one service class is needed"),
    # likewise a demand without its distribution: a YAML file's mapping merges into the parent's demand
    "demand_without_distribution": Override(
        "traffic.classes.voice.demand={rate_mbps: 1}", "traffic.classes.voice.demand", "unable to extract tag using discriminator 'distribution'"
    ),
    "set_empty_key": Override("=1", "", "expected KEY=VALUE, for example traffic.load=1.8"),
    "set_value_not_yaml": Override("traffic.load=[1", "traffic.load", "value is not valid YAML: while parsing a flow sequence"),
    "set_value_control_character": Override("description=a\x07b", "description", "value is not valid YAML: unacceptable character #x0007"),
    "set_value_tag": Override("seed=!!python/name:os.getcwd", "seed", "YAML tag !!python/name:os.getcwd is not allowed: write the plain value"),
    "set_empty_part": Override("traffic..load=1", "traffic..load", "empty part in the key path"),
    "set_into_scalar": Override("traffic.load.x=1", "traffic.load.x", "traffic.load is not a section with keys"),
    "set_into_scalar_deep": Override("traffic.load.x.y=1", "traffic.load.x.y", "traffic.load is not a section with keys"),
    "set_list_index_past_end": Override("run.strategies.5=msrc", "run.strategies.5", "run.strategies is not a section with keys"),
    # read from the files before any --set applies: refused, not silently ignored
    "set_extends": Override("extends=other.yaml", "extends", "cannot be set on the command line"),
    "set_variants": Override("variants={x: {seed: 1}}", "variants", "cannot be set on the command line; choose a variant with --variant NAME"),
    # an unknown section the option creates: the option is named, not the file
    "set_unknown_section": Override("nosection.x=1", "nosection", "unknown key"),
    # a cross-field rule broken by --set names the option, whichever of the rule's keys is blamed
    "set_breaks_weights_sum": Override("objective.survival=0.6", "objective", "weights must sum to 1, they sum to 1.1"),
    "set_breaks_block_within_horizon": Override(  # the default block (3 h) is blamed, the option placed
        "controller.stage1_horizon_h=2", "controller.stage1_block_h", "= 3: longer than stage1_horizon_h (2 h)"
    ),
}


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_override_breaks_rule(base, case):
    override = OVERRIDES[case]
    issue = _one_issue(base, (override.text,))
    assert (issue.where, issue.path) == (f"--set {override.text}", override.key), str(issue)
    assert override.fragment in issue.message, str(issue)


# ---------------------------------------------------------------- files: YAML structure, extends, variants, CSV tables


class FileCase(NamedTuple):
    """Files to write (``case.yaml`` is loaded, with ``variant``); the issue is at ``where`` (``{dir}``: the folder)."""

    files: dict[str, str]
    variant: str | None
    where: str
    key: str
    fragment: str


FILES: dict[str, FileCase] = {
    "yaml_alias_without_anchor": FileCase(
        {"case.yaml": HEAD + "seed: *nowhere\n"}, None, "{dir}/case.yaml:2", "", "alias *nowhere names no anchor defined before it"
    ),
    "yaml_control_character": FileCase(
        {"case.yaml": HEAD + "description: a\x07b\n"}, None, "{dir}/case.yaml", "", "YAML error: unacceptable character #x0007"
    ),
    "top_level_list": FileCase({"case.yaml": "- a\n- b\n"}, None, "{dir}/case.yaml:1", "", "a scenario must be a mapping of keys, not a list"),
    "top_level_scalar": FileCase({"case.yaml": "42\n"}, None, "{dir}/case.yaml:1", "", "a scenario must be a mapping of keys, not a int"),
    "extends_list": FileCase({"case.yaml": "extends: [a.yaml]\n"}, None, "{dir}/case.yaml:1", "extends", "= [a.yaml]: must be a file path"),
    "extends_number": FileCase({"case.yaml": "extends: 5\n"}, None, "{dir}/case.yaml:1", "extends", "= 5: must be a file path"),
    "extends_empty": FileCase({"case.yaml": "extends: ''\n"}, None, "{dir}/case.yaml:1", "extends", "= '': must be a file path"),
    "extends_directory": FileCase(
        {"case.yaml": "extends: sub\n", "sub/keep": ""}, None, "{dir}/case.yaml:1", "extends", "= 'sub': is a directory, not a scenario file"
    ),
    "section_missing": FileCase(
        {"case.yaml": f"bands:\n  table: {REPO / 'data' / 'bands.csv'}\n"}, None, "{dir}/case.yaml", "power", "required key is missing"
    ),
    "variants_list": FileCase(
        {"case.yaml": HEAD + "variants: [a]\n"}, None, "{dir}/case.yaml:2", "variants",
        "must be a mapping of variant names to the keys they override",
    ),
    "variant_not_mapping": FileCase(
        {"case.yaml": HEAD + "variants:\n  x: [a]\n"}, "x", "{dir}/case.yaml:3", "variants.x", "a variant must be a mapping of keys to override"
    ),
    "csv_not_found": FileCase(
        {"case.yaml": HEAD + "bands:\n  table: nowhere.csv\n"}, None, "{dir}/case.yaml:3", "bands.table",
        "= 'nowhere.csv': table file not found ({dir}/nowhere.csv)",
    ),
    "csv_no_header": FileCase(
        {"case.yaml": HEAD + "bands:\n  table: empty.csv\n", "empty.csv": "# only a comment\n\n"}, None, "{dir}/case.yaml:3",
        "bands.table", "= 'empty.csv': table file has no header line ({dir}/empty.csv)",
    ),
    "csv_row_too_wide": FileCase(
        {"case.yaml": HEAD + "power:\n  coefficients: wide.csv\n", "wide.csv": "band,static_kw\n# a comment\nL800,0.2,7\n"}, None,
        "{dir}/case.yaml:3", "power.coefficients", "= 'wide.csv': row has 3 cells but the header has 2 ({dir}/wide.csv:3)",
    ),
}


@pytest.mark.parametrize("case", list(FILES))
def test_file_breaks_rule(tmp_path, base, case):
    files, variant, where, key, fragment = FILES[case]
    for name, text in files.items():
        _write(tmp_path / name, text, base)
    issue = _one_issue(tmp_path / "case.yaml", variant=variant)
    assert (issue.where, issue.path) == (where.format(dir=tmp_path), key), str(issue)
    assert fragment.format(dir=tmp_path) in issue.message, str(issue)


def test_table_file_too_large(tmp_path, base):
    from msrc_model.config.tables import MAX_TABLE_BYTES

    with open(tmp_path / "huge.csv", "wb") as table:  # sparse: refused on its size, never read
        table.truncate(MAX_TABLE_BYTES + 1)
    path = _write(tmp_path / "case.yaml", HEAD + "network:\n  layout: table\n  sites: huge.csv\n", base)
    issue = _one_issue(path)
    assert (issue.where, issue.path) == (f"{path}:4", "network.sites"), str(issue)
    assert f"table file is {MAX_TABLE_BYTES + 1:,} bytes, more than the {MAX_TABLE_BYTES:,} allowed" in issue.message, str(issue)


def test_scenario_path_is_a_directory(tmp_path):
    issue = _one_issue(tmp_path)
    assert (issue.where, issue.path, issue.message) == (str(tmp_path), "", "is a directory, not a scenario file")


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize("command", [["solve", "case.yaml", "-o", "out.nc"], ["validate", "case.yaml"]])
def test_command_line_refuses_a_sweep_of_a_plan(tmp_path, base, monkeypatch, command):
    from typer.testing import CliRunner

    from msrc_model.cli import app

    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "case.yaml", HEAD + "run:\n  mode: plan\nsweep:\n  trials: 2\n", base)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert result.stderr.splitlines() == ["error: case.yaml:5: sweep.trials = 2: a sweep needs run.mode simulate (run.mode is plan)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.yaml"]
