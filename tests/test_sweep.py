"""Monte Carlo sweeps: points, Dask execution (embedded and --scheduler), resume, failures, statistics, report, calibration."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import REPO, run_msrc
from scipy import stats

from msrc_model.config.errors import ScenarioError
from msrc_model.config.loader import load_scenario
from msrc_model.files.netcdf import read_netcdf
from msrc_model.study.statistics import add_statistics
from msrc_model.study.sweep import (
    DAMAGED_SUFFIX, SOLVER_EVENTS_ATTR, combine_points, points_folder, run_point, run_sweep, solver_events_text, sweep_points,
)

# 7 sites, 100 users, 15 min: a point takes about 5 s, nearly all of it the msrc controller's
SWEEP_YAML = f"""\
extends: {REPO / 'models' / 'small.yaml'}
name: test-sweep
controller:
  max_duration_h: 0.25
solver:
  threads: 1
sweep:
  trials: 2
  workers: 2
  dimensions:
    load:
      key: traffic.load
      values: [0.5, 1.8]
      labels: [light, heavy]
"""


# The sweep machinery (running on a remote scheduler, resuming a killed sweep, recording and retrying
# failed points) does not depend on what a point simulates: those tests sweep only the two baselines,
# whose points take about a second, and compare with the baselines' uninterrupted sweep. One local
# worker: starting a second worker process costs more than the second core saves on points this short
# (the scheduler test runs them on two workers and checks the same file comes out).
BASELINES_YAML = SWEEP_YAML.replace("  workers: 2\n", "  workers: 1\n") + "run:\n  strategies: [independent, static]\n"


def msrc_command() -> list[str]:
    executable = Path(sys.executable).with_name("msrc")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    scenario = folder / "sweep.yaml"
    scenario.write_text(SWEEP_YAML)
    return scenario


def run_uninterrupted(scenario: Path, name: str) -> Path:
    """A sweep run once, uninterrupted, on the embedded local cluster: its results file."""
    out = scenario.parent / name
    done = run_msrc("solve", str(scenario), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "4 points run, 0 reused" in done.stdout
    return out


@pytest.fixture(scope="module")
def embedded(sweep_file) -> Path:
    """The sweep run uninterrupted on the embedded local cluster."""
    return run_uninterrupted(sweep_file, "embedded.nc")


@pytest.fixture(scope="module")
def baselines_file(sweep_file) -> Path:
    scenario = sweep_file.parent / "baselines.yaml"
    scenario.write_text(BASELINES_YAML)
    return scenario


@pytest.fixture(scope="module")
def baselines_embedded(baselines_file) -> Path:
    """The baselines' sweep run uninterrupted on the embedded local cluster."""
    return run_uninterrupted(baselines_file, "baselines.nc")


def test_points_cover_every_combination_and_validate_values(sweep_file, tmp_path):
    points = sweep_points(load_scenario(sweep_file))
    assert [p.coords for p in points] == [
        {"load": "light", "trial": 0}, {"load": "light", "trial": 1}, {"load": "heavy", "trial": 0}, {"load": "heavy", "trial": 1},
    ]
    assert "load: 0.5" in points[0].scenario_yaml and "load: 1.8" in points[2].scenario_yaml
    assert len({p.key for p in points}) == 4  # trial and scenario both enter the point's identity
    bad = tmp_path / "bad.yaml"
    bad.write_text(SWEEP_YAML.replace("key: traffic.load", "key: battery.soc_initial").replace("[0.5, 1.8]", "[0.5, 1.8]"))
    with pytest.raises(ScenarioError, match=r"battery.soc_initial"):
        sweep_points(load_scenario(bad))
    typo = tmp_path / "typo.yaml"
    typo.write_text(SWEEP_YAML.replace("key: traffic.load", "key: traffic.laod"))
    with pytest.raises(ScenarioError, match=r"traffic.laod"):
        sweep_points(load_scenario(typo))


