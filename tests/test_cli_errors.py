"""Bad input, end to end through the CLI: one exact line per problem, exit 2, no file left."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import PAPER_YAML, run_msrc


def write_scenario(folder: Path, body: str, name: str = "bad.yaml") -> Path:
    path = folder / name
    path.write_text(f"extends: {PAPER_YAML}\n{body}", encoding="utf-8")
    return path


def run_inputs_expecting_error(tmp_path: Path, scenario: Path | str, *extra: str) -> list[str]:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_msrc("inputs", str(scenario), "-o", str(out_dir / "x.nc"), *extra)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert list(out_dir.iterdir()) == [], "a failed run left a file behind"
    return result.stderr.splitlines()


CASES = {
    "unknown_key": (
        "traffic:\n  laod: 1.2\n",
        "error: {f}:3: traffic.laod: unknown key; did you mean 'load'?",
    ),
    "wrong_type": (
        "traffic:\n  users: many\n",
        "error: {f}:3: traffic.users = 'many': input should be a valid integer, unable to parse string as an integer",
    ),
    "negative_capacity": (
        "battery:\n  capacity_kwh: -5\n",
        "error: {f}:3: battery.capacity_kwh = -5: input should be greater than 0",
    ),
    "soc_min_above_soc_max": (
        "battery:\n  soc_min: 0.9\n  soc_max: 0.8\n",
        "error: {f}:3: battery.soc_min = 0.9: must be below soc_max (0.8)",
    ),
    "class_shares": (
        "traffic:\n  classes:\n    voice:\n      share: 0.5\n      weight: 100\n      demand: {distribution: constant, rate_mbps: 0.064}\n",
        "error: {f}:3: traffic.classes: class shares must sum to 1, they sum to 1.35 "
        "(emergency 0.02, voice 0.5, essential 0.5, best_effort 0.33)",
    ),
    "assisted_band_unknown": (
        "bands:\n  assisted_bands: [L900]\n",
        "error: {f}:3: bands.assisted_bands[0]: 'L900' is not in the band table (bands: L800, L1800, L2600, N3700)",
    ),
    "empty_site_list": (
        "network:\n  layout: table\n  sites: []\n",
        "error: {f}:4: network.sites: layout 'table' needs a non-empty site list",
    ),
    "out_of_range_share": (
        "traffic:\n  hotspot_share: 1.5\n",
        "error: {f}:3: traffic.hotspot_share = 1.5: input should be less than or equal to 1",
    ),
    "unknown_strategy": (
        "run:\n  strategies: [msrc, greedy]\n",
        "error: {f}:3: run.strategies[1] = 'greedy': input should be 'independent', 'static' or 'msrc'",
    ),
    "duplicate_key": (
        "seed: 1\nseed: 2\n",
        "error: {f}:3: seed: duplicate key (a key may appear once per mapping)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_reports_exact_line(tmp_path, case):
    body, expected = CASES[case]
    path = write_scenario(tmp_path, body)
    assert run_inputs_expecting_error(tmp_path, path) == [expected.format(f=path)]


def test_all_errors_reported_at_once(tmp_path):
    path = write_scenario(tmp_path, "battery:\n  capacity_kwh: -5\ntraffic:\n  laod: 1\n  users: 0\n")
    lines = run_inputs_expecting_error(tmp_path, path)
    assert lines == [
        f"error: {path}:3: battery.capacity_kwh = -5: input should be greater than 0",
        f"error: {path}:5: traffic.laod: unknown key; did you mean 'load'?",
        f"error: {path}:6: traffic.users = 0: input should be greater than or equal to 1",
    ]


def test_missing_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    assert run_inputs_expecting_error(tmp_path, missing) == [f"error: {missing}: scenario file not found"]


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write_scenario(tmp_path, "traffic:\n  users: [1, 2\n  load: 1\n")
    (line,) = run_inputs_expecting_error(tmp_path, path)
    assert line.startswith(f"error: {path}:4: YAML syntax error:")


def test_missing_extends_target(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text("extends: parent.yaml\n", encoding="utf-8")
    assert run_inputs_expecting_error(tmp_path, path) == [
        f"error: {path}:1: extends = 'parent.yaml': file not found ({tmp_path / 'parent.yaml'})"
    ]


def test_bad_value_in_csv_table_names_the_csv_row(tmp_path):
    csv = tmp_path / "bands.csv"
    csv.write_text(
        "# a comment line\n"
        "name,frequency_mhz,bandwidth_mhz,capacity_mbps,tx_power_dbm,antenna_gain_dbi\n"
        "L800,800,10,50,46,15\n"
        "L1800,1800,20,-100,46,17\n",
        encoding="utf-8",
    )
    path = write_scenario(tmp_path, "bands:\n  table: bands.csv\npower:\n  coefficients: []\n")
    lines = run_inputs_expecting_error(tmp_path, path)
    assert f"error: {csv}:4: bands.table[1].capacity_mbps = '-100': input should be greater than 0" in lines


def test_malformed_set_option(tmp_path):
    lines = run_inputs_expecting_error(tmp_path, PAPER_YAML, "--set", "traffic.load")
    assert lines == ["error: --set traffic.load: expected KEY=VALUE, for example traffic.load=1.8"]


def test_set_option_with_unknown_key_and_bad_value(tmp_path):
    lines = run_inputs_expecting_error(tmp_path, PAPER_YAML, "--set", "traffic.lod=2", "--set", "battery.soc_min=high")
    assert lines == [
        "error: --set battery.soc_min=high: battery.soc_min = 'high': input should be a valid number, "
        "unable to parse string as a number",
        "error: --set traffic.lod=2: traffic.lod: unknown key; did you mean 'load'?",
    ]


def test_unknown_variant(tmp_path):
    lines = run_inputs_expecting_error(tmp_path, PAPER_YAML, "--variant", "extreme")
    assert lines == ["error: --variant: variants: no variant named 'extreme' (variants: heavy, light, medium)"]


def test_validate_reports_errors_with_status_2(tmp_path):
    path = write_scenario(tmp_path, "cooperation:\n  kappa_min: 2\n")
    result = run_msrc("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:3: cooperation.kappa_min = 2: input should be less than or equal to 1"
    ]


def test_validate_checks_every_variant(tmp_path):
    path = write_scenario(tmp_path, "variants:\n  broken:\n    traffic: {load: -1}\n")
    result = run_msrc("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:4: traffic.load = -1: input should be greater than 0 (variant broken)"
    ]


def test_output_is_a_directory(tmp_path):
    result = run_msrc("inputs", str(PAPER_YAML), "-o", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {tmp_path}: --output: is a directory, not a file"]


def test_a_trial_index_past_64_bits_is_refused_before_any_work(tmp_path):
    out = tmp_path / "x.nc"
    result = run_msrc("solve", str(PAPER_YAML), "--trial", str(2**64), "-o", str(out))
    assert result.returncode == 2 and "--trial" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and "internal error" not in result.stderr


def test_an_output_folder_that_refuses_a_file_is_found_before_any_work():
    """A probe file, not the permission bits alone: /proc refuses new files even to a superuser."""
    result = run_msrc("solve", str(PAPER_YAML), "-o", "/proc/msrc-test.nc")
    assert result.returncode == 2 and "--output: folder /proc is not writable" in result.stderr
    assert "steps" not in result.stderr + result.stdout  # nothing was simulated


def test_a_reader_that_stops_early_ends_the_output_quietly():
    """msrc schema | head -1: the closed pipe is not an internal error."""
    import subprocess
    import sys

    executable = Path(sys.executable).with_name("msrc")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]
    process = subprocess.Popen([*command, "schema", "--format", "markdown"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader goes away before the first byte
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert process.returncode in (0, 141)
