"""Calibration of the power-model scale on one cell of a sweep (docs/reproduction.md).

The paper's power coefficients are not public (docs/model.md), so the power
model carries one free factor, ``power.scale``. It is fitted once, on one
cell only (by default Independent operation at medium load, whose mean
T_surv the paper gives as 2.5 h, Table II); every other cell of Tables II-IV
is then a prediction. :func:`calibrate_power_scale` finds the scale by the
secant method on the mean T_surv over the cell's trials, which falls as the
scale grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..config.errors import Issue, ScenarioError
from ..config.loader import LoadedScenario, load_scenario
from .report import PAPER_TABLE2
from .sweep import Point, execute, point_identity_yaml, point_scenario_yaml, run_point


@dataclass
class Calibration:
    """The fitted scale and every evaluation on the way."""

    scale: float
    survival_h: float
    trials: int
    history: list[tuple[float, float]] = field(default_factory=list)  # (scale, mean T_surv h)
    converged: bool = False


def cell_overrides(loaded: LoadedScenario, cell: dict[str, str]) -> list[str]:
    """``KEY=VALUE`` overrides that select one coordinate of each named sweep dimension."""
    dims = loaded.scenario.sweep.dimensions
    overrides = []
    for name, label in cell.items():
        if name not in dims:
            known = ", ".join(dims) or "none"
            raise ScenarioError(Issue("--cell", name, f"is not a sweep dimension of the scenario (dimensions: {known})"))
        dim = dims[name]
        labels = [str(v) for v in (dim.labels if dim.labels is not None else dim.values)]
        if label not in labels:
            raise ScenarioError(Issue("--cell", name, f"= {label}: not a coordinate (coordinates: {', '.join(labels)})"))
        overrides.append(f"{dim.key}={json.dumps(dim.values[labels.index(label)])}")
    return overrides


def calibrate_power_scale(
    loaded: LoadedScenario,
    client: Any,
    *,
    cell: dict[str, str],
    strategy: str = "independent",
    target_h: float = PAPER_TABLE2["medium"]["independent"],
    tolerance_h: float = 0.01,
    max_evaluations: int = 8,
    progress: Callable[[float, float], None] | None = None,
) -> Calibration:
    """Fit ``power.scale`` so that ``strategy``'s mean T_surv over the cell's trials is ``target_h``.

    Every trial of the cell (``sweep.trials``) is simulated with ``strategy``
    only, on the Dask ``client``, at each trial scale.
    """
    base = [*loaded.overrides, *cell_overrides(loaded, cell), f"run.strategies=[{strategy}]"]
    trials = loaded.scenario.sweep.trials

    def mean_survival(scale: float) -> float:
        scenario = load_scenario(loaded.source, (*base, f"power.scale={scale!r}"), loaded.variant).scenario
        text = point_scenario_yaml(scenario)
        identity = point_identity_yaml(scenario)
        points = [Point((k,), {"trial": k}, text, k, identity) for k in range(trials)]
        values = []
        for point, result, error in execute(points, client, run_point):
            if error:
                raise RuntimeError(f"trial {point.trial} at power.scale {scale:g} failed: {error}")
            values.append(float(result.survival_time.sel(strategy=strategy)))
        value = float(np.mean(values))
        if progress is not None:
            progress(scale, value)
        return value

    result = Calibration(scale=float(loaded.scenario.power.scale), survival_h=np.nan, trials=trials)
    x0 = result.scale
    f0 = mean_survival(x0) - target_h
    result.history.append((x0, f0 + target_h))
    # T_surv ~ energy / power: the first step assumes survival inversely proportional to the scale
    x1 = x0 * (f0 + target_h) / target_h
    while len(result.history) < max_evaluations:
        f1 = mean_survival(x1) - target_h
        result.history.append((x1, f1 + target_h))
        if abs(f1) <= tolerance_h:
            result.converged = True
            break
        slope = (f1 - f0) / (x1 - x0) if x1 != x0 else np.nan
        x0, f0 = x1, f1
        x1 = x1 - f1 / slope if np.isfinite(slope) and slope < 0 else x1 * (f1 + target_h) / target_h
        x1 = float(np.clip(x1, 0.5 * x0, 2.0 * x0))
    best = min(result.history, key=lambda h: abs(h[1] - target_h))
    result.scale, result.survival_h = best
    return result
