"""Eq. 18's survival term (n(t), T_surv^min) worked out by hand, and the objectives' constraint names.

A two-site cluster on site-level traffic over three unequal steps (0.5, 0.5 and 1 h, so
H = 2 h): site B is forced dark from the second step on. The network-alive indicator n(t)
may be 1 only while no site is dark and never again after a first failure, n(0) = 1, and
T_surv^min = sum_t n(t) Delta t (h).
"""

from __future__ import annotations

import linopy
import numpy as np
import pytest
from test_objectives import FLOOR_KWH, normal_modes, site_array, solve, tiny_inputs, weights

from msrc_model.formulation import add_msrc, block_semantics, model_data
from msrc_model.formulation.site_level import site_level_data
from msrc_model.problems.stages import build_stage2

STEPS_S = [1800.0, 1800.0, 3600.0]  # 0.5 h, 0.5 h, 1 h


@pytest.fixture(scope="module")
def three_step_data(tmp_path_factory):
    inputs = tiny_inputs(tmp_path_factory.mktemp("three"), [("A", 0, 0), ("B", 500, 0)], users=6)
    return site_level_data(model_data(inputs, steps_s=STEPS_S))


@pytest.fixture(scope="module")
def radio_data(tmp_path_factory):
    """One site, four users, one 30-s step (the radio problem's data)."""
    inputs = tiny_inputs(tmp_path_factory.mktemp("radio"), [("A", 0, 0)], users=4)
    return model_data(inputs, step_s=30, max_duration_s=30)


def eq18_block(data):
    model = linopy.Model()
    block = add_msrc(model, data, traffic="site", allow_dark=True, initial_battery_kwh=site_array(data, FLOOR_KWH + np.array([12.0, 12.0])))
    return model, block


def solve_survival(model, block, sense: str):
    with block_semantics():
        objective = block.eq18(weights(survival=1.0))
        model.add_objective(objective - float(objective.const), sense=sense, overwrite=True)
    solve(model)
    return block.variables["network_alive"].solution.values, float(block.expressions["survival_time_h"].solution)


def force_dark(model, block, steps: list[int]) -> None:
    dark = block.variables["dark"].sel(site="B")
    with block_semantics():
        for k in steps:
            model.add_constraints(dark.isel(time=k) == 1, name=f"force_B_dark_{k}")


def test_survival_counts_the_hours_before_the_first_dark_site(three_step_data):
    """B dark from step 1: n = (1, 0, 0), T_surv^min = 0.5 h (the first step's length, not 1 / 0.5), term 0.5 / 2 = 0.25."""
    model, block = eq18_block(three_step_data)
    alive, hours = solve_survival(model, block, "max")
    np.testing.assert_allclose(alive, [1, 1, 1], atol=1e-9)  # nothing forces a site dark: alive throughout
    assert hours == pytest.approx(2.0, abs=1e-9)
    force_dark(model, block, [1, 2])
    alive, hours = solve_survival(model, block, "max")
    np.testing.assert_allclose(alive, [1, 0, 0], atol=1e-9)
    assert hours == pytest.approx(0.5, abs=1e-9)
    assert float(block.objective_terms()["survival"].solution) == pytest.approx(0.25, abs=1e-9)


def test_survival_is_at_least_the_first_step_even_when_minimised(three_step_data):
    """n(0) = 1 is forced: the least T_surv^min the block can report is the first step, 0.5 h."""
    model, block = eq18_block(three_step_data)
    alive, hours = solve_survival(model, block, "min")
    assert alive[0] == pytest.approx(1.0, abs=1e-9)
    assert hours == pytest.approx(0.5, abs=1e-9)


def test_survival_does_not_resume_after_a_first_failure(three_step_data):
    """B dark in step 1 only (if the block lets a dark site come back): n stays 0 after the failure."""
    model, block = eq18_block(three_step_data)
    force_dark(model, block, [1])
    dark = block.variables["dark"].sel(site="B")
    with block_semantics():
        model.add_constraints(dark.isel(time=2) == 0, name="B_back")
    report_alive, hours = solve_survival(model, block, "max")
    np.testing.assert_allclose(report_alive, [1, 0, 0], atol=1e-9)
    assert hours == pytest.approx(0.5, abs=1e-9)


def test_objective_constraints_carry_their_equation_names(three_step_data):
    """A paper equation is findable by its number in the model: the names users and host models look up."""
    model, block = eq18_block(three_step_data)
    with block_semantics():
        block.eq18(weights(survival=1.0))
        block.eq26(block.data.site_mode_power_kw.sel(mode="normal", drop=True))
    names = set(model.constraints)
    for name in ("eq18_alive_needs_every_site", "eq18_alive_until_first_failure", "eq18_alive_at_start", "eq26_min_over_sites"):
        assert f"msrc-{name}" in names, name
    assert "msrc-network_alive" in model.variables and "msrc-eq26_min_remaining_time" in model.variables


def test_eq18_reads_only_the_weights_it_is_given(three_step_data):
    """A weights mapping naming only survival is Eq. 18 with the other terms left out (no default weight of 1)."""
    model, block = eq18_block(three_step_data)
    with block_semantics():
        objective = block.eq18({"survival": 1.0})
        model.add_objective(objective - float(objective.const), sense="max", overwrite=True)
    report = solve(model)
    assert report.objective == pytest.approx(float(block.objective_terms()["survival"].solution), abs=1e-9)
    assert report.objective == pytest.approx(1.0, abs=1e-9)  # alive for the whole 2 h


def test_eq27_utility_variable_and_its_tangent_cuts(radio_data):
    """Eq. 27's phi_u in [0, log 2] per user and step, one tangent cut per breakpoint a caller gives (default six)."""
    for breakpoints, cuts in ((None, 6), ((0.0, 0.5, 1.0), 3)):
        model, block = build_stage2(radio_data, normal_modes(radio_data), weights(service=1.0), breakpoints=breakpoints)
        phi = model.variables["msrc-eq27_utility"]
        assert dict(phi.sizes) == {"user": radio_data.sizes["user"], "time": 1}
        assert float(phi.lower.min()) == 0.0 and float(phi.upper.max()) == pytest.approx(np.log(2.0))
        tangents = [name for name in model.constraints if "eq27_tangent_cuts" in name]
        assert tangents, list(model.constraints)
        rows = sum(int((model.constraints[name].labels >= 0).sum()) for name in tangents)
        assert rows == cuts * radio_data.sizes["user"]