def test_a_dimension_sets_its_other_keys_with_each_value():
    """models/study-cluster.yaml: rings 1 / 2 / 3 with the users, area and hotspots given beside them."""
    from msrc_model.config.loader import scenario_from_yaml

    points = sweep_points(load_scenario(REPO / "models" / "study-cluster.yaml"))
    first = {p.coords["sites"]: scenario_from_yaml(p.scenario_yaml) for p in points if p.trial == 0}
    assert list(first) == ["7", "19", "37"]
    assert [(s.network.rings, s.traffic.users, s.traffic.area_side_m, s.traffic.hotspots) for s in first.values()] == [
        (1, 368, 1214, 2), (2, 1000, 2000, 5), (3, 1947, 2791, 10),
    ]
    assert all(s.traffic.load == 1.0 for s in first.values())
    loaded = load_scenario(REPO / "models" / "study-cluster.yaml")
    assert len(points) == 3 * loaded.scenario.sweep.trials
    combined = combine_points(loaded.scenario, points, {}, {})  # no point finished: the coordinates alone
    assert combined.sites_traffic_users.values.tolist() == [368, 1000, 1947]
    assert combined.sites_traffic_area_side_m.dims == ("sites",) and combined.sites_value.values.tolist() == [1, 2, 3]


def test_sweep_results_have_sweep_dimensions_and_statistics(embedded):
    _, results, attrs = read_netcdf(embedded)
    assert results.survival_time.dims == ("load", "trial", "strategy")
    assert list(results["load"].values) == ["light", "heavy"]
    assert list(results["load_value"].values) == [0.5, 1.8]
    assert results.served_share_table3.dims == ("load", "trial", "strategy", "class")
    assert results.battery_energy_average.dims[:3] == ("load", "trial", "strategy")
    assert (results.point_error == "").all()
    fallbacks = results.solver_fallbacks.sum("strategy")
    assert ((results.point_solver_events == "") == (fallbacks == 0)).all()  # an event listed for every fallback, none without
    critical = results.critical_service_time
    filled = results.critical_service_time_or_run_length
    assert filled.attrs["units"] == "h"
    assert (filled.where(critical.notnull()) == critical).sum() == critical.notnull().sum()  # a time it lost critical service: kept
    assert (filled.where(critical.isnull()) == 0.25).sum() == critical.isnull().sum()  # never lost: the run length, 0.25 h
    values = results.service_continuity.sel(load="heavy", strategy="msrc").values
    mean = values.mean()
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    assert float(results.service_continuity_mean.sel(load="heavy", strategy="msrc")) == pytest.approx(mean)
    assert float(results.service_continuity_ci95.sel(load="heavy", strategy="msrc")) == pytest.approx(half)
    assert results.survival_time_mean.attrs["units"] == "h"
    assert "load" in attrs["scenario_yaml"]
    mask = os.umask(0)
    os.umask(mask)
    for path in [embedded, *points_folder(embedded).glob("*.nc")]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not the temporary file's 0600


def test_statistics_skip_missing_trials():
    values = np.array([[1.0, 2.0, 4.0, np.nan], [3.0, np.nan, np.nan, np.nan]])
    ds = xr.Dataset({"metric": (("load", "trial"), values, {"units": "h"})})
    out = add_statistics(ds)
    assert out.metric_count.values.tolist() == [3, 1]
    assert out.metric_mean.values[0] == pytest.approx(7 / 3)
    assert out.metric_ci95.values[0] == pytest.approx(stats.t.ppf(0.975, 2) * np.std([1, 2, 4], ddof=1) / np.sqrt(3))
    assert np.isnan(out.metric_ci95.values[1])  # one trial: no interval


