"""Stage 1 by LP and rounding (``controller.stage1_method: lp_rounding``): the rounding rule and the calls."""

from __future__ import annotations

import numpy as np
import pytest

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, HELPING, NORMAL, SLEEP
from msrc_model.simulation.controller import MSRCController
from msrc_model.simulation.simulator import State, World

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"


@pytest.fixture(scope="module")
def controller():
    scenario = load_scenario(SMALL, ("controller.max_duration_h=0.5", "controller.stage1_method=lp_rounding")).scenario
    world = World(build_inputs(scenario))
    c = MSRCController(scenario)
    c.reset(world)
    return c


def shares_of(n_site: int, rows: dict[int, tuple[float, float, float, float]]) -> np.ndarray:
    shares = np.zeros((n_site, 4))
    shares[:, NORMAL] = 1.0
    for site, row in rows.items():
        shares[site] = row
    return shares


def test_a_client_gets_helpers_in_order_of_helping_share_until_its_sla_users_are_reached(controller):
    w, data = controller.world, controller.data1
    client = 0  # the centre of the 7-site hex: every other site is a neighbour
    arcs = np.flatnonzero((w.edge_assisted == client) & w.kappa_ok)
    assert arcs.size >= 2
    helpers = w.edge_helper[arcs]
    reach = data.arc_sla_reach_sleep_mbps.values
    need = float(data.site_sla_mbps.values[client])
    # helping shares that order the neighbours by falling reach, so the walk below stops before K_max
    rows = {client: (0.1, 0.0, 0.1, 0.8)}
    order = helpers[np.argsort(-reach[arcs], kind="stable")]
    for rank, site in enumerate(order):
        rows[int(site)] = (0.5, 0.5 - 0.05 * rank, 0.0, 0.0)
    mode = controller.round_modes(shares_of(w.n_site, rows), np.zeros(w.n_site, dtype=bool))
    # expected by hand: walk the neighbours in order, stop once the reach covers the need (or at K_max)
    expected, total = [], 0.0
    for site in order:
        if total >= need - 1e-9 or len(expected) == int(data.max_links):
            break
        arc = arcs[helpers == site][0]
        expected.append(int(site))
        total += reach[arc]
    assert total >= need - 1e-9 and len(expected) < min(int(data.max_links), arcs.size)  # this realisation: an early stop
    if total >= need - 1e-9:
        assert mode[client] == SLEEP
        assert sorted(np.flatnonzero(mode == HELPING).tolist()) == sorted(expected)
    else:
        assert mode[client] == NORMAL and not (mode == HELPING).any()
    assert set(np.unique(mode)) <= {NORMAL, HELPING, SLEEP}


def test_a_client_no_neighbour_can_cover_stays_normal_and_dark_sites_never_help(controller):
    w = controller.world
    client = 0
    dark = np.zeros(w.n_site, dtype=bool)
    dark[w.edge_helper[w.edge_assisted == client]] = True  # every neighbour of the centre is dark
    rows = {client: (0.2, 0.0, 0.7, 0.1)}
    for site in np.flatnonzero(dark):
        rows[int(site)] = (0.0, 1.0, 0.0, 0.0)
    mode = controller.round_modes(shares_of(w.n_site, rows), dark)
    assert mode[client] == NORMAL
    assert not (mode[dark] == HELPING).any()


def test_assisted_when_the_assisted_share_is_the_larger_and_no_sleep_when_told(controller):
    w = controller.world
    neighbours = np.sort(w.edge_helper[(w.edge_assisted == 0) & w.kappa_ok])
    rows = {0: (0.1, 0.0, 0.5, 0.4)}
    rows.update({int(s): (0.0, 1.0, 0.0, 0.0) for s in neighbours})
    mode = controller.round_modes(shares_of(w.n_site, rows), np.zeros(w.n_site, dtype=bool))
    assert mode[0] in (ASSISTED, NORMAL)
    rows[0] = (0.1, 0.0, 0.2, 0.7)
    mode = controller.round_modes(shares_of(w.n_site, rows), np.zeros(w.n_site, dtype=bool), sleep=False)
    assert mode[0] in (ASSISTED, NORMAL)
    # a share of 1/2 exactly is not a client
    rows[0] = (0.5, 0.0, 0.25, 0.25)
    assert controller.round_modes(shares_of(w.n_site, rows), np.zeros(w.n_site, dtype=bool))[0] == NORMAL


