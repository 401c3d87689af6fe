"""What every formulation block shares: the host model, the data, names, handles."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

import linopy
import numpy as np
import pandas as pd
import xarray as xr

Linear = linopy.Variable | linopy.LinearExpression

#: linopy's arithmetic rules the blocks are written for (coordinate alignment, ``shift`` and NaN
#: handling differ under linopy's older "legacy" rules)
SEMANTICS = "v1"

_Function = TypeVar("_Function", bound=Callable)


@contextmanager
def block_semantics() -> Iterator[None]:
    """linopy's v1 arithmetic inside the ``with`` body, the caller's rules restored after it.

    msrc never changes linopy's options for the process: a host model
    written under legacy rules keeps them, and the blocks still build the
    model they are written for.
    """
    with linopy.options as options:
        options.set_value(semantics=SEMANTICS)
        yield


def with_block_semantics(function: _Function) -> _Function:
    """Run ``function`` under :func:`block_semantics`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with block_semantics():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class Context:
    """The linopy model being extended and the model data it is built from.

    Attributes
    ----------
    model:
        The host linopy model; blocks add to it and touch nothing else.
    data:
        Model data (:func:`msrc_model.formulation.data.model_data`), with the
        time dimension already named as the host names it.
    prefix:
        Prefix of every variable, constraint and expression name.
    separator:
        Between the prefix and the short name (``-``; a PyPSA host takes
        ``Component-attribute`` names for its own, see :mod:`msrc_model.hosts.pypsa`).
    time_dim:
        Name of the time dimension (``time``, or ``snapshot`` in PyPSA).
    variables, constraints, expressions:
        Handles the blocks created, by short name (``constraints["eq12_battery_first_step"]``).
    """

    model: linopy.Model
    data: xr.Dataset
    prefix: str
    time_dim: str = "time"
    separator: str = "-"
    variables: dict[str, linopy.Variable] = field(default_factory=dict)
    constraints: dict[str, linopy.Constraint] = field(default_factory=dict)
    expressions: dict[str, linopy.LinearExpression] = field(default_factory=dict)

    def name(self, short: str) -> str:
        """Full model name of a component, e.g. ``msrc-eq19_one_mode``."""
        return f"{self.prefix}{self.separator}{short}"

    def index(self, dim: str) -> pd.Index:
        """The data's coordinate of ``dim`` as a named pandas index."""
        return pd.Index(self.data[dim].values, name=dim)

    def add_variables(self, short: str, dims: tuple[str, ...], **kwargs) -> linopy.Variable:
        """Add a variable over ``dims`` of the data and keep its handle."""
        coords = [self.index(d) for d in dims]
        variable = self.model.add_variables(coords=coords, name=self.name(short), **kwargs)
        self.variables[short] = variable
        return variable

    def add_constraints(self, short: str, constraint, **kwargs) -> linopy.Constraint:
        """Add a constraint and keep its handle."""
        added = self.model.add_constraints(constraint, name=self.name(short), **kwargs)
        self.constraints[short] = added
        return added

    @property
    def step_h(self):
        """Model time step, h: a float, or a DataArray over time for unequal steps."""
        step = self.data.time_step_h
        return float(step) if step.ndim == 0 else step

    @property
    def horizon_h(self) -> float:
        """Length of the model horizon, h."""
        step = self.data.time_step_h
        return float(step) * self.data.sizes[self.time_dim] if step.ndim == 0 else float(step.sum())

    def labelled(self, indices: xr.DataArray, dim: str) -> xr.DataArray:
        """Turn an integer index array into the labels of ``dim``, named ``dim``."""
        labels = self.data[dim].values[indices.values]
        return xr.DataArray(labels, dims=indices.dims, coords={d: indices[d] for d in indices.dims if d in indices.coords}, name=dim)


def loosest_rhs(model: linopy.Model, constraint: linopy.Constraint) -> xr.DataArray:
    """Per row of a ``<=`` constraint, the largest value its left side takes within the variable bounds.

    Setting a row's right-hand side to this value switches the row off
    (it can no longer bind) while every number in the model stays finite.
    The bounds must be finite; an infinite one raises ``ValueError``.
    """
    if str(constraint.sign.values.flat[0]) != "<=":
        raise ValueError(f"{constraint.name}: only <= rows can be switched off this way")
    flat = model.variables.flat
    size = int(flat.labels.max()) + 1
    lower, upper = np.full(size, np.nan), np.full(size, np.nan)
    lower[flat.labels.values], upper[flat.labels.values] = flat.lower.values, flat.upper.values
    labels, coeffs = constraint.vars.values, constraint.coeffs.values
    present = labels >= 0
    low, high = lower[np.where(present, labels, 0)] * coeffs, upper[np.where(present, labels, 0)] * coeffs
    largest = np.where(present, np.maximum(low, high), 0.0).sum(axis=-1)
    if not np.isfinite(largest).all():
        raise ValueError(f"{constraint.name}: a variable of the row has an infinite bound")
    return xr.DataArray(largest, coords=constraint.rhs.coords, dims=constraint.rhs.dims)


def pick(values: Linear, dim: str, indices: xr.DataArray) -> linopy.LinearExpression:
    """``values`` taken at integer ``indices`` along ``dim`` (vectorised gather).

    The result has the dimensions of ``indices`` in place of ``dim``, with no
    leftover coordinate of ``dim``.
    """
    taken = values.isel({dim: indices})
    expression = taken.to_linexpr() if isinstance(taken, linopy.Variable) else taken
    return expression.drop_vars(dim, errors="ignore") if dim in expression.coords else expression


def total_by(expression: Linear, groups: xr.DataArray, index: pd.Index) -> linopy.LinearExpression:
    """Sum ``expression`` over the groups given by ``groups`` (labels of ``index``).

    Every label of ``index`` is present in the result; labels no element
    belongs to get an empty (zero) sum.
    """
    grouped = expression.groupby(groups).sum()
    if isinstance(grouped, linopy.Variable):
        grouped = grouped.to_linexpr()
    return grouped.reindex({index.name: index}).fillna(0)
