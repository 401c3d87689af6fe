"""A compact, comparable summary of an ``msrc solve`` results file.

The regression tests keep such summaries of known runs in ``tests/reference/``
and compare a fresh run with them: every scalar metric, per-site energies and
dark times, hourly cluster energy, mode occupancy and served shares, per
strategy. ``python tests/reference_summary.py RESULTS.nc OUT.json`` writes one.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import xarray as xr

# scalar metrics of a simulation run, per strategy
SCALARS = (
    "survival_time",
    "survival_censored",
    "all_dark_time",
    "critical_service_time",
    "service_continuity",
    "ev_utilisation",
    "ev_energy_taken",
    "handovers_per_user",
    "mode_switches_per_site",
    "v2g_cost",
    "solver_fallbacks",
    "table3_time",
)


def _numbers(values) -> list:
    """Plain floats (NaN as None) of an array, for JSON."""
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=float).ravel()]


def summarise_simulation(results: xr.Dataset) -> dict:
    """Per strategy: scalar metrics and the arrays that show what the run did."""
    out: dict[str, dict] = {}
    step_s = float(results.time.values[1] - results.time.values[0]) if results.sizes["time"] > 1 else 1.0
    hourly = np.arange(0, results.sizes["time"], max(int(round(3600.0 / step_s)), 1))
    for strategy in results.strategy.values:
        r = results.sel(strategy=strategy)
        entry = {name: _numbers(r[name])[0] for name in SCALARS if name in r}
        entry["site_dark_time"] = _numbers(r.site_dark_time)
        entry["battery_energy_end"] = _numbers(r.battery_energy_end)
        entry["ev_energy_end"] = _numbers(r.ev_energy_end)
        entry["battery_energy_hourly"] = _numbers(r.battery_energy.isel(time=hourly).sum("site"))
        entry["served_share_table3"] = _numbers(r.served_share_table3)
        entry["served_share_total_mean"] = _numbers(r.served_share_total.mean())[0]
        mode = r["mode"].values
        entry["mode_steps"] = [[int((mode[site] == m).sum()) for m in range(5)] for site in range(mode.shape[0])]
        entry["site_power_mean"] = _numbers(r.site_power.mean("time"))
        out[str(strategy)] = entry
    return out


def summarise_plan(results: xr.Dataset) -> dict:
    """The plan's objective, survival and decisions in brief."""
    entry = {name: _numbers(results[name])[0] for name in ("objective", "survival_time", "mip_gap") if name in results}
    if "mode" in results:
        entry["mode"] = results["mode"].values.astype(int).tolist()
        entry["battery_energy_end"] = _numbers(results.battery_energy.isel({results.battery_energy.dims[-1]: -1}))
    return {"plan": entry}


def summarise(path: str | Path) -> dict:
    results = xr.open_dataset(path, group="results").load()
    return summarise_plan(results) if results.attrs.get("run_mode") == "plan" else summarise_simulation(results)


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(summarise(sys.argv[1]), indent=1) + "\n")