def test_each_lp_rounding_call_reports_its_distance_to_the_lp_bound_and_a_valid_plan(controller):
    w = controller.world
    battery = np.linspace(4.5, 12.0, w.n_site)  # uneven batteries: some sites worth saving
    state = State(0, 0.0, battery, w.evs.initial_kwh.copy(), w.parked[:, 0], np.zeros(w.n_site, bool), np.zeros(w.n_site))
    controller.stage1(state)
    gap, bound, objective = controller.stage1_gaps[-1], controller.stage1_bounds[-1], controller.stage1_objectives[-1]
    assert np.isfinite(gap) and gap >= 0.0
    assert bound >= objective - 1e-9
    assert gap == pytest.approx((bound - objective) / abs(objective), abs=1e-12)
    # the plan applied keeps Eqs. 20-21: each client has a linked helping neighbour, each helper a linked client
    mode, links = controller.mode, controller.links
    clients = np.flatnonzero((mode == ASSISTED) | (mode == SLEEP))
    for site in clients:
        assert (links & (w.edge_assisted == site) & (mode[w.edge_helper] == HELPING)).any()
    for site in np.flatnonzero(mode == HELPING):
        assert (links & (w.edge_helper == site)).any()
    # the first block's binaries are free again for the next call
    binary = controller.stage1_problem.handles.mode_first
    assert float(binary.lower.max()) == 0.0 and float(binary.upper.min()) == 1.0


@pytest.mark.parametrize("mip_gap", [0.01, 1e-4])
def test_rounded_start_ends_within_the_gap_of_the_exact_optimum(mip_gap):
    """``rounded_start``: each call's plan is within solver.mip_gap of the optimum found to 1e-6, its bound above it.

    At 1 % the rounded plan often proves itself against the LP bound; at 1e-4 it seldom can, so the branch
    and bound from the start runs.
    """
    overrides = ("controller.max_duration_h=0.5", "controller.stage1_method=rounded_start", f"solver.mip_gap={mip_gap}")
    scenario = load_scenario(SMALL, overrides).scenario
    world = World(build_inputs(scenario))
    c = MSRCController(scenario)
    c.reset(world)
    rng = np.random.default_rng(11)
    for call in range(3):
        battery = rng.uniform(3.0, 12.0, world.n_site)
        state = State(0, 0.0, battery, world.evs.initial_kwh.copy(), world.parked[:, 0], np.zeros(world.n_site, bool), np.zeros(world.n_site))
        c.stage1(state)
        objective, bound, gap = c.stage1_objectives[-1], c.stage1_bounds[-1], c.stage1_gaps[-1]
        assert not c.stage1_net_hit[-1]
        exact = c.stage1_problem.solve(c._options(600.0) | {"mip_rel_gap": 1e-6})  # same state, solved exactly
        assert exact.termination == "optimal"
        assert gap <= mip_gap + 1e-9
        assert objective >= exact.objective - mip_gap * abs(exact.objective) - 1e-7
        assert objective <= exact.objective + 1e-6 * abs(exact.objective) + 1e-7
        assert bound >= exact.objective - 1e-6 * abs(exact.objective) - 1e-7
        binary = c.stage1_problem.handles.mode_first
        assert float(binary.lower.max()) == 0.0 and float(binary.upper.min()) == 1.0  # free for the next call


def test_rounded_start_without_a_rounded_plan_runs_the_plain_mip_heuristics_on(controller, monkeypatch):
    """The started-MIP options (heuristics off) only make sense with a start; without one HiGHS needs its heuristics."""
    from msrc_model.problems.solve import STARTED_MIP_OPTIONS, SolveReport

    calls = []

    class Problem:
        def solve(self, options, start=None):
            calls.append((options, start))
            return SolveReport("ok", "optimal", has_solution=True, gap=0.0)

        def column_values(self):
            return np.ones(3)

    options = {"mip_rel_gap": 0.01, "time_limit": 30.0}
    dark = np.zeros(controller.world.n_site, dtype=bool)
    monkeypatch.setattr(controller, "_stage1_lp_rounding", lambda *args: SolveReport("warning", "infeasible", has_solution=False))
    controller._stage1_rounded_start(Problem(), options, dark)
    (given, start), = calls
    assert 0.0 < given.pop("time_limit") <= options["time_limit"]
    assert given == {"mip_rel_gap": 0.01} and start is None
    calls.clear()
    monkeypatch.setattr(controller, "_stage1_lp_rounding", lambda *args: SolveReport("ok", "optimal", has_solution=True, gap=0.05))
    controller._stage1_rounded_start(Problem(), options, dark)
    (given, start), = calls
    assert 0.0 < given.pop("time_limit") <= options["time_limit"]  # what the rounding left of the clock
    assert given == {**STARTED_MIP_OPTIONS, "mip_rel_gap": 0.01} and np.array_equal(start, np.ones(3))


