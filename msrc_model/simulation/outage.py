"""Run the strategies of a scenario on one outage realisation and gather their results.

:func:`run_outage` is what ``msrc solve`` does in ``run.mode: simulate``: it
builds the realisation once (:func:`msrc_model.inputs.build_inputs`), runs
each strategy of ``run.strategies`` through :func:`msrc_model.simulation.simulator.simulate`
and stacks the results along a ``strategy`` dimension.
"""

from __future__ import annotations

import time as _time
from typing import Callable

import numpy as np
import xarray as xr

from ..config.scenario import Scenario
from .controller import MSRCController
from .metrics import TABLE3_TIME_H, outage_metrics
from .simulator import Strategy, World, simulate
from .strategies import Independent, Static

# metrics of the summary table: (variable, heading, format)
SUMMARY = (
    ("survival_time", "T_surv (h)", "{:.2f}"),
    ("critical_service_time", "critical service (h)", "{:.2f}"),
    ("all_dark_time", "all dark (h)", "{:.2f}"),
    ("service_continuity", "service continuity (%)", "{:.1%}"),
    ("ev_utilisation", "EV utilisation (%)", "{:.1%}"),
    ("handovers_per_user", "handovers / user", "{:.2f}"),
    ("mode_switches_per_site", "mode switches / site", "{:.2f}"),
    ("v2g_cost", "V2G cost", "{:.2f}"),
    ("solver_fallbacks", "solver fallbacks", "{:.0f}"),
    ("uncoverable_users", "uncoverable users", "{:.0f}"),
    ("run_time", "wall time (s)", "{:.1f}"),
)


def make_strategy(name: str, scenario: Scenario) -> Strategy:
    """The strategy called ``name`` (independent, static or msrc)."""
    if name == "independent":
        return Independent()
    if name == "static":
        return Static(scenario.run.static_rule)
    if name == "msrc":
        return MSRCController(scenario)
    raise ValueError(f"unknown strategy {name!r}")


def _pad(values: list[np.ndarray], dims: tuple[str, ...], coords: dict | None = None) -> xr.DataArray:
    """Per-strategy arrays of different lengths along their first dim, NaN-padded to one (strategy, *dims) array."""
    trailing = next((np.shape(v)[1:] for v in values if np.ndim(v) > 1), ())
    length = max([len(v) for v in values] + [0])
    out = np.full((len(values), length, *trailing), np.nan)
    for i, v in enumerate(values):
        if len(v):
            out[i, : len(v)] = v
    return xr.DataArray(out, dims=("strategy", *dims), coords=coords)


