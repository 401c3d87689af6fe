"""The full-horizon plan: Eq. 18 over the whole outage with perfect foresight.

``run.mode: plan`` builds one MILP over ``controller.max_duration_h`` in
steps of ``formulation.plan_step_min``, with every EV arrival and every
demand known in advance, lets sites go dark when their energy is spent, and
maximises Eq. 18. It is the reference the online controller is measured
against; its size grows with sites x steps, so it suits small clusters (see
docs/performance.md for the sizes it solves).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import linopy
import numpy as np
import xarray as xr

from ..config.scenario import Scenario
from ..formulation import MSRCBlock, add_msrc, with_block_semantics
from ..physics import DARK, MODE_NAMES
from .solve import PersistentSolver, SolveReport, highs_options, solve_model

MODE_FLAGS = {"flag_values": np.arange(len(MODE_NAMES), dtype=np.int8), "flag_meanings": " ".join(MODE_NAMES)}


def _attrs(units: str, long_name: str, **extra) -> dict:
    return {"units": units, "long_name": long_name, **extra}


@dataclass
class Plan:
    """A built (and possibly solved) full-horizon plan."""

    model: linopy.Model
    block: MSRCBlock
    build_time_s: float


@with_block_semantics
def build_plan(scenario: Scenario, inputs: xr.Dataset) -> Plan:
    """Build the Eq. 18 MILP of a scenario over its whole outage."""
    start = time.perf_counter()
    f = scenario.formulation
    model = linopy.Model()
    aggregation = {"users": False, "class": "class", "site": "site"}[f.plan_aggregation]
    block = add_msrc(
        model,
        inputs,
        step_s=f.plan_step_min * 60.0,
        max_duration_s=scenario.controller.max_duration_h * 3600.0,
        aggregate=aggregation,
        traffic=f.plan_traffic,
        allow_dark=True,
        survival=True,
        exclusive_battery=f.exclusive_battery,
        ev_model=f.plan_ev_model,
    )
    objective = block.eq18(scenario.objective.model_dump())
    model.add_objective(objective - float(objective.const), sense="max")
    return Plan(model, block, time.perf_counter() - start)


def _value(expression) -> xr.DataArray:
    return expression.solution if isinstance(expression, (linopy.Variable, linopy.LinearExpression)) else xr.DataArray(expression)


@with_block_semantics
def block_results(block: MSRCBlock) -> xr.Dataset:
    """The solved block's decisions and flows as a labelled Dataset with units."""
    data, t = block.data, block.time_dim
    v, e = block.variables, block.expressions
    gamma = _value(e["gamma"]).round()
    dark = _value(e["dark"]).round()
    mode = xr.where(dark > 0.5, DARK, gamma.argmax("mode")).astype(np.int8)
    helping = gamma.sel(mode="helping", drop=True) > 0.5
    client = (gamma.sel(mode="assisted", drop=True) + gamma.sel(mode="sleep", drop=True)) > 0.5
    arc_helper = helping.isel(site=data.edge_helper).drop_vars("site")
    arc_client = client.isel(site=data.edge_assisted).drop_vars("site")
    pair_rate = _value(e["pair_rate"]).transpose("pair", t).values
    n_sites, n_classes = data.sizes["site"], data.sizes["class"]
    served = np.zeros((n_sites, n_classes, data.sizes[t]))
    np.add.at(served, (data.pair_site.values, data.user_class.values[data.pair_user.values]), pair_rate)
    demand_class = np.bincount(data.user_class.values, weights=data.demand_mbps.values, minlength=n_classes)
    served_share = served.sum(axis=0) / np.where(demand_class > 0, demand_class, np.nan)[:, None]
    out = xr.Dataset(
        {
            "mode": (("site", t), mode.transpose("site", t).values, _attrs("1", "cooperation mode", **MODE_FLAGS)),
            "band_active": (("site", "band", t), _value(v["band_on"]).round().astype(bool).transpose("site", "band", t).values,
                            _attrs("1", "carrier active z (Eq. 24-25)")),
            "arc_active": (("edge", t), (arc_helper & arc_client).transpose("edge", t).values,
                           _attrs("1", "helper i serves client j: the cooperation link y_ij the modes require (Eq. 23)")),
            "site_power": (("site", t), _value(e["site_power"]).transpose("site", t).values, _attrs("kW", "site power P_i^total (Eq. 4)")),
            "battery_energy": (("site", t), _value(v["battery_energy"]).transpose("site", t).values,
                               _attrs("kWh", "battery energy at the end of the step (Eq. 12)")),
            "battery_power": (("site", t), _value(e["battery_power"]).transpose("site", t).values,
                              _attrs("kW", "net battery discharge power")),
            "served_mbps": (("site", "class", t), served, _attrs("Mbit/s", "traffic the site serves to each class (nu, Eq. 11)")),
            "served_share": (("class", t), served_share, _attrs("1", "served rate over demand, per class")),
        },
        coords={
            "site": data.site.values,
            "band": data.band.values,
            "class": data["class"].values,
            "edge": data.edge.values,
            t: (t, data[t].values, data[t].attrs),
        },
    )
    ev_power = _value(e["ev_power"]).transpose("site", t).values if "ev_power" in e else np.zeros((data.sizes["site"], data.sizes[t]))
    out["ev_power"] = (("site", t), ev_power, _attrs("kW", "net V2G power from EVs to the site (Eq. 15)"))
    return out


