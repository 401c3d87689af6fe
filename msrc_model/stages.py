"""The two stages of the MSRC controller (Sec. IV) as optimisation problems.

Stage 1 (every 15 min) fixes the cooperation modes over a horizon H from
aggregated traffic; Stage 2 (every 30 s) sets association, band shares, band
activation and battery / V2G power for one step with the modes fixed. Both
are built from the formulation blocks (:func:`msrc_model.formulation.add_msrc`)
and solved by HiGHS.

"""

from __future__ import annotations

import linopy
import numpy as np
import xarray as xr

from .formulation import MSRCBlock, add_msrc
from .formulation.data import coverage_in_modes


def usable_pairs(data: xr.Dataset, modes: xr.DataArray) -> xr.Dataset:
    """Model data keeping only the pairs some step's fixed modes allow (Eq. 6)."""
    allowed = coverage_in_modes(data, modes).max([d for d in modes.dims if d != "site"]) > 0
    return data.isel(pair=np.flatnonzero(allowed.values))


def build_stage2(
    data: xr.Dataset,
    modes: xr.DataArray,
    weights: dict[str, float],
    *,
    initial_battery_kwh: xr.DataArray | None = None,
    initial_ev_kwh: xr.DataArray | None = None,
    breakpoints=(0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
) -> tuple[linopy.Model, MSRCBlock]:
    """Stage 2 for the steps of ``data`` (usually one 30-s step) with ``modes`` fixed.

    Per-user binary association over the pairs the modes allow, Shannon rates
    per band (Eq. 8), objective Eq. 27 with the step's energy (scaled x100 for
    the solver's tolerances).
    """
    model = linopy.Model()
    block = add_msrc(
        model, usable_pairs(data, modes), fixed_modes=modes,
        initial_battery_kwh=initial_battery_kwh, initial_ev_kwh=initial_ev_kwh,
    )
    objective = block.stage2_objective(weights, breakpoints)
    model.add_objective(100.0 * (objective - float(objective.const)), sense="max")
    return model, block


def build_stage1(
    data: xr.Dataset,
    weights: dict[str, float],
    power_estimate_kw: xr.DataArray | None = None,
    *,
    initial_battery_kwh: xr.DataArray | None = None,
    ev_fleet: tuple[xr.DataArray, xr.DataArray] | None = None,
    initial_mode: xr.DataArray | None = None,
) -> tuple[linopy.Model, MSRCBlock]:
    """Stage 1 over the steps of ``data`` (e.g. 24 x 15 min): modes from aggregated traffic.

    Users grouped by home site, band traffic within capacity, EVs as a fleet
    per site, battery energy as a projection scored by Eq. 26.
    """
    model = linopy.Model()
    block = add_msrc(
        model, data, aggregate="site", traffic="flows", ev_model="fleet", ev_fleet=ev_fleet,
        energy_floor=False, exclusive_battery=False,
        initial_battery_kwh=initial_battery_kwh, initial_mode=initial_mode,
    )
    estimate = block.data.reference_power_kw if power_estimate_kw is None else power_estimate_kw
    model.add_objective(100.0 * block.stage1_objective(weights, estimate), sense="max")
    return model, block
