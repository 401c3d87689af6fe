"""Stage-2 and Stage-1 problems built from the blocks, on the paper scenario."""

from __future__ import annotations

import linopy
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from msrc_model.formulation import model_data
from msrc_model.problems.plan import block_results
from msrc_model.problems.solve import PersistentSolver, solve_model
from msrc_model.problems.stages import build_stage1, build_stage2

WEIGHTS = {"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1}
# the clock is only a safety net far beyond any solve here: every test stops by work (a gap, optimality or
# a number of improving solutions), so what it checks does not depend on the machine's speed
OPTIONS = {"time_limit": 600.0, "mip_rel_gap": 0.01, "log_to_console": False, "output_flag": False}
# the constraint checks below hold for any feasible point: stop at the first improving solution
FEASIBLE_OPTIONS = {**OPTIONS, "mip_max_improving_sols": 1}
# as the controller solves Stage 1: stop at the first improving solution (a work limit), or at a 5 % gap
STAGE1_OPTIONS = {**OPTIONS, "mip_rel_gap": 0.05, "mip_max_improving_sols": 1}


def mixed_modes(inputs):
    modes = np.zeros(inputs.sizes["site"], dtype=int)
    modes[[0, 1, 3, 5]] = 1  # centre and three ring-1 sites help
    modes[[2, 4, 6]] = 3  # their other ring-1 neighbours sleep
    return xr.DataArray(modes[:, None], dims=("site", "time"), coords={"site": inputs.site, "time": [0.0]})


def test_stage2_solution_respects_the_paper_constraints(paper_inputs):
    data = model_data(paper_inputs, step_s=30, max_duration_s=30)
    modes = mixed_modes(paper_inputs)
    model, block = build_stage2(data, modes, WEIGHTS)
    report = solve_model(model, FEASIBLE_OPTIONS)
    assert report.has_solution and report.termination != "time_limit"
    x = block.variables["association"].solution
    assert bool((np.isclose(x, 0, atol=1e-6) | np.isclose(x, 1, atol=1e-6)).all())
    per_user = x.groupby(block.data.pair_user.rename("user")).sum()
    assert float(per_user.max()) <= 1 + 1e-6  # no user on two sites
    z = block.variables["band_on"].solution
    assert bool((np.isclose(z, 0, atol=1e-6) | np.isclose(z, 1, atol=1e-6)).all())
    results = block_results(block)
    asleep = modes.isel(time=0) == 3
    assert not bool(results.band_active.sel(site=asleep.values).any())  # Eq. 24
    np.testing.assert_allclose(results.site_power.sel(site=asleep.values), 0.1, rtol=1e-6)  # P_sleep
    # capacity (Eq. 9): what a site serves fits its active bands, less the helping overhead
    capacity = (block.data.capacity_mbps * results.band_active).sum("band")
    overhead = 1 - 0.05 * (modes == 1)
    assert bool((results.served_mbps.sum("class") <= capacity * overhead + 1e-6).all())
    # every SLA user the modes can reach is served at its minimum rate (Eq. 10)
    rate = block.expressions["pair_rate"].solution
    minimum = block.data.min_rate_mbps.isel(user=block.data.pair_user).drop_vars("user")
    assert bool((rate >= minimum * x - 1e-6).all())


def test_stage1_problem_builds_from_the_blocks(paper_inputs):
    """Stage 1: site-level modes over 2 blocks of 3 h, binary in the first block only (move blocking)."""
    data = model_data(paper_inputs, step_s=3 * 3600, max_duration_s=6 * 3600)
    problem = build_stage1(data, WEIGHTS, integer_blocks=1)
    model, block = problem.model, problem.block
    assert block.data.sizes["time"] == 2
    assert {
        "msrc-eq19_one_mode", "msrc-eq21_client_needs_helper", "msrc-eq26_min_over_sites",
        "msrc-eq20_offload_needs_helping", "msrc-eq9_offload_room", "msrc-eq10_site_sla",
    } <= set(model.constraints)
    assert not model.variables["msrc-mode"].attrs["binary"]  # relaxed: shares after the first block
    assert model.variables["msrc-mode_binary_blocks"].attrs["binary"]
    assert model.objective.sense == "max"
    report = solve_model(model, STAGE1_OPTIONS)
    assert report.has_solution
    gamma = block.variables["mode"].solution.isel(time=0)
    assert bool((np.isclose(gamma, 0, atol=1e-6) | np.isclose(gamma, 1, atol=1e-6)).all())
    # site power in the first block: the per-mode powers of the modes chosen (normal: on the carrier set
    # chosen, Eq. 24), plus helpers' extra traffic
    sets = block.variables["carrier_set"].solution.isel(time=0).fillna(0.0)
    np.testing.assert_allclose(sets.sum("carrier_set"), gamma.sel(mode="normal"), atol=1e-6)
    others = [m for m in block.data.mode.values if m != "normal"]
    chosen = (block.data.site_mode_power_kw.sel(mode=others) * gamma.sel(mode=others)).sum("mode") + (
        block.data.site_carrier_set_power_kw * sets
    ).sum("carrier_set")
    power = block.expressions["site_power"].solution.isel(time=0)
    assert bool((power >= chosen - 1e-6).all())


def test_stage1_with_unequal_blocks_integrates_energy_over_each_block(paper_inputs):
    """Move blocking: a 15-min block then two of 2.875 h; the battery balance uses each block's length."""
    steps = [900.0, 10350.0, 10350.0]
    data = model_data(paper_inputs, steps_s=steps)
    np.testing.assert_allclose(data.time.values, [0.0, 900.0, 11250.0])
    np.testing.assert_allclose(data.time_step_h.values, np.asarray(steps) / 3600.0)
    problem = build_stage1(data, WEIGHTS, integer_blocks=1, every_step=True)
    model, block = problem.model, problem.block
    report = solve_model(model, STAGE1_OPTIONS)
    assert report.has_solution
    energy = block.variables["battery_energy"].solution.transpose("site", "time").values
    start = (paper_inputs.battery_soc_initial * paper_inputs.battery_capacity_kwh).values
    flow = (0.95 * block.variables["battery_charge"].solution - block.variables["battery_discharge"].solution / 0.95)
    expected = start[:, None] + np.cumsum(flow.transpose("site", "time").values * np.asarray(steps) / 3600.0, axis=1)
    np.testing.assert_allclose(energy, expected, atol=1e-6)
    # Eq. 26 over every block end: s is at most every alive site's remaining time at every block end
    s = float(block.expressions["eq26_min_remaining_time_h"].solution)
    power = block.data.site_mode_power_kw.sel(mode="normal", drop=True).values
    floor = 0.2 * paper_inputs.battery_capacity_kwh.values
    assert s <= ((energy - floor[:, None]) / power[:, None]).min() + 1e-6


def _small_stage1_data():
    from conftest import REPO

    from msrc_model.config.loader import load_scenario
    from msrc_model.inputs import build_inputs

    inputs = build_inputs(load_scenario(REPO / "models" / "small.yaml").scenario)
    return inputs, model_data(inputs, steps_s=[900.0, 10350.0, 10350.0]).isel(ev=[])


def test_stage1_state_set_through_handles_equals_a_fresh_build():
    """A Stage-1 model updated through its handles solves to the same optimum as one built with that state."""
    inputs, data = _small_stage1_data()
    sites = data.site
    battery = xr.DataArray(np.linspace(6.0, 14.0, sites.size), coords={"site": sites})
    dark = xr.DataArray(np.arange(sites.size) == 2, coords={"site": sites})
    mode_before = xr.DataArray(np.array([1, 0, 4, 2, 0, 3, 0]), coords={"site": sites})
    grid = {"site": sites, "time": data.time}
    fleet = (xr.DataArray(np.full((sites.size, 3), 2.0), coords=grid), xr.DataArray(np.tile([1.0, 3.0, 5.0], (sites.size, 1)), coords=grid))
    options = {**OPTIONS, "mip_rel_gap": 1e-6}

    fresh = build_stage1(
        data, WEIGHTS, initial_battery_kwh=battery, ev_fleet=fleet, initial_mode=mode_before,
        dark=dark, integer_blocks=1, every_step=True,
    )
    zeros = xr.zeros_like(fleet[0])
    updated = build_stage1(
        data, WEIGHTS, initial_battery_kwh=battery * 0 + 16.0, ev_fleet=(zeros, zeros),
        dark=xr.zeros_like(dark), integer_blocks=1, every_step=True,
    )
    first = solve_model(updated.model, options).objective  # solved once from another state, as the controller does
    updated.set_state(battery_kwh=battery, ev_fleet=fleet, dark=dark, mode_before=mode_before)
    a, b = solve_model(fresh.model, options), solve_model(updated.model, options)
    assert a.termination == b.termination == "optimal"
    assert b.objective == pytest.approx(a.objective, rel=1e-5, abs=1e-6)
    assert b.objective != pytest.approx(first, rel=1e-3)  # the update changed the problem
    # the dark site stays dark
    assert bool((updated.block.variables["dark"].solution.sel(site=sites[2]) == 1).all())
    # the dark site's Eq. 26 rows are off, with a finite right-hand side
    rhs = updated.handles.eq26_min_over_sites.rhs
    assert np.isfinite(rhs).all() and bool((rhs.sel(site=sites[2]) == updated.handles.eq26_off_rhs.sel(site=sites[2])).all())


def test_stage1_kept_in_highs_between_calls_equals_a_fresh_build():
    """The Stage-1 model kept built in HiGHS (only bounds and right-hand sides passed on) solves each new state as a fresh build."""
    inputs, data = _small_stage1_data()
    sites = data.site
    grid = {"site": sites, "time": data.time}
    options = {**OPTIONS, "mip_rel_gap": 1e-6}
    zeros = xr.DataArray(np.zeros((sites.size, 3)), coords=grid)
    kept = build_stage1(
        data, WEIGHTS, initial_battery_kwh=xr.DataArray(np.full(sites.size, 16.0), coords={"site": sites}),
        ev_fleet=(zeros, zeros), dark=xr.DataArray(np.zeros(sites.size, dtype=bool), coords={"site": sites}),
        integer_blocks=1, every_step=True,
    )
    solver = PersistentSolver(kept.model)
    rng = np.random.default_rng(7)
    objectives = []
    for call in range(4):
        battery = xr.DataArray(rng.uniform(4.5, 16.0, sites.size), coords={"site": sites})
        dark = xr.DataArray(np.arange(sites.size) == call, coords={"site": sites}) if call else xr.zeros_like(battery, dtype=bool)
        mode_before = xr.DataArray(rng.integers(0, 4, sites.size), coords={"site": sites}).where(~dark, 4)
        fleet = (xr.DataArray(rng.uniform(0.0, 7.0, (sites.size, 3)), coords=grid), xr.DataArray(np.cumsum(rng.uniform(0.0, 4.0, (sites.size, 3)), axis=1), coords=grid))
        fresh = build_stage1(
            data, WEIGHTS, initial_battery_kwh=battery, ev_fleet=fleet, initial_mode=mode_before,
            dark=dark, integer_blocks=1, every_step=True,
        )
        kept.set_state(battery_kwh=battery, ev_fleet=fleet, dark=dark, mode_before=mode_before)
        a, b = solve_model(fresh.model, options), solver.solve(options)
        assert a.termination == b.termination == "optimal"
        assert b.objective == pytest.approx(a.objective, rel=1e-5, abs=1e-6)
        energy_a = fresh.block.variables["battery_energy"].solution
        energy_b = kept.block.variables["battery_energy"].solution
        assert float(energy_b.isel(time=0).sum()) == pytest.approx(float(energy_a.isel(time=0).sum()), rel=1e-6)
        assert bool((kept.block.variables["dark"].solution.values[dark.values] == 1).all())
        objectives.append(b.objective)
    assert solver.rebuilds == 0  # every call changed only data: HiGHS kept its model
    assert len(set(np.round(objectives, 6))) == len(objectives)  # each state is a different problem


def test_loosest_rhs_switches_a_row_off():
    import linopy
    import pandas as pd
    import pytest as _pytest

    from msrc_model.formulation.context import loosest_rhs

    m = linopy.Model()
    i = pd.Index([0, 1], name="i")
    x = m.add_variables(lower=0.0, upper=2.0, coords=[i], name="x")
    y = m.add_variables(lower=-1.0, upper=3.0, name="y")
    row = m.add_constraints(x - 2 * y <= -10.0, name="row")
    # largest of x - 2y within the bounds: 2 - 2 x (-1) = 4 in each row
    np.testing.assert_allclose(loosest_rhs(m, row), [4.0, 4.0])
    row.update(rhs=loosest_rhs(m, row))
    m.add_objective((x - 2 * y).sum(), sense="max")
    report = solve_model(m, {"log_to_console": False, "output_flag": False})
    assert report.has_solution and report.objective == _pytest.approx(8.0)  # the row no longer binds
    z = m.add_variables(lower=0.0, name="z")
    with _pytest.raises(ValueError, match="infinite"):
        loosest_rhs(m, m.add_constraints(z <= 1.0, name="open"))
    with _pytest.raises(ValueError, match="<="):
        loosest_rhs(m, m.add_constraints(x >= 1.0, name="ge"))


def test_stage1_reach_counts_only_users_the_helper_can_serve(paper_inputs):
    """Per arc, the reach is the demand of the client's best-served users that the helper has a
    candidate pair with and reaches at Gamma_min with the client asleep (checked user by user)."""
    from msrc_model.physics import RadioChannel, best_servers
    from msrc_model.formulation.site_level import site_level_data

    data = site_level_data(model_data(paper_inputs, steps_s=[900.0]))
    channel = RadioChannel.from_data(paper_inputs)
    every = np.ones((paper_inputs.sizes["site"], paper_inputs.sizes["band"]), dtype=bool)
    pair_user, pair_site = paper_inputs.pair_user.values, paper_inputs.pair_site.values
    best, _ = best_servers(channel, pair_user, pair_site, every)
    pairs = set(zip(pair_user.tolist(), pair_site.tolist()))
    demand = paper_inputs.demand_mbps.values
    gamma_min = float(paper_inputs.sinr_min_db)
    reach = data.arc_reach_sleep_mbps.values
    for arc in range(0, paper_inputs.sizes["edge"], 7):  # a sample of arcs, by a plain loop
        helper, client = int(paper_inputs.edge_helper[arc]), int(paper_inputs.edge_assisted[arc])
        expected = 0.0
        for user in np.flatnonzero(best == client):
            if (user, helper) not in pairs:
                continue
            quiet = every.copy()
            quiet[client] = False
            sinr = channel.sinr_db(np.array([user]), np.array([helper]), quiet)[0]
            expected += demand[user] if (sinr >= gamma_min).any() else 0.0
        assert reach[arc] == pytest.approx(expected, rel=1e-9, abs=1e-9), arc
    assert reach.max() > 0


def _knapsack(n: int = 40):
    import linopy
    import pandas as pd

    rng = np.random.default_rng(3)
    weight = rng.uniform(1.0, 10.0, n)
    value = weight + rng.uniform(0.0, 3.0, n)
    m = linopy.Model()
    x = m.add_variables(binary=True, coords=[pd.Index(range(n), name="i")], name="x")
    m.add_constraints((x * weight).sum() <= weight.sum() / 2, name="capacity")
    m.add_objective((x * value).sum(), sense="max")
    return m, value


def test_persistent_solver_options_hold_for_one_solve_only():
    """An option set for one solve (here an LP relaxation) is not left on the HiGHS model for the next."""
    model, _ = _knapsack()
    solver = PersistentSolver(model)
    options = {**OPTIONS, "mip_rel_gap": 0.0}
    relaxed = solver.solve({**options, "solve_relaxation": True})
    exact = solver.solve(options)
    assert exact.termination == "optimal" and exact.gap == pytest.approx(0.0, abs=1e-9)
    assert relaxed.objective > exact.objective + 1e-3  # the relaxation's bound is strictly above the knapsack's optimum
    x = model.variables["x"].solution.values
    assert bool((np.isclose(x, 0.0) | np.isclose(x, 1.0)).all())


def test_persistent_solver_start_is_the_incumbent_in_highs_column_order():
    """A start given in HiGHS's column order is what a MIP stopped before branching returns."""
    from msrc_model.problems.solve import STARTED_MIP_OPTIONS

    model, value = _knapsack()
    solver = PersistentSolver(model)
    options = {**OPTIONS, **STARTED_MIP_OPTIONS, "mip_rel_gap": 0.0, "presolve": "off", "mip_max_nodes": 0}
    solver.solve({**OPTIONS, "mip_rel_gap": 0.0})
    optimum = solver.column_values()
    start = np.zeros_like(optimum)
    start[[0, 5]] = 1.0  # a poor but feasible packing
    report = solver.solve(options, start=start)
    assert report.has_solution
    assert report.objective == pytest.approx(value[0] + value[5], rel=1e-9)
    assert np.allclose(model.variables["x"].solution.values, start)


def test_a_solve_without_write_back_leaves_the_model_as_it_was_and_reports_its_own_result():
    """``write_back=False``: the solution stays in HiGHS; the report and the column values are this solve's."""
    model, value = _knapsack()
    solver = PersistentSolver(model)
    options = {**OPTIONS, "mip_rel_gap": 0.0}
    exact = solver.solve(options)
    kept = model.variables["x"].solution.values.copy()
    upper = xr.ones_like(model.variables["x"].upper)
    upper[0] = 0.0
    model.variables["x"].update(upper=upper)
    worse = solver.solve(options, write_back=False)  # item 0 barred: another optimum, lower
    assert worse.has_solution and worse.termination == "optimal"
    assert worse.objective < exact.objective - 1e-9
    assert np.array_equal(model.variables["x"].solution.values, kept)  # the model's values are the first solve's
    columns = solver.column_values()
    assert columns[0] == 0.0 and float(columns @ value) == pytest.approx(worse.objective, rel=1e-9)
    assert model.termination_condition == "optimal" and model.objective.value == pytest.approx(exact.objective)


def test_a_kept_lp_gets_its_time_limit_at_every_solve_not_once_for_all():
    """HiGHS sums an LP's run time over every solve of a kept model; each solve still gets the whole limit.

    Found on the default run: after about 10 s of radio solves in all, every later radio solve of the kept
    model stopped at once at the 10-s limit with no solution.
    """
    rng = np.random.default_rng(0)
    model = linopy.Model()
    x = model.add_variables(lower=0.0, upper=10.0, coords=[pd.RangeIndex(600, name="i")], name="x")
    rows = pd.RangeIndex(400, name="r")
    pick = xr.DataArray(rng.integers(0, 600, size=(400, 20)), dims=("r", "k"), coords={"r": rows})
    weight = xr.DataArray(rng.random((400, 20)) + 0.1, dims=("r", "k"), coords={"r": rows})
    model.add_constraints((weight * x.isel(i=pick)).sum("k") <= 1.0 + xr.DataArray(rng.random(400), coords=[rows]), name="rows")
    model.add_objective(-(xr.DataArray(rng.random(600), coords=[x.indexes["i"]]) * x).sum())
    solver = PersistentSolver(model)
    longest, summed = 0.0, 0.0
    for _ in range(6):
        report = solver.solve({**OPTIONS, "time_limit": 600.0}, cold_start=True)
        assert report.termination == "optimal"
        run_time = solver.solver.solver_model.getRunTime()  # HiGHS's own clock, summed over the solves
        longest, summed = max(longest, run_time - summed), run_time
    # a limit three times the longest solve, below the 6 solves' run time summed
    assert summed > 3 * longest
    again = solver.solve({**OPTIONS, "time_limit": 3 * longest}, cold_start=True)
    assert again.termination == "optimal" and again.has_solution, again.message


def test_every_solve_uses_one_thread_unless_told_otherwise():
    """Reproducible on any machine: HiGHS is given one thread by default, not a count taken from the machine's cores."""
    from msrc_model.config.scenario import Solver
    from msrc_model.problems.solve import highs_options

    assert highs_options(Solver())["threads"] == 1
    assert highs_options(Solver(threads=3))["threads"] == 3
    assert "threads" not in highs_options(Solver(threads=None))
