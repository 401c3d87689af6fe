"""Stage 1 from the plan applied now (``controller.stage1_method: previous_start``)."""

from __future__ import annotations

import numpy as np
import pytest

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, DARK, HELPING, NORMAL, SLEEP
from msrc_model.problems.solve import STARTED_MIP_OPTIONS, SolveReport
from msrc_model.simulation.controller import MSRCController
from msrc_model.simulation.simulator import State, World

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"


def make_controller(*overrides: str) -> MSRCController:
    scenario = load_scenario(SMALL, ("controller.max_duration_h=0.5", "controller.stage1_method=previous_start", *overrides)).scenario
    c = MSRCController(scenario)
    c.reset(World(build_inputs(scenario)))
    return c


def state_of(world: World, battery_kwh: np.ndarray, dark: np.ndarray) -> State:
    return State(0, 0.0, battery_kwh, world.evs.initial_kwh.copy(), world.parked[:, 0], dark, np.zeros(world.n_site))


class RecordingProblem:
    """A stand-in for the Stage-1 problem that records what the method asks of it."""

    def __init__(self, fixed_solution: bool, fixed_termination: str = "infeasible") -> None:
        self.fixed_solution = fixed_solution
        self.fixed_termination = fixed_termination
        self.fixed: list[np.ndarray | None] = []
        self.solves: list[tuple[dict, np.ndarray | None, bool]] = []

    def fix_first_modes(self, modes):
        self.fixed.append(None if modes is None else np.array(modes))

    def solve(self, options, start=None, write_back=True):
        self.solves.append((options, start, write_back))
        fixed_now = self.fixed and self.fixed[-1] is not None
        if fixed_now and not self.fixed_solution:
            return SolveReport("warning", self.fixed_termination, has_solution=False)
        return SolveReport("ok", "optimal", has_solution=True, gap=0.0)

    def column_values(self):
        return np.arange(3.0)


def test_the_modes_applied_now_are_fixed_and_their_completion_is_the_start_of_a_heuristics_off_branch_and_bound():
    c = make_controller()
    w = c.world
    options = {"mip_rel_gap": 0.01, "time_limit": 30.0}
    # site 0 assisted by site 1 (the hex centre and a neighbour), site 2 asleep helped by site 3, the rest normal
    arcs = {(h, a): np.flatnonzero((w.edge_helper == h) & (w.edge_assisted == a))[0] for h, a in ((1, 0), (3, 2))}
    mode = np.full(w.n_site, NORMAL)
    mode[[0, 1, 2, 3]] = [ASSISTED, HELPING, SLEEP, HELPING]
    links = np.zeros(w.n_edge, dtype=bool)
    links[list(arcs.values())] = True
    c.mode, c.links = mode.copy(), links.copy()
    dark = np.zeros(w.n_site, dtype=bool)
    dark[3] = True  # the sleeping site's helper went dark: the sleeper goes normal, the dark site is left free
    problem = RecordingProblem(fixed_solution=True)
    c._stage1_previous_start(problem, options, dark)
    expected = mode.copy()
    expected[2] = NORMAL
    expected[3] = -1
    assert len(problem.fixed) == 2 and problem.fixed[1] is None  # fixed, then freed for the MIP
    assert np.array_equal(problem.fixed[0], expected)
    (first_options, first_start, first_back), (mip_options, mip_start, mip_back) = problem.solves
    assert first_options == options and first_start is None and not first_back  # only its column values are used
    gap = c.scenario.controller.previous_start_gap
    assert gap < options["mip_rel_gap"]
    # the branch and bound has what the fixed solve left of the one clock
    assert 0.0 < mip_options.pop("time_limit") <= options["time_limit"]
    expected_options = {**STARTED_MIP_OPTIONS, **options, "mip_rel_gap": gap}
    del expected_options["time_limit"]
    assert mip_options == expected_options and mip_back
    assert np.array_equal(mip_start, np.arange(3.0))


def test_without_a_completion_of_the_modes_applied_now_the_plain_mip_runs_heuristics_on():
    c = make_controller()
    options = {"mip_rel_gap": 0.01, "time_limit": 30.0}
    problem = RecordingProblem(fixed_solution=False)
    report = c._stage1_previous_start(problem, options, np.zeros(c.world.n_site, dtype=bool))
    assert report.has_solution
    assert problem.fixed[-1] is None
    given, start, write_back = problem.solves[-1]
    assert 0.0 < given.pop("time_limit") <= options["time_limit"]
    assert given == {"mip_rel_gap": 0.01} and start is None and write_back


def test_a_fixed_solve_stopped_by_the_clock_ends_the_call_within_it():
    """The two solves share one safety-net clock: found on the city scenario, where the fixed solve alone hit it."""
    c = make_controller()
    options = {"mip_rel_gap": 0.01, "time_limit": 30.0}
    problem = RecordingProblem(fixed_solution=False, fixed_termination="time_limit")
    report = c._stage1_previous_start(problem, options, np.zeros(c.world.n_site, dtype=bool))
    assert len(problem.solves) == 1 and problem.fixed[-1] is None
    assert report.termination == "time_limit" and not report.has_solution


@pytest.mark.parametrize("mip_gap", [0.01, 1e-4])
def test_previous_start_ends_within_the_gap_of_the_exact_optimum(mip_gap):
    """Each call's plan is within the gap of the optimum found to 1e-6 and its bound is above that optimum.

    The calls follow each other as in a run (each starts from the plan the last one applied), with random
    batteries and a dark site, and one call starts from an arbitrary plan that is far from optimal.
    """
    c = make_controller(f"solver.mip_gap={mip_gap}", f"controller.previous_start_gap={mip_gap}")
    world = c.world
    rng = np.random.default_rng(5)
    for call in range(4):
        dark = np.zeros(world.n_site, dtype=bool)
        if call >= 2:
            dark[rng.integers(world.n_site)] = True
        if call == 3:  # a plan the optimum does not keep: every site sleeping but one helping, no links
            c.mode = np.where(np.arange(world.n_site) == 0, HELPING, SLEEP)
            c.links = np.zeros(world.n_edge, dtype=bool)
        battery = np.where(dark, 0.0, rng.uniform(2.0, 12.0, world.n_site))
        c.stage1(state_of(world, battery, dark))
        objective, bound, gap = c.stage1_objectives[-1], c.stage1_bounds[-1], c.stage1_gaps[-1]
        assert not c.stage1_net_hit[-1]
        assert not c.events, c.events
        exact = c.stage1_problem.solve(c._options(600.0) | {"mip_rel_gap": 1e-6})  # the same state, solved exactly
        assert exact.termination == "optimal"
        assert gap <= mip_gap + 1e-9
        assert objective >= exact.objective - mip_gap * abs(exact.objective) - 1e-7
        assert objective <= exact.objective + 1e-6 * abs(exact.objective) + 1e-7
        assert bound >= exact.objective - 1e-6 * abs(exact.objective) - 1e-7
        assert not np.any(c.mode[dark] == DARK)  # the applied plan names modes, dark sites are the state's
        binary = c.stage1_problem.handles.mode_first
        assert float(binary.lower.max()) == 0.0 and float(binary.upper.min()) == 1.0  # free for the next call
