"""Linearisation helpers: McCormick envelopes and tangent-cut outer approximation.

HiGHS has no indicator constraints, no SOS and no quadratic constraints, so
every product of a binary with another decision is written as linear
inequalities with bounds taken from the data (never an arbitrary big M).
"""

from __future__ import annotations

from typing import Callable, Sequence

import linopy
import numpy as np
import xarray as xr

Linear = linopy.Variable | linopy.LinearExpression


def add_binary_product(model: linopy.Model, a: Linear, b: Linear, name: str) -> linopy.Variable:
    """A variable ``w = a * b`` of two binaries, by the McCormick envelope.

    For binaries the envelope is exact: ``w <= a``, ``w <= b``,
    ``w >= a + b - 1``, ``w >= 0``. ``w`` is continuous in [0, 1]; it is
    integral at every integral ``(a, b)``.

    Parameters
    ----------
    model:
        The linopy model to extend.
    a, b:
        Binary variables (or expressions of binaries) over broadcastable dims.
    name:
        Name of the product variable; the constraints are ``{name}-le_a``,
        ``{name}-le_b`` and ``{name}-ge_sum``.
    """
    template = (a + b).const  # the broadcast coordinates of the product
    w = model.add_variables(lower=xr.zeros_like(template), upper=xr.ones_like(template), name=name)
    model.add_constraints(w - a <= 0, name=f"{name}-le_a")
    model.add_constraints(w - b <= 0, name=f"{name}-le_b")
    model.add_constraints(w - a - b >= -1, name=f"{name}-ge_sum")
    return w


def add_binary_continuous_product(
    model: linopy.Model,
    z: Linear,
    x: Linear,
    lower: float | xr.DataArray,
    upper: float | xr.DataArray,
    name: str,
    sides: str = "both",
) -> linopy.Variable:
    """A variable ``w = z * x`` of a binary ``z`` and a bounded ``x``.

    With ``lower <= x <= upper`` (data-derived bounds) the McCormick envelope

    ``lower z <= w <= upper z`` and
    ``x - upper (1 - z) <= w <= x - lower (1 - z)``

    gives ``w = x`` where ``z = 1`` and ``w = 0`` where ``z = 0``: exact at
    every integral ``z``.

    ``sides="lower"`` adds only the two lower inequalities (``w >= lower z``,
    ``w >= x - upper (1 - z)``): enough, and exact, where every other use of
    ``w`` pushes it down (a cost, or a capacity reduced by ``w``).
    """
    lower_da = xr.DataArray(lower)
    upper_da = xr.DataArray(upper)
    if bool((lower_da > upper_da).any()):
        raise ValueError(f"{name}: lower bound above upper bound")
    template = (z + x).const
    w = model.add_variables(
        lower=xr.zeros_like(template) + np.minimum(lower_da, 0.0),
        upper=xr.zeros_like(template) + np.maximum(upper_da, 0.0),
        name=name,
    )
    if sides not in ("both", "lower"):
        raise ValueError(f"sides must be 'both' or 'lower', got {sides!r}")
    model.add_constraints(w - lower_da * z >= 0, name=f"{name}-ge_lower_z")
    model.add_constraints(w - x + upper_da * (1 - z) >= 0, name=f"{name}-ge_x")
    if sides == "both":
        model.add_constraints(w - upper_da * z <= 0, name=f"{name}-le_upper_z")
        model.add_constraints(w - x + lower_da * (1 - z) <= 0, name=f"{name}-le_x")
    return w


def tangent_coefficients(
    breakpoints: Sequence[float], func: Callable[[np.ndarray], np.ndarray], derivative: Callable[[np.ndarray], np.ndarray]
) -> tuple[xr.DataArray, xr.DataArray]:
    """Slope and intercept of the tangents of ``func`` at ``breakpoints``.

    Returns DataArrays over a ``breakpoint`` dimension: the tangent at ``s_k``
    is ``intercept_k + slope_k * s``.
    """
    points = np.asarray(breakpoints, dtype=float)
    if points.ndim != 1 or len(points) == 0:
        raise ValueError("breakpoints must be a non-empty 1-D sequence")
    slope = derivative(points)
    intercept = func(points) - slope * points
    coords = {"breakpoint": np.arange(len(points))}
    return (
        xr.DataArray(slope, dims="breakpoint", coords=coords),
        xr.DataArray(intercept, dims="breakpoint", coords=coords),
    )


def add_tangent_cuts(
    model: linopy.Model,
    y: Linear,
    x: Linear,
    breakpoints: Sequence[float],
    func: Callable[[np.ndarray], np.ndarray],
    derivative: Callable[[np.ndarray], np.ndarray],
    name: str,
    scale: float | xr.DataArray = 1.0,
) -> linopy.Constraint:
    """Outer approximation of ``y <= func(x)`` for a concave ``func``.

    Adds ``y <= scale * (func(s_k) + func'(s_k) (x - s_k))`` for every
    breakpoint ``s_k``: the hypograph of a concave function is the
    intersection of the half-planes below its tangents, so the cuts are exact
    at the breakpoints and over-estimate ``func`` by less than the tangent gap
    between them. No binaries are needed when ``y`` is maximised.
    """
    slope, intercept = tangent_coefficients(breakpoints, func, derivative)
    return model.add_constraints(y - scale * slope * x <= scale * intercept, name=name)