class ScriptedProblem:
    """A Stage-1 stand-in whose solves take scripted times on a fake clock and give scripted reports."""

    def __init__(self, controller, clock, script):
        import types

        import xarray as xr

        self.clock, self.script, self.limits, self.fixed = clock, list(script), [], []
        shares = xr.DataArray(
            np.zeros((controller.world.n_site, 4, controller.data1.sizes["time"])), dims=("site", "mode", "time"),
            coords={"time": controller.data1.time.values},
        )
        self.block = types.SimpleNamespace(variables={"mode": types.SimpleNamespace(solution=shares)})

    def solve(self, options, start=None):
        self.limits.append(options["time_limit"])
        seconds, report = self.script.pop(0)
        self.clock[0] += seconds
        return report

    def fix_first_modes(self, modes):
        self.fixed.append(modes)

    def column_values(self):
        return np.ones(3)


@pytest.fixture()
def fake_clock(monkeypatch):
    import types

    from msrc_model.simulation import controller as module

    clock = [100.0]
    monkeypatch.setattr(module, "_time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    return clock


def test_the_rounding_and_the_branch_and_bound_share_one_clock(controller, fake_clock):
    """LP 8 s, the rounded plan 7 s and 11 % below the LP's bound: the branch and bound gets the 15 s left of 30."""
    from msrc_model.problems.solve import SolveReport

    script = [
        (8.0, SolveReport("ok", "optimal", has_solution=True, objective=1.0)),
        (7.0, SolveReport("ok", "optimal", has_solution=True, objective=0.9)),
        (15.0, SolveReport("ok", "optimal", has_solution=True, objective=0.95, gap=0.0)),
    ]
    problem = ScriptedProblem(controller, fake_clock, script)
    report = controller._stage1_rounded_start(problem, {"mip_rel_gap": 0.01, "time_limit": 30.0}, np.zeros(controller.world.n_site, bool))
    assert problem.limits == [30.0, 22.0, 15.0]
    assert report.objective == 0.95 and report.solve_time_s == pytest.approx(30.0)


def test_a_rounding_stopped_by_the_clock_ends_the_call(controller, fake_clock):
    """LP 10 s; the rounded modes infeasible (5 s); the assisted variant stopped by the clock with nothing: the
    every-site-normal variant and the branch and bound do not run, so the call ends at its 30 s."""
    from msrc_model.problems.solve import SolveReport

    script = [
        (10.0, SolveReport("ok", "optimal", has_solution=True, objective=1.0)),
        (5.0, SolveReport("warning", "infeasible", has_solution=False)),
        (15.0, SolveReport("warning", "time_limit", has_solution=False)),
    ]
    problem = ScriptedProblem(controller, fake_clock, script)
    report = controller._stage1_rounded_start(problem, {"mip_rel_gap": 0.01, "time_limit": 30.0}, np.zeros(controller.world.n_site, bool))
    assert problem.limits == [30.0, 20.0, 15.0] and not problem.script
    assert report.termination == "time_limit" and not report.has_solution
    assert report.solve_time_s == pytest.approx(30.0)
    assert problem.fixed[-1] is None  # the first block's modes are free again for the next call


def test_the_radio_calls_two_solves_share_one_clock(fake_clock):
    """The radio call's LP and its re-solve with the carriers fixed share the 10-s safety net: with 4 s per solve
    on the fake clock, the re-solve gets the 6 s left (it got the whole 10 s before)."""
    scenario = load_scenario(SMALL, ("controller.max_duration_h=0.5",)).scenario
    assert scenario.controller.stage2_time_limit_s == 10.0 and not scenario.controller.stage2_integer_carriers
    world = World(build_inputs(scenario))
    c = MSRCController(scenario)
    c.reset(world)
    state = State(0, 0.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, 0], np.zeros(world.n_site, bool), np.zeros(world.n_site))
    c.radio(state)  # builds the radio problem
    problem, limits = c.radio_problem, []
    solve = problem.solve

    def timed(options, **kwargs):
        limits.append(options["time_limit"])
        fake_clock[0] += 4.0
        return solve(options, **kwargs)

    problem.solve = timed
    dark = np.zeros(world.n_site, bool)
    dark[1] = True  # new inputs: the same ones would reuse the last solution
    c.radio(State(0, 0.0, state.battery_kwh, state.ev_kwh, state.parked, dark, state.site_power_kw))
    assert limits == [10.0, 6.0]