def run_outage(
    scenario: Scenario,
    inputs: xr.Dataset,
    strategies: list[Strategy] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> xr.Dataset:
    """Simulate every strategy on the realisation ``inputs``; results with a ``strategy`` dimension.

    ``progress(strategy, steps_done, steps_total)`` is called as steps complete.
    """
    if strategies is None:
        strategies = [make_strategy(name, scenario) for name in scenario.run.strategies]
    world = World(inputs)
    runs, times, stats, events = [], [], [], []
    for strategy in strategies:
        started = _time.perf_counter()
        callback = None if progress is None else (lambda done, s=strategy.name: progress(s, done, world.n_steps))
        record = simulate(world, strategy, callback)
        result = outage_metrics(record)
        times.append(_time.perf_counter() - started)
        runs.append(result)
        stats.append(strategy.statistics() if hasattr(strategy, "statistics") else {})
        events.append(strategy.events)
    names = [s.name for s in strategies]
    results = xr.concat(runs, dim="strategy", data_vars="all", coords="minimal", compat="override", join="override")
    results = results.assign_coords(strategy=("strategy", names, {"long_name": "control strategy"}))
    results["run_time"] = (("strategy",), np.asarray(times), {"units": "s", "long_name": "wall time of the strategy's run"})
    results["solver_fallbacks"] = (
        ("strategy",), np.asarray([len(e) for e in events], dtype=float),
        {"units": "1", "long_name": "failed solves the controller fell back from"},
    )

    described = {
        "stage1_solve_time": ("stage1_call", "s", "Stage-1 solve time of each call (its regions' solve times summed)"),
        "stage1_wall_time": ("stage1_call", "s", "wall time of each Stage-1 call's solves (below the solve time when regions solve side by side, controller.region_threads)"),
        "stage1_update_time": ("stage1_call", "s", "time to set the Stage-1 data of each call (the model is built once)"),
        "stage1_model_build_time": ("stage1_build", "s", "time to build the Stage-1 model at the start of the run"),
        "stage1_gap": ("stage1_call", "1", "relative MIP gap of each Stage-1 solve"),
        "stage1_objective": ("stage1_call", "1", "Stage-1 objective of each call's solution (scaled Eq. 18 with Eq. 26, x100)"),
        "stage1_bound": ("stage1_call", "1", "best bound of each Stage-1 solve on that objective"),
        "stage1_time_limit_hit": ("stage1_call", "1", "1 where the Stage-1 safety-net clock stopped the solve (the result then depends on the machine)"),
        "stage2_solve_time": ("stage2_call", "s", "Stage-2 radio solve time of each call (its regions' solve times summed)"),
        "stage2_build_time": ("stage2_call", "s", "Stage-2 radio model time of each call: its build at the first call, its update in place at every later one (regions summed)"),
        "stage2_wall_time": ("stage2_call", "s", "wall time of each Stage-2 radio call's model updates and solves (below their sum when regions solve side by side, controller.region_threads)"),
        "stage2_split_users": ("stage2_call", "1", "users the Stage-2 radio solution split over two sites (then rounded)"),
        "stage2_call_time": ("stage2_call", "s", "simulation time of each Stage-2 radio call"),
        "stage2_regions_solved": ("stage2_call", "1", "regions whose radio problem each Stage-2 call solved (the others' inputs had not changed)"),
        "controller_regions": ("stage1_build", "1", "regions the controller solves Stage 1 and the radio problem in (controller.region_max_sites)"),
        "stage2_sla_shortfall": (
            ("stage2_call", "class"), "1", "SLA shortfall of each Stage-2 radio solution: users' shares Eq. 10 obliges it to serve and it cannot"
        ),
        "dispatch_solve_time": ("dispatch_call", "s", "Stage-2 energy dispatch solve time of each call"),
    }
    for key, (dim, units, long_name) in described.items():
        if any(key in s for s in stats):
            dims = (dim,) if isinstance(dim, str) else dim
            coords = {"class": inputs["class"].values} if "class" in dims else None
            array = _pad([s.get(key, np.asarray([])) for s in stats], dims, coords)
            results[key] = array.assign_attrs(units=units, long_name=long_name)

    flat = [(name, e) for name, evs in zip(names, events) for e in evs]
    results = results.assign_coords(solver_event=("solver_event", np.arange(len(flat)), {"long_name": "failed solve index"}))
    for name in results.coords:  # the inputs' coordinates keep their descriptions in the results
        if not results.coords[name].attrs and name in inputs.coords:
            results.coords[name].attrs.update(inputs.coords[name].attrs)
    results["solver_event_strategy"] = (("solver_event",), np.asarray([n for n, _ in flat], dtype=object), {"long_name": "strategy of the failed solve"})
    results["solver_event_time"] = (("solver_event",), np.asarray([e.time_s for _, e in flat], dtype=float), {"units": "s", "long_name": "time of the failed solve"})
    results["solver_event_stage"] = (("solver_event",), np.asarray([e.stage for _, e in flat], dtype=object), {"long_name": "stage1, stage2 or dispatch"})
    results["solver_event_reason"] = (("solver_event",), np.asarray([e.reason for _, e in flat], dtype=object), {"long_name": "solver status; the last feasible decision was kept"})
    results.attrs.update(
        {
            "title": f"msrc outage simulation: {scenario.name}",
            "max_duration_h": scenario.controller.max_duration_h,
            "load_factor": scenario.traffic.load,
        }
    )
    return results


def summary_rows(results: xr.Dataset) -> tuple[list[str], list[list[str]]]:
    """Headings and rows (one per metric, one column per strategy) of the side-by-side summary."""
    strategies = [str(s) for s in results.strategy.values]
    rows = []
    for name, heading, fmt in SUMMARY:
        if name not in results:
            continue
        cells = []
        for s in strategies:
            value = float(results[name].sel(strategy=s))
            if np.isnan(value):
                cells.append(f"> {float(results.attrs.get('max_duration_h', np.nan)):g}" if name.endswith("_time") else "-")
            elif name == "survival_time" and bool(results.survival_censored.sel(strategy=s)):
                cells.append(">= " + fmt.format(value))
            else:
                cells.append(fmt.format(value))
        rows.append([heading, *cells])
    at_h = float(results.table3_time.max()) if "table3_time" in results else TABLE3_TIME_H
    for cls in results["class"].values:
        values = [float(results.served_share_table3.sel(strategy=s, **{"class": cls})) for s in strategies]
        cells = ["-" if np.isnan(v) else f"{v:.1%}" for v in values]  # "-": the class has no users
        rows.append([f"served {cls} at {at_h:.2f} h", *cells])
    return ["metric", *strategies], rows
