"""`msrc solve` in simulate mode, `msrc show` and `msrc plot`, end to end through the CLI."""

from __future__ import annotations

import pytest

from conftest import REPO, run_msrc
from msrc_model.files.netcdf import read_netcdf

SMALL = str(REPO / "models" / "small.yaml")
SHORT = ("--set", "controller.max_duration_h=0.5", "--set", "battery.soc_initial=0.3")


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "out.nc"
    done = run_msrc("solve", SMALL, *SHORT, "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out, done


def test_solve_writes_results_with_a_strategy_dimension(solved):
    out, done = solved
    inputs, results, attrs = read_netcdf(out)
    assert list(results.strategy.values) == ["independent", "static", "msrc"]
    expected = {
        "survival_time": "h", "battery_energy": "kWh", "site_power": "kW", "ev_power": "kW", "mode": "1",
        "band_active": "1", "served_share": "1", "service_continuity": "1", "ev_utilisation": "1",
        "handovers_per_user": "1", "mode_switches_per_site": "1", "v2g_cost": "currency",
    }
    for name, units in expected.items():
        assert results[name].attrs["units"] == units, name
    assert results.battery_energy.dims == ("strategy", "site", "time")
    assert results.band_active.dims == ("strategy", "site", "band", "time")
    assert results.served_share.dims == ("strategy", "class", "time")
    assert results.time.attrs["units"] == "s" and results.sizes["time"] == 60
    assert results["mode"].attrs["flag_meanings"].split()[:4] == ["normal", "helping", "assisted", "sleep"]
    assert results.stage1_solve_time.sel(strategy="msrc").notnull().sum() >= 2
    assert "scenario_yaml" in attrs and inputs is not None
    # the summary table and the progress lines (not a terminal: quiet lines on stderr)
    assert "T_surv (h)" in done.stdout and "independent" in done.stdout and "msrc" in done.stdout
    assert "msrc: 100% of 60 steps" in done.stderr


def test_show_prints_the_same_summary(solved):
    out, done = solved
    shown = run_msrc("show", str(out))
    assert shown.returncode == 0, shown.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith(("metric", "T_surv", "served"))]
    assert table and all(line in shown.stdout for line in table)


def test_plot_writes_three_pngs(solved, tmp_path):
    out, _ = solved
    done = run_msrc("plot", str(out), "-o", str(tmp_path / "figs"), "--at-h", "0.25")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["battery_energy.png", "map.png", "modes.png"]
    for name in names:
        assert (tmp_path / "figs" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("show", "missing.nc"), "missing.nc: no such file"),
        (("plot", "missing.nc"), "missing.nc: no such file"),
    ],
)
def test_show_and_plot_reject_missing_files(tmp_path, args, message):
    done = run_msrc(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_show_rejects_a_file_without_a_simulation(tmp_path):
    inputs_only = tmp_path / "inputs.nc"
    assert run_msrc("inputs", SMALL, "-o", str(inputs_only)).returncode == 0
    done = run_msrc("show", str(inputs_only))
    assert done.returncode == 2
    assert "/results: holds no outage simulation" in done.stderr


def test_plot_rejects_a_time_after_the_run(solved, tmp_path):
    out, _ = solved
    done = run_msrc("plot", str(out), "-o", str(tmp_path / "figs"), "--at-h", "3")
    assert done.returncode == 2 and "--at-h = 3: after the end of the run" in done.stderr
    assert not (tmp_path / "figs").exists()


def test_plot_reports_an_unwritable_folder(solved, tmp_path):
    out, _ = solved
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder's parent should be", encoding="utf-8")
    done = run_msrc("plot", str(out), "-o", str(blocker / "figs"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"error: {blocker / 'figs'}: --output: cannot create a folder under {blocker}: it is a file"]