@with_block_semantics
def plan_results(plan: Plan, report: SolveReport) -> xr.Dataset:
    """The results Dataset of a plan solve (solver status always; decisions when a solution exists)."""
    block = plan.block
    if report.has_solution:
        out = block_results(block)
        if "network_alive" in block.variables:
            alive = block.variables["network_alive"].solution.round()
            out["network_alive"] = ((block.time_dim,), alive.values.astype(bool), _attrs("1", "network alive n(t): every site powered, SLA met"))
            out["survival_time"] = ((), float(alive.sum()) * float(block.data.time_step_h), _attrs("h", "network survival time T_surv (first site dark)"))
        for name, term in block.objective_terms().items():
            out[f"objective_{name}"] = ((), float(_value(term)), _attrs("1", f"scaled {name} term of Eq. 18"))
    else:
        out = xr.Dataset()
    out["objective"] = ((), report.objective, _attrs("1", "Eq. 18 objective value"))
    out["mip_gap"] = ((), report.gap, _attrs("1", "relative MIP gap at the end of the solve"))
    out["dual_bound"] = ((), report.dual_bound, _attrs("1", "best bound on the objective"))
    out["solve_time"] = ((), report.solve_time_s, _attrs("s", "solver wall time"))
    out["build_time"] = ((), plan.build_time_s, _attrs("s", "model build wall time"))
    out.attrs.update(
        {
            "run_mode": "plan",
            "solver_status": report.status,
            "solver_termination": report.termination,
            "solver_message": report.message,
        }
    )
    return out


def run_plan(scenario: Scenario, inputs: xr.Dataset) -> tuple[xr.Dataset, SolveReport]:
    """Build, solve and collect the plan of one scenario realisation."""
    plan = build_plan(scenario, inputs)
    report = solve_model(plan.model, highs_options(scenario.solver))
    return plan_results(plan, report), report


@dataclass
class SurvivalBound:
    """An upper bound on T_surv for one realisation (:func:`survival_bound`).

    Attributes
    ----------
    bound_h:
        No strategy keeps every site up longer (h): the end of the first step through which the relaxed
        plan cannot keep every site up, or the horizon when it lasts the whole outage (``censored``).
    censored:
        True when every site stays up over the whole horizon: the bound is then at least ``bound_h``.
    steps, step_h:
        The relaxed plan's steps and their length (h).
    build_time_s:
        Time to build the LP (s).
    solve_times_s:
        Solve time (s) of each LP feasibility check made (bisection over the steps).
    """

    bound_h: float
    censored: bool
    steps: int
    step_h: float
    build_time_s: float
    solve_times_s: list[float]


@with_block_semantics
def survival_bound(scenario: Scenario, inputs: xr.Dataset, step_min: float | None = None) -> SurvivalBound:
    """The longest the cluster can keep every site up, in the site-level model with perfect foresight (h).

    The site-level plan (Stage 1's model: power per mode and carrier set, offload flows, Eqs. 6, 9, 10,
    20-23) over the whole outage in steps of ``step_min`` (default ``formulation.plan_step_min``), with
    every EV arrival known (the realised fleet) and the modes as time shares: any rotation of roles within
    a step is allowed. "Every site up until step k" (Eq. 18's n(t) = 1, no site dark) is an LP feasibility
    question; the largest such k is found by bisection, each check a bound update of one LP kept in HiGHS.
    Relaxing the modes only enlarges what the plan may do, so within this model no plan keeps every site
    up longer. The simulator's own physics (every user's SINR under the actual modes) differs from the
    site-level data, so against a simulated T_surv it is the model's bound, not a proof.
    """
    start = time.perf_counter()
    model = linopy.Model()
    step_s = (scenario.formulation.plan_step_min if step_min is None else step_min) * 60.0
    block = add_msrc(
        model, inputs, step_s=step_s, max_duration_s=scenario.controller.max_duration_h * 3600.0,
        traffic="site", ev_model="fleet", allow_dark=True, survival=True, exclusive_battery=False, integer_modes=False,
    )
    alive = block.variables["network_alive"]
    alive.relax()
    model.add_objective(1.0 * block.expressions["survival_time_h"], sense="max")
    built = time.perf_counter() - start
    solver = PersistentSolver(model)
    options = {**highs_options(scenario.solver), "solve_relaxation": True}
    steps = block.data.sizes[block.time_dim]
    times = []

    def up_until(k: int) -> bool:
        """Every site can stay up through the first k steps."""
        lower = xr.DataArray((np.arange(steps) < k).astype(float), coords={block.time_dim: alive.indexes[block.time_dim]})
        alive.update(lower=lower)
        report = solver.solve(options)
        times.append(report.solve_time_s)
        if report.termination not in ("optimal", "infeasible"):
            raise RuntimeError(f"survival bound: the LP for {k} steps ended {report.message}")
        return report.termination == "optimal"

    # search the largest k with every site up through k steps: up through `low` holds, through `high` does not
    low, high = 0, steps
    if up_until(high):
        low = high
    elif up_until(1):
        low = 1
    else:
        high = 1
    while high - low > 1:
        middle = (low + high) // 2
        if up_until(middle):
            low = middle
        else:
            high = middle
    step_h = step_s / 3600.0
    # a site may last into the step that cannot be fully covered: the bound is that step's end
    return SurvivalBound(min(low + 1, steps) * step_h, low == steps, steps, step_h, built, times)
