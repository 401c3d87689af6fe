"""One case per class of bad input: a single located ``error:`` line, exit 2, nothing written.

The classes are those of a hostile but fair user: YAML that constructs
values or expands without bound, non-finite numbers, sizes no machine can
hold, unreadable CSV tables, sweeps over keys that do not exist, unknown
solver options, files msrc did not write, outputs that cannot be written.
Each runs in-process through the CLI (the same error boundary as the
``msrc`` command), so the table stays quick.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from conftest import REPO
from msrc_model.cli import app
from msrc_model.files.atomic import atomic_write, remove_stale_temporaries

MSRC_YAML = REPO / "models" / "msrc.yaml"
BANDS_CSV = REPO / "data" / "bands.csv"

ALIAS_BOMB = "lol0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)


def _sites_csv(rows: int) -> str:
    return "name,x_m,y_m\n" + "".join(f"s{i},{i * 10.0},0\n" for i in range(rows))


#: name -> (files to write: name -> text or bytes, command arguments, text the error line must hold).
#: ``{dir}`` in a command argument is the case's folder; the scenario is always ``bad.yaml``.
CASES: dict[str, tuple[dict[str, str | bytes], list[str], str]] = {
    # YAML that constructs values, refers to itself or expands without bound
    "yaml_tag_int": ({"bad.yaml": "traffic:\n  users: !!int abc\n"}, [], "bad.yaml:3: 'abc' is not a YAML int (tag !!int)"),
    "yaml_tag_float": ({"bad.yaml": "traffic:\n  load: !!float x\n"}, [], "'x' is not a YAML float"),
    "yaml_tag_bool": ({"bad.yaml": "radio:\n  shadowing: !!bool maybe\n"}, [], "'maybe' is not a YAML bool"),
    "yaml_tag_timestamp": ({"bad.yaml": "description: !!timestamp soon\n"}, [], "bad.yaml:2: YAML tag !!timestamp is not allowed"),
    "yaml_tag_python": ({"bad.yaml": "seed: !!python/object/apply:os.getpid []\n"}, [], "YAML tag !!python/object/apply:os.getpid is not allowed"),
    "yaml_self_alias": ({"bad.yaml": "variants: &a\n  x: [*a]\n"}, [], "alias *a lies inside the node it names"),
    "yaml_alias_bomb": ({"bad.yaml": ALIAS_BOMB}, [], "more than 100,000 values once aliases are expanded"),
    "yaml_deep_nesting": ({"bad.yaml": "description: " + "[" * 5000 + "]" * 5000 + "\n"}, [], "nested more than 32 levels deep"),
    "yaml_huge_file": ({"bad.yaml": "# padding\n" * 150_000}, [], "bytes, more than the 1,000,000 allowed"),
    "yaml_not_utf8": ({"bad.yaml": b"description: caf\xe9\n"}, [], "bad.yaml:2: scenario file is not UTF-8 text"),
    "yaml_extends_chain": (
        {**{f"p{i}.yaml": f"extends: p{i + 1}.yaml\n" for i in range(30)}, "p30.yaml": "seed: 1\n", "bad.yaml": "extends: p0.yaml\n"},
        [], "more than 16 files extend one another",
    ),
    # non-finite numbers, in YAML, on the command line and in CSV cells
    "nonfinite_horizon": ({"bad.yaml": "controller:\n  max_duration_h: .inf\n"}, [], "controller.max_duration_h = .inf: input should be a finite number"),
    "nonfinite_sinr": ({"bad.yaml": ""}, ["--set", "radio.sinr_min_db=.nan"], "radio.sinr_min_db = .nan: input should be a finite number"),
    "nonfinite_capacity": ({"bad.yaml": "battery:\n  capacity_kwh: 1e400\n"}, [], "battery.capacity_kwh = '1e400': input should be a finite number"),
    "nonfinite_site_coordinate": (
        {"bad.yaml": "network:\n  layout: table\n  sites: sites.csv\n", "sites.csv": "name,x_m,y_m\na,0,0\nb,nan,0\n"},
        [], "sites.csv:3: network.sites[1].x_m = 'nan': input should be a finite number",
    ),
    "nonfinite_sweep_value": (
        {"bad.yaml": "sweep:\n  dimensions:\n    load: {key: traffic.load, values: [1.0, .inf]}\n"}, [],
        "sweep.dimensions.load.values[1] = .inf: input should be a finite number",
    ),
    # sizes the schema allows but no machine holds: refused up front with the estimate and the key
    "size_users": ({"bad.yaml": "traffic:\n  users: 10000000\n"}, [], "traffic.users: this run would need about"),
    "size_hotspots": ({"bad.yaml": "traffic:\n  hotspots: 2147483648\n"}, [], "traffic.hotspots: this run would need about"),
    "size_horizon": ({"bad.yaml": "controller:\n  max_duration_h: 1000000\n"}, [], "reduce controller.max_duration_h"),
    "size_step": ({"bad.yaml": "controller:\n  stage2_interval_s: 0.000001\n  stage1_interval_min: 0.0001\n"}, [], "raise controller.stage2_interval_s"),
    "size_sites": (
        {"bad.yaml": "network:\n  layout: table\n  sites: sites.csv\n", "sites.csv": _sites_csv(100_000)},
        [], "network.sites: this run would need about",
    ),
    "size_trials": ({"bad.yaml": "sweep:\n  trials: 1000000000\n"}, [], "reduce sweep.trials"),
    # CSV tables
    "csv_not_utf8": (
        {"bad.yaml": "bands:\n  table: bands.csv\n", "bands.csv": BANDS_CSV.read_bytes() + b"\xff\xfe\n"},
        [], "bands.table = 'bands.csv': table file is not UTF-8 text",
    ),
    "csv_nul_in_path": ({"bad.yaml": 'bands:\n  table: "bands\\0.csv"\n'}, [], "cannot read table file: embedded null byte"),
    "csv_overlong_field": (
        {"bad.yaml": "bands:\n  table: bands.csv\n", "bands.csv": BANDS_CSV.read_text() + '"' + "x" * 300_000 + '",1,1,1,1,1\n'},
        [], "not a readable CSV row: field larger than field limit",
    ),
    "csv_is_directory": ({"bad.yaml": "bands:\n  table: sub\n", "sub/keep": ""}, [], "is a directory, not a table file"),
    # sweeps and solver options
    "sweep_unknown_key": (
        {"bad.yaml": "sweep:\n  dimensions:\n    x: {key: traffic.laod, values: [1.0]}\n"}, [],
        "sweep.dimensions.x.values[0]: traffic.laod = 1.0: unknown key; did you mean 'load'?",
    ),
    "sweep_refused_value": (
        {"bad.yaml": "sweep:\n  dimensions:\n    x: {key: battery.capacity_kwh, values: [20, -1]}\n"}, [],
        "sweep.dimensions.x.values[1]: battery.capacity_kwh = -1: input should be greater than 0",
    ),
    "sweep_refused_value_set_beside": (
        {"bad.yaml": "sweep:\n  dimensions:\n    x:\n      key: network.rings\n      values: [1, 2]\n      also: {traffic.users: [300, 0]}\n"}, [],
        "sweep.dimensions.x.also.traffic.users[1]: traffic.users = 0: input should be greater than or equal to 1",
    ),
    "solver_unknown_option": ({"bad.yaml": "solver:\n  options:\n    presolv: 'off'\n"}, [], "solver.options.presolv: not a HiGHS option; did you mean 'presolve'?"),
    "solver_option_type": ({"bad.yaml": "solver:\n  options:\n    presolve: off\n"}, [], "HiGHS option presolve takes text"),
}


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
        result = runner.invoke(app, list(args))
        after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
        return result, {p for p in after if before.get(p) != after[p]}

    return invoke


def _write_case(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "bad.yaml" and isinstance(content, str) and not content.startswith("extends"):
            content = f"extends: {MSRC_YAML}\n{content}"
        if name == "bad.yaml" and isinstance(content, bytes):
            content = f"extends: {MSRC_YAML}\n".encode() + content
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _assert_one_error(result, changed: set[Path], expected: str, status: int = 2) -> str:
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exit_code == status, (result.exit_code, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: " if status == 2 else "internal error: "), lines[0]
    assert expected in lines[0], lines[0]
    assert changed == set(), f"a failed command wrote {changed}"
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "inputs"])
def test_bad_input_is_one_located_error(tmp_path, cli, case, command):
    files, extra, expected = CASES[case]
    _write_case(tmp_path, files)
    args = [command, "bad.yaml", *extra] + (["-o", "out.nc"] if command == "inputs" else [])
    result, changed = cli(*args)
    _assert_one_error(result, changed, expected)


def test_solve_refuses_an_unwritable_output_before_running(tmp_path, cli):
    (tmp_path / "taken").write_text("a file, not a folder")
    result, changed = cli("solve", str(MSRC_YAML), "-o", "taken/results.nc")
    line = _assert_one_error(result, changed, "taken/results.nc: --output: cannot create a folder under taken: it is a file")
    assert "outage:" not in result.stdout, "the run started before the output was checked"
    assert line


@pytest.mark.parametrize("target", ["/dev/full", "."])
def test_solve_refuses_outputs_that_are_not_files(cli, target):
    result, changed = cli("solve", str(MSRC_YAML), "-o", target)
    _assert_one_error(result, changed, "--output: is ")
    assert "outage:" not in result.stdout


def test_sweep_refuses_an_unwritable_points_folder(tmp_path, cli):
    (tmp_path / "out.nc.points").write_text("a file where the points folder goes")
    result, changed = cli("solve", str(REPO / "models" / "paper.yaml"), "-o", "out.nc")
    _assert_one_error(result, changed, "out.nc.points: --output: is a file, not a folder")


def test_foreign_netcdf_is_not_an_msrc_results_file(tmp_path, cli):
    xr.Dataset({"x": ("t", [1, 2])}).to_netcdf(tmp_path / "other.nc")
    (tmp_path / "text.nc").write_text("not netcdf")
    for command in ("show", "plot", "report"):
        result, changed = cli(command, "other.nc")
        _assert_one_error(result, changed, "other.nc: not an msrc results file")
        result, changed = cli(command, "text.nc")
        _assert_one_error(result, changed, "text.nc: not a NetCDF file")


def test_a_truncated_netcdf_file_is_called_damaged(tmp_path, cli):
    xr.Dataset({"x": ("t", np.arange(5000.0))}).to_netcdf(tmp_path / "whole.nc", engine="netcdf4")
    (tmp_path / "cut.nc").write_bytes((tmp_path / "whole.nc").read_bytes()[:4000])
    result, changed = cli("show", "cut.nc")
    _assert_one_error(result, changed, "cut.nc: a damaged or truncated NetCDF file")


def test_pipe_is_refused_without_blocking(tmp_path, cli):
    os.mkfifo(tmp_path / "pipe")
    for args in (["show", "pipe"], ["validate", "pipe"]):
        result, changed = cli(*args)
        _assert_one_error(result, changed, "pipe: is not a regular file")


def test_damaged_msrc_file_is_an_internal_error_not_a_traceback(tmp_path, cli):
    # a file that claims to be msrc's, with a results group missing what the summary needs
    tree = xr.DataTree.from_dict(
        {"/": xr.Dataset(attrs={"msrc_file_format": "msrc"}), "/results": xr.Dataset({"x": ("strategy", [1.0])}, coords={"strategy": ["msrc"]})}
    )
    tree.to_netcdf(tmp_path / "damaged.nc")
    result, changed = cli("show", "damaged.nc")
    line = _assert_one_error(result, changed, "(re-run as msrc --debug show ... for the traceback)", status=1)
    assert line.startswith("internal error: ")
    debug = CliRunner().invoke(app, ["--debug", "show", "damaged.nc"])
    assert debug.exit_code != 0 and debug.exception is not None and not isinstance(debug.exception, SystemExit)


def test_stale_temporary_of_a_killed_write_is_removed_by_the_next(tmp_path):
    target = tmp_path / "results.nc"
    host = socket.gethostname().replace(".", "_")
    dead = tmp_path / f".results.nc.{host}-{2**22 + 12345}.abcd.part"  # above the default pid_max
    live = tmp_path / f".results.nc.{host}-{os.getpid()}.efgh.part"
    other_host = tmp_path / f".results.nc.elsewhere-{2**22 + 12345}.ijkl.part"
    for path in (dead, live, other_host):
        path.write_bytes(b"half a file")
    assert remove_stale_temporaries(target) == [dead]
    dead.write_bytes(b"half a file")
    with atomic_write(target) as temporary:
        assert f"{host}-{os.getpid()}." in temporary.name
        temporary.write_bytes(b"complete")
    assert target.read_bytes() == b"complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other_host.name])


def test_one_site_network_runs_every_strategy(tmp_path, cli):
    # an edge case, not an error: one site has no neighbour to cooperate with
    (tmp_path / "one.yaml").write_text(
        f"extends: {REPO / 'models' / 'small.yaml'}\n"
        "network:\n  layout: table\n  sites: [{name: alone, x_m: 0, y_m: 0}]\n"
        "traffic:\n  users: 30\n  area_side_m: 600\n"
        "controller:\n  max_duration_h: 0.25\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["solve", "one.yaml", "-o", "one.nc"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    results = xr.open_dataset(tmp_path / "one.nc", group="results")
    assert list(results.strategy.values) == ["independent", "static", "msrc"]
    assert results.sizes["site"] == 1
    assert np.isfinite(results.battery_energy.values).all()
