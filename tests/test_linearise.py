"""McCormick envelopes and tangent cuts: exact expressions and brute force."""

from __future__ import annotations

import itertools

import linopy
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from linopy.testing import assert_linequal

from msrc_model.formulation.linearise import (
    add_binary_continuous_product,
    add_binary_product,
    add_tangent_cuts,
    tangent_coefficients,
)
from msrc_model.formulation import block_semantics
from msrc_model.problems.solve import solve_model

QUIET = {"log_to_console": False, "output_flag": False}


@pytest.fixture(autouse=True)
def _block_rules():
    """The helpers are written for linopy's v1 rules, under which the blocks call them."""
    with block_semantics():
        yield


def _optimise(model: linopy.Model, objective, sense: str) -> float:
    model.add_objective(objective, sense=sense, overwrite=True)
    report = solve_model(model, QUIET)
    assert report.termination == "optimal"
    return report.objective


def test_binary_product_constraints_are_the_envelope():
    m = linopy.Model()
    a = m.add_variables(binary=True, name="a")
    b = m.add_variables(binary=True, name="b")
    w = add_binary_product(m, a, b, "w")
    assert_linequal(m.constraints["w-le_a"].lhs, w - a)
    assert_linequal(m.constraints["w-le_b"].lhs, w - b)
    assert_linequal(m.constraints["w-ge_sum"].lhs, w - a - b)
    assert float(m.constraints["w-ge_sum"].rhs) == -1


@pytest.mark.parametrize("a_value,b_value", list(itertools.product([0, 1], repeat=2)))
def test_binary_product_is_exact_at_every_corner(a_value, b_value):
    m = linopy.Model()
    a = m.add_variables(binary=True, name="a")
    b = m.add_variables(binary=True, name="b")
    w = add_binary_product(m, a, b, "w")
    m.add_constraints(a == a_value, name="fix_a")
    m.add_constraints(b == b_value, name="fix_b")
    assert _optimise(m, 1 * w, "max") == pytest.approx(a_value * b_value)
    assert _optimise(m, 1 * w, "min") == pytest.approx(a_value * b_value)


@pytest.mark.parametrize("z_value", [0, 1])
@pytest.mark.parametrize("x_value", [-2.0, 0.0, 1.5, 4.0])
def test_binary_continuous_product_is_exact(z_value, x_value):
    m = linopy.Model()
    z = m.add_variables(binary=True, name="z")
    x = m.add_variables(lower=-2.0, upper=4.0, name="x")
    w = add_binary_continuous_product(m, z, x, -2.0, 4.0, "w")
    m.add_constraints(z == z_value, name="fix_z")
    m.add_constraints(x == x_value, name="fix_x")
    assert _optimise(m, 1 * w, "max") == pytest.approx(z_value * x_value)
    assert _optimise(m, 1 * w, "min") == pytest.approx(z_value * x_value)


def _lower_side_model(z_value=None, x_value=None):
    m = linopy.Model()
    z = m.add_variables(binary=True, name="z")
    x = m.add_variables(lower=0.0, upper=10.0, name="x")
    w = add_binary_continuous_product(m, z, x, 0.0, 10.0, "w", sides="lower")
    if z_value is not None:
        m.add_constraints(z == z_value, name="fix_z")
        m.add_constraints(x == x_value, name="fix_x")
    return m, z, x, w


def test_binary_continuous_product_lower_side_constraints():
    m, z, x, w = _lower_side_model()
    assert set(m.constraints) == {"w-ge_lower_z", "w-ge_x"}
    assert_linequal(m.constraints["w-ge_x"].lhs, w - x - 10.0 * z)


@pytest.mark.parametrize("z_value,x_value", list(itertools.product([0, 1], [0.0, 3.0, 10.0])))
def test_binary_continuous_product_lower_side_is_exact_when_minimised(z_value, x_value):
    m, z, x, w = _lower_side_model(z_value, x_value)
    assert _optimise(m, 1 * w, "min") == pytest.approx(z_value * x_value)


def test_binary_continuous_product_rejects_crossed_bounds():
    m = linopy.Model()
    z = m.add_variables(binary=True, name="z")
    x = m.add_variables(lower=0, upper=1, name="x")
    with pytest.raises(ValueError, match="lower bound above upper bound"):
        add_binary_continuous_product(m, z, x, 2.0, 1.0, "w")


def test_tangent_coefficients_by_hand():
    slope, intercept = tangent_coefficients([0.0, 1.0], np.log1p, lambda s: 1 / (1 + s))
    # tangent at 0: 0 + 1 s; at 1: log 2 + (s - 1) / 2
    np.testing.assert_allclose(slope.values, [1.0, 0.5])
    np.testing.assert_allclose(intercept.values, [0.0, np.log(2) - 0.5])


def test_tangent_cuts_against_brute_force():
    breakpoints = [0.0, 0.25, 0.5, 1.0]
    points = np.linspace(0.0, 1.0, 11)
    m = linopy.Model()
    index = pd.Index(np.arange(len(points)), name="point")
    x = m.add_variables(lower=0.0, upper=1.0, coords=[index], name="x")
    y = m.add_variables(lower=-5.0, upper=5.0, coords=[index], name="y")
    add_tangent_cuts(m, y, x, breakpoints, np.log1p, lambda s: 1 / (1 + s), "cut")
    m.add_constraints(x == xr.DataArray(points, coords=[index]), name="fix_x")
    _optimise(m, y.sum(), "max")
    tangents = np.min(
        [np.log1p(b) + (points - b) / (1 + b) for b in breakpoints], axis=0
    )  # the lowest tangent above each point
    np.testing.assert_allclose(y.solution.values, tangents, atol=1e-7)
    at_breakpoints = np.isin(np.round(points, 6), breakpoints)
    np.testing.assert_allclose(y.solution.values[at_breakpoints], np.log1p(points[at_breakpoints]), atol=1e-7)
    assert bool((y.solution.values >= np.log1p(points) - 1e-9).all())  # an outer approximation
    assert float((y.solution.values - np.log1p(points)).max()) < 0.02
