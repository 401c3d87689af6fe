"""The upper bound on T_surv (problems.plan.survival_bound) on the 7-site scenario."""

from __future__ import annotations

import pytest

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.problems.plan import survival_bound
from msrc_model.simulation.outage import run_outage

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"


def scenario_at(soc: float, hours: float = 1.0):
    return load_scenario(SMALL, (f"battery.soc_initial={soc}", f"controller.max_duration_h={hours}")).scenario


@pytest.fixture(scope="module")
def bounds():
    return {soc: survival_bound(scenario_at(soc), build_inputs(scenario_at(soc)), 15.0) for soc in (0.22, 0.25, 0.3)}


def test_no_strategy_outlasts_the_bound(bounds):
    scenario = scenario_at(0.25)
    bound = bounds[0.25]
    assert not bound.censored and bound.bound_h < 1.0  # the case bites: some site must go dark within the run
    results = run_outage(scenario, build_inputs(scenario))
    for strategy in results.strategy.values:
        assert float(results.survival_time.sel(strategy=strategy)) <= bound.bound_h + 1e-9, strategy


def test_the_bound_grows_with_the_energy_and_is_censored_at_the_horizon(bounds):
    assert bounds[0.22].bound_h <= bounds[0.25].bound_h <= bounds[0.3].bound_h
    assert bounds[0.22].bound_h < bounds[0.3].bound_h
    assert bounds[0.3].censored and bounds[0.3].bound_h == pytest.approx(1.0)
    # bisection: about log2(steps) + 2 LPs, not one per step
    assert all(len(b.solve_times_s) <= 2 + b.steps.bit_length() for b in bounds.values())


def test_a_bound_is_a_whole_number_of_steps(bounds):
    for b in bounds.values():
        assert b.step_h == pytest.approx(0.25)
        assert b.bound_h / b.step_h == pytest.approx(round(b.bound_h / b.step_h))
        assert 0 < b.bound_h <= b.steps * b.step_h + 1e-9
