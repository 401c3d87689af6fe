"""Figures of a sweep with more than one swept key: a panel per cell, a sensitivity figure per numeric key."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from msrc_model.study.plots import sweep_axis_values, sweep_cells, write_sweep_plots
from msrc_model.study.statistics import add_paired_statistics, add_statistics, critical_service_or_run_length


def two_key_sweep(loads: list[str], batteries: tuple = (10, 20, 40)) -> xr.Dataset:
    rng = np.random.default_rng(0)
    shape = (len(loads), len(batteries), 3, 4)  # load, battery, strategy, trial
    survival = rng.uniform(2.0, 10.0, shape)
    critical = survival + 1.0
    critical[..., 0] = np.nan  # never lost critical service within the run
    ds = xr.Dataset(
        {
            "survival_time": (("load", "battery", "strategy", "trial"), survival, {"units": "h"}),
            "survival_censored": (("load", "battery", "strategy", "trial"), np.zeros(shape)),
            "critical_service_time": (("load", "battery", "strategy", "trial"), critical, {"units": "h"}),
            "battery_energy_average": (("load", "battery", "strategy", "trial", "time"), rng.uniform(0, 20, (*shape, 5)), {"units": "kWh"}),
            "service_continuity": (("load", "battery", "strategy", "trial"), rng.uniform(0.5, 1.0, shape), {"units": "1"}),
            "ev_utilisation": (("load", "battery", "strategy", "trial"), rng.uniform(0.2, 0.6, shape), {"units": "1"}),
            "point_error": (("load", "battery", "trial"), np.full((len(loads), len(batteries), 4), "", dtype=object)),
        },
        coords={
            "load": loads, "battery": list(batteries), "strategy": ["independent", "static", "msrc"], "trial": np.arange(4),
            "time": np.arange(5) * 3600.0,
        },
        attrs={"max_duration_h": 24.0},
    )
    ds["battery"].attrs["long_name"] = "swept scenario key battery.capacity_kwh"
    return add_paired_statistics(add_statistics(ds))


def test_cells_and_numeric_axes():
    ds = two_key_sweep(["medium", "heavy"])
    assert [label for label, _ in sweep_cells(ds)] == [
        f"load {load}, battery {b}" for load in ("medium", "heavy") for b in (10, 20, 40)
    ]
    assert [chosen for _, chosen in sweep_cells(ds, skip=("battery",))] == [{"load": "medium"}, {"load": "heavy"}]
    assert sweep_axis_values(ds, "battery").tolist() == [10.0, 20.0, 40.0]
    assert sweep_axis_values(ds, "load") is None  # labels without numeric values: no sensitivity axis


def test_sensitivity_figures_one_per_numeric_key_and_other_cell(tmp_path):
    one_load = write_sweep_plots(two_key_sweep(["medium"]), tmp_path / "a")
    assert sorted(p.name for p in one_load) == ["fig2_battery_energy.png", "sensitivity_battery.png", "table2_survival.png"]
    two_loads = write_sweep_plots(two_key_sweep(["medium", "heavy"]), tmp_path / "b")
    assert {p.name for p in two_loads} >= {"sensitivity_battery_load-medium.png", "sensitivity_battery_load-heavy.png"}
    for path in two_loads:
        assert path.stat().st_size > 10_000


def test_a_run_that_never_lost_critical_service_counts_its_length_and_a_failed_point_stays_missing():
    ds = two_key_sweep(["medium"])
    ds["point_error"][0, 1, 0] = "solver crashed"
    values = critical_service_or_run_length(ds)
    assert float(values.sel(load="medium", battery=10, strategy="msrc", trial=0)) == 24.0
    assert np.isnan(float(values.sel(load="medium", battery=20, strategy="msrc", trial=0)))
    kept = ds.critical_service_time.sel(trial=1)
    assert np.array_equal(values.sel(trial=1).values, kept.values)


def test_report_refuses_a_sweep_of_another_key_with_one_line_and_writes_nothing_while_show_and_plot_cover_it(tmp_path):
    from conftest import run_msrc
    from msrc_model.files.netcdf import write_netcdf

    path = write_netcdf(tmp_path / "battery.nc", results=two_key_sweep(["medium"]))
    done = run_msrc("report", str(path), "-o", str(tmp_path / "report"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "sweeps battery besides the load" in done.stderr
    assert not (tmp_path / "report").exists()
    shown = run_msrc("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "load=medium battery=40" in shown.stdout and "paired, msrc minus each baseline" in shown.stdout
    drawn = run_msrc("plot", str(path), "-o", str(tmp_path / "plots"))
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "plots" / "sensitivity_battery.png").exists()


def test_the_report_reads_a_sweep_whose_other_keys_have_one_value():
    from msrc_model.study.report import ReportShapeError, paired_rows, report_ready

    one = report_ready(two_key_sweep(["medium", "heavy"], batteries=(20,)))
    assert "battery" not in one.dims and one.sizes["load"] == 2
    rows = paired_rows(one)
    assert [(r["load"], r["baseline"]) for r in rows] == [(load, b) for load in ("medium", "heavy") for b in ("independent", "static")]
    with pytest.raises(ReportShapeError, match="sweeps battery besides the load"):
        report_ready(two_key_sweep(["medium"]))


def test_numeric_labels_place_the_points_and_values_are_sorted(tmp_path):
    """Labels that are numbers (7 / 19 / 37 sites set by rings 1 / 2 / 3) are the axis; values given out of order are drawn sorted."""
    ds = two_key_sweep(["medium"], batteries=(40, 10, 20))
    assert sweep_axis_values(ds, "battery").tolist() == [40.0, 10.0, 20.0]
    labelled = ds.rename(battery="sites").assign_coords(sites=["37", "7", "19"], sites_value=("sites", [3, 1, 2]))
    assert sweep_axis_values(labelled, "sites").tolist() == [37.0, 7.0, 19.0]
    written = write_sweep_plots(labelled, tmp_path)
    assert (tmp_path / "sensitivity_sites.png") in written
    odd = two_key_sweep(["a/b c", "heavy"])  # a label that is no file name
    names = {p.name for p in write_sweep_plots(odd, tmp_path / "odd")}
    assert "sensitivity_battery_load-a-b-c.png" in names and all(p.parent == tmp_path / "odd" for p in (tmp_path / "odd").iterdir())
