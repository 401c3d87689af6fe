"""Tiny MSRC instances whose optimum is worked out by hand."""

from __future__ import annotations

import linopy
import numpy as np
import pytest
import xarray as xr

from conftest import tiny_scenario
from msrc_model.formulation import add_msrc
from msrc_model.inputs.geometry import assistance_potential
from msrc_model.inputs import build_inputs
from msrc_model.physics import DARK
from msrc_model.problems.plan import block_results
from msrc_model.problems.solve import solve_model

QUIET = {"log_to_console": False, "output_flag": False, "mip_rel_gap": 1e-4, "time_limit": 120.0}
NORMAL, HELPING, ASSISTED, SLEEP = range(4)
WEIGHTS = {"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1}


def tiny_inputs(tmp_path, sites: list[tuple[str, float, float]], extra: str = "", traffic: str = ""):
    scenario = tiny_scenario(tmp_path, sites, traffic=traffic, extra=extra)
    return scenario, build_inputs(scenario)


def plan(inputs, usable_kwh: dict[str, float], **kwargs):
    """Solve Eq. 18 over the horizon in 30-min steps, with the given usable battery energy per site."""
    floor = float(inputs.battery_soc_min) * inputs.battery_capacity_kwh
    usable = xr.DataArray([usable_kwh.get(s, 12.0) for s in inputs.site.values], dims="site", coords={"site": inputs.site})
    m = linopy.Model()
    block = add_msrc(
        m, inputs, step_s=1800, max_duration_s=2 * 3600, allow_dark=True,
        initial_battery_kwh=floor + usable, **kwargs,
    )
    objective = block.eq18(WEIGHTS)
    m.add_objective(objective - float(objective.const), sense="max")
    report = solve_model(m, QUIET)
    return block, report


def test_empty_battery_sleeps_and_neighbour_helps(tmp_path):
    """B has 0.5 kWh above its floor: 2 h of normal (~3.6 kW) or assisted (~1 kW) service would need
    several kWh, deep sleep needs 0.1 kW x 2 h / 0.95 = 0.21 kWh. So B sleeps throughout, and A,
    500 m away (kappa = 1), must help it (Eq. 21) to keep B's users served."""
    _, inputs = tiny_inputs(tmp_path, [("A", 0, 0), ("B", 500, 0)])
    block, report = plan(inputs, {"B": 0.5})
    assert report.termination == "optimal"
    result = block_results(block)
    assert (result.mode.sel(site="B") == SLEEP).all()
    assert (result.mode.sel(site="A") == HELPING).all()
    helper = inputs.site.values[inputs.edge_helper.values]
    arc_a_to_b = int(np.flatnonzero(helper == "A")[0])
    assert bool(result.arc_active.isel(edge=arc_a_to_b).all())  # A -> B linked (Eq. 23)
    assert not bool(result.arc_active.isel(edge=1 - arc_a_to_b).any())  # B never helps A
    assert float(block.variables["network_alive"].solution.sum()) == 4  # alive all four 30-min steps
    # B's energy: 2 h x 0.1 kW / 0.95 drawn from 0.5 kWh
    b_end = float(result.battery_energy.sel(site="B").isel(time=-1)) - 4.0
    assert b_end == pytest.approx(0.5 - 2 * 0.1 / 0.95, abs=1e-6)


def test_site_without_capable_helper_never_sleeps(tmp_path):
    """900 m apart with R_exp = 1000 m and R_nom = 600 m: kappa = lens / (pi 600^2) < 1.
    B's 1 kWh cannot keep it awake for 2 h (at least about 1 kW with one band on). With kappa_min
    above kappa, Eq. 21 forbids B to be assisted or asleep however low its battery; with the
    paper's kappa_min = 0.3 it sleeps."""
    kappa = float(assistance_potential(900.0, 1000.0, 600.0))
    assert 0.3 < kappa < 0.9
    for kappa_min, may_sleep in ((0.3, True), (0.9, False)):
        _, inputs = tiny_inputs(
            tmp_path, [("A", 0, 0), ("B", 900, 0)],
            f"cooperation: {{nominal_radius_m: 600, kappa_min: {kappa_min}}}\n",
        )
        assert bool(inputs.kappa_ok.all()) is may_sleep
        block, report = plan(inputs, {"B": 1.0})
        assert report.has_solution
        mode_b = block_results(block).mode.sel(site="B")
        assert bool(mode_b.isin([ASSISTED, SLEEP]).any()) is may_sleep


def test_link_limit_binds(tmp_path):
    """B and C (500 m either side of A, not neighbours of each other) can each run one 30-min step
    in normal mode (1 kWh; at least about 1 kW with one band on) but not 2 h: both want to sleep with A helping. With K_max = 2 both do,
    all the time; with K_max = 1 A links to one of them only (Eqs. 22-23), so at most one sleeps at a
    time and the network cannot last as long."""
    sites = [("A", 0, 0), ("B", -500, 0), ("C", 500, 0)]
    outcome = {}
    for k_max in (2, 1):
        _, inputs = tiny_inputs(tmp_path, sites, f"cooperation: {{coop_radius_m: 600, max_links: {k_max}}}\n")
        block, report = plan(inputs, {"B": 1.0, "C": 1.0})
        assert report.has_solution
        modes = block_results(block).mode
        clients = modes.sel(site=["B", "C"]).isin([ASSISTED, SLEEP]).sum("site")
        outcome[k_max] = (int(clients.max()), float(block.variables["network_alive"].solution.sum()))
    assert outcome[2] == (2, 4.0)
    assert outcome[1][0] == 1
    assert outcome[1][1] < outcome[2][1]


def test_unmeetable_sla_is_infeasible_and_named(tmp_path):
    """Ten users each needing 150 Mbit/s at least (min rate = demand), all around one site:
    1,500 Mbit/s of SLA traffic against 770 Mbit/s of capacity (Eq. 9) cannot be met (Eq. 10)."""
    _, inputs = tiny_inputs(
        tmp_path, [("A", 0, 0)],
        traffic="  classes:\n" + "".join(f"    {c}: {{share: 0}}\n" for c in ("emergency", "voice", "essential", "best_effort"))
        + "    heavy:\n      share: 1.0\n      weight: 10\n"
        "      demand: {distribution: constant, rate_mbps: 150}\n      min_rate_fraction: 1.0\n",
    )
    m = linopy.Model()
    modes = xr.DataArray([[NORMAL]], dims=("site", "time"), coords={"site": inputs.site, "time": [0.0]})
    add_msrc(m, inputs, step_s=30, max_duration_s=30, fixed_modes=modes)
    m.add_objective(1 * m.variables["msrc-association"].sum(), sense="max")
    report = solve_model(m, QUIET)
    assert report.termination == "infeasible"
    assert not report.has_solution
    assert any(name.startswith("msrc-eq10_sla") for name in report.conflicts), report.conflicts
    assert any(name.startswith("msrc-eq9_capacity") for name in report.conflicts), report.conflicts


def test_dark_sites_draw_nothing_and_end_survival(tmp_path):
    """A lone site with 1 kWh cannot run 2 h (even asleep it needs help it cannot get: no
    neighbour), so it goes dark; from then on it draws 0 kW and the network is not alive."""
    _, inputs = tiny_inputs(tmp_path, [("A", 0, 0)])
    block, report = plan(inputs, {"A": 1.0})
    assert report.has_solution
    result = block_results(block)
    dark = result.mode.sel(site="A") == DARK
    assert bool(dark.any())
    np.testing.assert_allclose(result.site_power.sel(site="A").where(dark, drop=True), 0.0, atol=1e-9)
    alive = block.variables["network_alive"].solution.values
    assert alive[0] == 1 and alive[-1] == 0
    assert bool((np.diff(alive) <= 0).all())
