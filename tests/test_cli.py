"""The CLI as a user calls it: validate, inputs, schema; `python cli.py` from a checkout."""

from __future__ import annotations

import subprocess
import sys

import xarray as xr

from conftest import PAPER_YAML, REPO, run_msrc
from msrc_model.config.loader import scenario_from_yaml


def test_validate_prints_ok_and_size():
    result = run_msrc("validate", str(PAPER_YAML))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ok: {PAPER_YAML}: 19 sites, 4 bands, 1000 users, 4 classes, 1441 time points 30 s apart")
    assert [line.split(":")[1].strip() for line in lines[1:]] == ["variant light", "variant medium", "variant heavy"]


def test_inputs_writes_a_readable_file(tmp_path):
    out = tmp_path / "sub" / "x.nc"
    result = run_msrc("inputs", str(PAPER_YAML), "-o", str(out), "--variant", "heavy", "--set", "seed=7", "--trial", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}: site 19, band 4, class 4, user 1000")
    with xr.open_datatree(out) as tree:
        inputs = tree["inputs"].to_dataset()
        assert (inputs.sizes["site"], inputs.sizes["band"], inputs.sizes["user"]) == (19, 4, 1000)
        assert inputs.attrs["trial"] == 2
        scenario = scenario_from_yaml(tree.attrs["scenario_yaml"])
        assert (scenario.traffic.load, scenario.seed) == (1.8, 7)
        assert tree.attrs["scenario_variant"] == "heavy"
        assert tree.attrs["scenario_overrides"] == "seed=7"
    assert [p.name for p in out.parent.iterdir()] == ["x.nc"]


def test_checkout_cli_script_runs_the_same_app():
    done = subprocess.run(
        [sys.executable, "cli.py", "validate", "models/msrc.yaml"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: models/msrc.yaml: 19 sites")


def test_help_lists_the_commands():
    result = run_msrc("--help")
    assert result.returncode == 0
    for command in ("validate", "schema", "inputs"):
        assert command in result.stdout


def test_unknown_option_is_a_usage_error():
    result = run_msrc("validate", str(PAPER_YAML), "--bogus")
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert result.stderr.splitlines() == ["error: No such option: --bogus (see msrc validate --help)"]


def test_out_of_range_option_is_one_error_line():
    result = run_msrc("inputs", str(PAPER_YAML), "-o", "unused.nc", "--trial", "-1")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--trial' / '-t': Input should be greater than or equal to 0 (see msrc inputs --help)"
    ]