def test_scheduler_option_runs_on_a_distributed_cluster_with_the_same_result(baselines_file, baselines_embedded, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0") as cluster:
        out = tmp_path / "remote.nc"
        done = run_msrc("solve", str(baselines_file), "-o", str(out), "--scheduler", cluster.scheduler_address)
        assert done.returncode == 0, done.stderr
        assert f"scheduler {cluster.scheduler_address}" in done.stdout
    assert digest(out) == digest(baselines_embedded)


def wait_for(path: Path, process: subprocess.Popen) -> None:
    """Return once ``path`` exists; fail if ``process`` ends first (no wall-clock deadline: the pytest run's own timeout is the net)."""
    while not path.exists():
        assert process.poll() is None, f"the sweep ended (status {process.returncode}) before {path.name} appeared"
        time.sleep(0.02)


def test_a_killed_sweep_resumes_to_the_same_file(baselines_file, baselines_embedded, tmp_path):
    """SIGKILL a sweep (and its workers) while it computes its second point; the next run reuses the first and gives the same file.

    The second point to start blocks (``sweep_hooks.second_point_blocks``), so
    the kill comes at a known state whatever the machine's speed: the first
    point's file written, nothing being written.
    """
    out = tmp_path / "killed.nc"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    script = (
        "import sys; from pathlib import Path; from msrc_model.config.loader import load_scenario; "
        "from msrc_model.study.sweep import run_sweep; from sweep_hooks import second_point_blocks; "
        "run_sweep(load_scenario(Path(sys.argv[1])), Path(sys.argv[2]), workers=1, function=second_point_blocks)"
    )
    env = {**os.environ, "MSRC_TEST_HOOK_DIR": str(hooks), "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(baselines_file), str(out)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    folder = points_folder(out)
    try:
        wait_for(hooks / "blocked", process)  # the second point has started and will never finish
        while not any(folder.glob("*.nc")) or list(folder.glob(".*")):  # the first point's file, complete
            assert process.poll() is None
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
        process.wait()
    kept = sorted(folder.glob("*.nc"))
    assert len(kept) == 1
    assert not out.exists()
    assert not list(folder.glob(".*"))  # no partial point file
    done = run_msrc("solve", str(baselines_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "3 points run, 1 reused from disk, 0 failed" in done.stdout
    assert digest(out) == digest(baselines_embedded)


def failing_on_trial_one(scenario_yaml: str, trial: int) -> xr.Dataset:
    if trial == 1:
        raise RuntimeError("simulated worker failure")
    return run_point(scenario_yaml, trial)


def test_a_failed_point_is_recorded_and_retried_on_the_next_run(baselines_file, baselines_embedded, tmp_path):
    from dask.distributed import LocalCluster

    out = tmp_path / "failed.nc"
    loaded = load_scenario(baselines_file)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        run = run_sweep(loaded, out, scheduler=cluster.scheduler_address, function=failing_on_trial_one)
    assert (run.ran, run.failed, run.reused) == (2, 2, 0)
    errors = run.results.point_error
    assert "simulated worker failure" in str(errors.sel(load="light", trial=1).values)
    assert str(errors.sel(load="heavy", trial=0).values) == ""
    assert np.isnan(run.results.survival_time.sel(trial=1)).all()
    assert not np.isnan(run.results.survival_time.sel(trial=0)).any()
    assert (run.results.survival_time_count == 1).all()
    done = run_msrc("solve", str(baselines_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "2 points run, 2 reused from disk, 0 failed" in done.stdout
    assert digest(out) == digest(baselines_embedded)


def test_solve_rejects_trial_with_a_sweep_and_scheduler_without(sweep_file, tmp_path):
    done = run_msrc("solve", str(sweep_file), "-o", str(tmp_path / "x.nc"), "--trial", "1")
    assert done.returncode == 2 and "--trial" in done.stderr
    done = run_msrc("solve", str(REPO / "models" / "small.yaml"), "-o", str(tmp_path / "y.nc"), "--scheduler", "tcp://127.0.0.1:1")
    assert done.returncode == 2 and "only for a scenario with a sweep section" in done.stderr
    assert not (tmp_path / "x.nc").exists() and not (tmp_path / "y.nc").exists()


def test_unreachable_scheduler_is_reported(sweep_file, tmp_path):
    """A scheduler address where nothing listens: one error line naming it after --scheduler-timeout, no file."""
    with socket.socket() as reserved:  # bound, never listening: connections to it are refused
        reserved.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{reserved.getsockname()[1]}"
        out = tmp_path / "z.nc"
        done = run_msrc("solve", str(sweep_file), "-o", str(out), "--scheduler", address, "--scheduler-timeout", "1")
    assert done.returncode == 2
    assert address in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not points_folder(out).exists() or not any(points_folder(out).iterdir())


def test_scheduler_timeout_needs_a_scheduler(sweep_file, tmp_path):
    done = run_msrc("solve", str(sweep_file), "-o", str(tmp_path / "x.nc"), "--scheduler-timeout", "1")
    assert done.returncode == 2 and "--scheduler-timeout" in done.stderr and "only with --scheduler" in done.stderr


def test_report_writes_tables_beside_the_paper(embedded, tmp_path):
    done = run_msrc("report", str(embedded), "-o", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    for heading in ("Table II", "Table III", "Table IV", "Avg. Gain", "| Light |", "| Heavy |", "(paper 3.20;"):
        assert heading in text
    _, results, _ = read_netcdf(embedded)
    with open(tmp_path / "report" / "table2.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 3
    row = next(r for r in rows if r["row"] == "heavy" and r["strategy"] == "msrc")
    assert float(row["mean"]) == pytest.approx(float(results.survival_time_mean.sel(load="heavy", strategy="msrc")), rel=1e-5)
    assert float(row["paper"]) == 3.7
    assert float(row["relative_difference"]) == pytest.approx(float(row["mean"]) / 3.7 - 1, rel=1e-4)
    with open(tmp_path / "report" / "table3.csv") as handle:
        table3 = list(csv.DictReader(handle))
    assert {r["row"] for r in table3} == {"emergency", "voice", "essential", "best_effort"}
    # the paper's Tables III and IV are at medium load, which this sweep lacks: nothing set beside them
    with open(tmp_path / "report" / "table4.csv") as handle:
        table4 = list(csv.DictReader(handle))
    assert table4 and all(r["paper"] == "" for r in table3 + table4)
    assert "no load labelled medium, so no paper figure is set beside these" in text
    # T_surv paired: in the results file, the report and paired.csv, from the trials' own values
    survival = results.survival_time.sel(load="heavy")
    difference = (survival.sel(strategy="msrc") - survival.sel(strategy="static")).values
    stored = results.survival_time_difference.sel(load="heavy", baseline="static").values
    assert np.allclose(stored, difference)
    assert "against each baseline on the same realisations" in text
    with open(tmp_path / "report" / "paired.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["load"], r["baseline"]) for r in rows} == {(load, b) for load in ("light", "heavy") for b in ("independent", "static")}
    row = next(r for r in rows if r["load"] == "heavy" and r["baseline"] == "static")
    assert float(row["mean_difference_h"]) == pytest.approx(difference.mean(), abs=1e-5)
    assert float(row["later_share"]) == pytest.approx((difference > 1e-6).mean())


def test_report_and_plot_of_files_without_a_sweep_fail_cleanly(tmp_path):
    done = run_msrc("report", str(tmp_path / "missing.nc"))
    assert done.returncode == 2 and "no such file" in done.stderr
    single = tmp_path / "single.nc"
    assert run_msrc(  # any results file without a sweep: one cheap strategy is enough
        "solve", str(REPO / "models" / "small.yaml"), "-o", str(single),
        "--set", "controller.max_duration_h=0.1", "--set", "run.strategies=[independent]",
    ).returncode == 0
    done = run_msrc("report", str(single))
    assert done.returncode == 2 and "holds no sweep" in done.stderr
    assert not (tmp_path / "single-report").exists()


def test_show_of_a_sweep_prints_means_and_intervals(embedded):
    done = run_msrc("show", str(embedded))
    assert done.returncode == 0, done.stderr
    _, results, _ = read_netcdf(embedded)
    mean = float(results.survival_time_mean.sel(load="heavy", strategy="msrc"))
    assert "load=heavy" in done.stdout and f"T_surv {mean:.2f} +-" in done.stdout
    critical = float(results.critical_service_time_or_run_length_mean.sel(load="heavy", strategy="msrc"))
    assert f"critical service {critical:.2f} +-" in done.stdout


def test_show_counts_a_run_that_never_lost_critical_service_at_the_run_length(tmp_path):
    from msrc_model.files.netcdf import write_netcdf

    critical = np.array([[[1.0, 2.0], [np.nan, 3.0], [np.nan, np.nan]]])  # load, trial, strategy
    sweep = xr.Dataset(
        {
            "survival_time": (("load", "trial", "strategy"), np.ones_like(critical), {"units": "h"}),
            "critical_service_time": (("load", "trial", "strategy"), critical, {"units": "h"}),
            "service_continuity": (("load", "trial", "strategy"), np.ones_like(critical)),
            "ev_utilisation": (("load", "trial", "strategy"), np.ones_like(critical)),
            "point_error": (("load", "trial"), np.array([["", "", "solver crashed"]], dtype=object)),
        },
        coords={"load": ["medium"], "trial": [0, 1, 2], "strategy": ["static", "msrc"]},
        attrs={"max_duration_h": 6.0},
    )
    path = write_netcdf(tmp_path / "sweep.nc", results=add_statistics(sweep))
    done = run_msrc("show", str(path))
    assert done.returncode == 0, done.stderr
    static = next(line for line in done.stdout.splitlines() if " static " in line)
    msrc = next(line for line in done.stdout.splitlines() if " msrc " in line)
    # static: 1 h and 6 h (never lost; the failed trial left out); msrc: 2 h and 3 h, none never lost
    half = stats.t.ppf(0.975, 1) * np.std([1.0, 6.0], ddof=1) / np.sqrt(2)
    assert f"critical service 3.50 +- {half:.2f} h (1 never lost: counted at the run length)" in static
    assert "critical service 2.50 +-" in msrc and "never lost" not in msrc


def test_plot_of_a_sweep_draws_fig2_with_bands_and_table2_bars(embedded, tmp_path):
    done = run_msrc("plot", str(embedded), "-o", str(tmp_path / "plots"))
    assert done.returncode == 0, done.stderr
    for name in ("fig2_battery_energy.png", "table2_survival.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 10_000


def test_calibration_fits_the_scale_on_one_cell(tmp_path):
    # short batteries so that independent sites go dark within the run (in under an hour at power.scale 1)
    scenario = tmp_path / "calibrate.yaml"
    scenario.write_text(
        SWEEP_YAML.replace("max_duration_h: 0.25", "max_duration_h: 1")
        + "battery:\n  soc_initial: 0.35\nrun:\n  strategies: [independent]\n"
    )
    from msrc_model.inputs import build_inputs
    from msrc_model.simulation.outage import run_outage

    def mean_survival(*overrides: str) -> float:
        loaded = load_scenario(scenario, ["traffic.load=1.8", *overrides])
        return float(np.mean([float(run_outage(loaded.scenario, build_inputs(loaded.scenario, trial=k)).survival_time[0]) for k in range(2)]))

    # a target a quarter longer than the cell lasts at scale 1, so that the fit must move the scale
    unscaled = mean_survival()
    target = round(1.25 * unscaled, 3)
    assert target < 0.95  # the 1-h run can show it
    done = run_msrc("calibrate", str(scenario), "--cell", "load=heavy", "--target-h", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    scale = float(done.stdout.split("power.scale = ")[1].split()[0])
    assert scale < 1.0  # a longer life needs less power
    # the printed scale reproduces the target on that cell
    assert mean_survival(f"power.scale={scale}") == pytest.approx(target, abs=0.01)
    done = run_msrc("calibrate", str(scenario), "--cell", "load=medium")
    assert done.returncode == 2 and "not a coordinate" in done.stderr
    # a target the runs cannot show (they end at 1 h): refused before anything is simulated
    done = run_msrc("calibrate", str(scenario), "--cell", "load=heavy", "--target-h", "1")
    assert done.returncode == 2 and "not below controller.max_duration_h (1 h)" in done.stderr and "power.scale" not in done.stdout


def test_point_keys_ignore_name_description_and_output_only(sweep_file, tmp_path):
    """Two sweeps that differ only in name, description and output path share their points' keys; any other key tells them apart."""
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(
        SWEEP_YAML.replace("name: test-sweep", "name: another\ndescription: the same points under another name")
        + "output:\n  path: elsewhere/other.nc\n"
    )
    changed = tmp_path / "changed.yaml"
    changed.write_text(SWEEP_YAML + "battery:\n  capacity_kwh: 21\n")
    keys = [p.key for p in sweep_points(load_scenario(sweep_file))]
    assert [p.key for p in sweep_points(load_scenario(renamed))] == keys
    assert not set(p.key for p in sweep_points(load_scenario(changed))) & set(keys)


def test_a_sweep_copies_the_matching_points_of_another_sweep(baselines_file, baselines_embedded, tmp_path):
    """sweep.reuse: the light points of the baselines' sweep are copied under another name; the new load is run."""
    other = tmp_path / "other.yaml"
    other.write_text(
        BASELINES_YAML.replace("name: test-sweep", "name: other-sweep")
        .replace("values: [0.5, 1.8]", "values: [0.5, 1.0]")
        .replace("labels: [light, heavy]", "labels: [light, medium]")
        .replace("  workers: 1\n", f"  workers: 1\n  reuse: [{baselines_embedded}]\n")
    )
    out = tmp_path / "other.nc"
    done = run_msrc("solve", str(other), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert f"points of another sweep: {points_folder(baselines_embedded)} (4 files)" in done.stdout
    assert "2 points run, 2 reused from disk, 0 failed" in done.stdout
    assert f"2 of the reused copied from the points of {baselines_embedded}" in done.stdout
    _, ours, _ = read_netcdf(out)
    _, theirs, _ = read_netcdf(baselines_embedded)
    xr.testing.assert_identical(ours.survival_time.sel(load="light"), theirs.survival_time.sel(load="light"))
    assert len(list(points_folder(out).glob("*.nc"))) == 4  # the copies are this sweep's own now
    nowhere = tmp_path / "nowhere.yaml"
    nowhere.write_text(other.read_text().replace(str(baselines_embedded), str(tmp_path / "missing.nc")))
    done = run_msrc("solve", str(nowhere), "-o", str(tmp_path / "nowhere.nc"), "--set", "sweep.trials=1")
    assert done.returncode == 0, done.stderr
    assert "(none yet)" in done.stdout and "2 points run, 0 reused" in done.stdout


def copy_points(results: Path, folder: Path) -> list[Path]:
    """Copy the point files of the sweep that wrote ``results`` into a new ``folder``; the originals, sorted."""
    folder.mkdir()
    originals = sorted(points_folder(results).glob("*.nc"))
    for path in originals:
        (folder / path.name).write_bytes(path.read_bytes())
    return originals


def test_a_damaged_point_of_another_sweep_is_not_copied(baselines_file, baselines_embedded, tmp_path):
    """A point file of the other sweep that does not open is left alone: the point runs, and the sweep completes."""
    source = tmp_path / "source.nc"
    folder = points_folder(source)
    originals = copy_points(baselines_embedded, folder)
    (folder / originals[0].name).write_bytes(b"CDF\x01 truncated")
    other = tmp_path / "other.yaml"
    other.write_text(BASELINES_YAML.replace("  workers: 1\n", f"  workers: 1\n  reuse: [{source}]\n"))
    out = tmp_path / "other.nc"
    done = run_msrc("solve", str(other), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "1 points run, 3 reused from disk, 0 failed" in done.stdout
    xr.testing.assert_identical(read_netcdf(out)[1].survival_time, read_netcdf(baselines_embedded)[1].survival_time)


def test_a_damaged_point_of_this_sweep_is_kept_aside_and_run_again(baselines_file, baselines_embedded, tmp_path):
    """A point file of the sweep's own folder that does not open (truncated; NetCDF without a point) is renamed, not lost, and rerun."""
    out = tmp_path / "own.nc"
    folder = points_folder(out)
    originals = copy_points(baselines_embedded, folder)
    truncated, empty = folder / originals[0].name, folder / originals[1].name
    truncated.write_bytes(b"CDF\x01 truncated")
    xr.Dataset({"other": ((), 1.0)}).to_netcdf(empty)
    empty_bytes = empty.read_bytes()
    done = run_msrc("solve", str(baselines_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "2 points run, 2 reused from disk, 0 failed" in done.stdout
    assert f"kept as {truncated.name}{DAMAGED_SUFFIX}, its point run again" in done.stderr
    assert (folder / (truncated.name + DAMAGED_SUFFIX)).read_bytes() == b"CDF\x01 truncated"
    assert (folder / (empty.name + DAMAGED_SUFFIX)).read_bytes() == empty_bytes
    for path in (truncated, empty):  # the rerun point's own file again
        assert "survival_time" in xr.load_dataset(path)
    assert digest(out) == digest(baselines_embedded)
    truncated.write_bytes(b"damaged again")  # a second damage keeps the first copy too
    done = run_msrc("solve", str(baselines_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "1 points run, 3 reused from disk, 0 failed" in done.stdout
    assert (folder / (truncated.name + DAMAGED_SUFFIX)).read_bytes() == b"CDF\x01 truncated"
    assert (folder / f"{truncated.name}{DAMAGED_SUFFIX}-1").read_bytes() == b"damaged again"
    assert digest(out) == digest(baselines_embedded)


def test_a_points_failed_solves_are_listed_in_the_combined_results(sweep_file):
    """Each point's fallbacks, by strategy, stage, time and solver status; a point file of before they were kept says so."""
    events = xr.Dataset(
        {
            "solver_event_strategy": ("solver_event", np.array(["msrc", "msrc"], dtype=object)),
            "solver_event_stage": ("solver_event", np.array(["stage1", "stage2"], dtype=object)),
            "solver_event_time": ("solver_event", [1800.0, 5400.0]),
            "solver_event_reason": ("solver_event", np.array(["time limit reached", "infeasible"], dtype=object)),
        }
    )
    text = solver_events_text(events)
    assert text == "msrc stage1 at 0.5000 h: time limit reached; msrc stage2 at 1.5000 h: infeasible"
    assert solver_events_text(events.isel(solver_event=slice(0, 0))) == ""
    loaded = load_scenario(sweep_file)
    points = sweep_points(loaded)

    def point(fallbacks: float, attrs: dict) -> xr.Dataset:
        metrics = {"survival_time": ("strategy", [1.0, 2.0]), "solver_fallbacks": ("strategy", [0.0, fallbacks])}
        return xr.Dataset(metrics, coords={"strategy": ["static", "msrc"]}, attrs=attrs)

    finished = {
        points[0].index: point(2.0, {SOLVER_EVENTS_ATTR: text}),
        points[1].index: point(1.0, {}),  # written before the events were kept
        points[2].index: point(0.0, {}),
    }
    combined = combine_points(loaded.scenario, points, finished, {points[3].index: "simulated failure"})
    listed = combined.point_solver_events
    assert str(listed[points[0].index].values) == text
    assert str(listed[points[1].index].values) == "not recorded in this point file"
    assert str(listed[points[2].index].values) == ""
    assert str(listed[points[3].index].values) == ""
