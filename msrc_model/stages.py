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
import pandas as pd
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
    binary_association: bool = True,
    exclusive_battery: bool = True,
    integer_carriers: bool = True,
) -> tuple[linopy.Model, MSRCBlock]:
    """Stage 2 for the steps of ``data`` (usually one 30-s step) with ``modes`` fixed.

    Per-user binary association over the pairs the modes allow, Shannon rates
    per band (Eq. 8), objective Eq. 27 with the step's energy (scaled x100 for
    the solver's tolerances).
    """
    model = linopy.Model()
    block = add_msrc(
        model, usable_pairs(data, modes), fixed_modes=modes, binary_association=binary_association,
        exclusive_battery=exclusive_battery, integer_carriers=integer_carriers,
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
    dark: xr.DataArray | None = None,
    integer_blocks: int | None = None,
    every_step: bool = False,
) -> tuple[linopy.Model, MSRCBlock]:
    """Stage 1 over the steps of ``data`` (e.g. 6 x 1 h): modes and links from site-level traffic.

    Site power per mode and offload flows between sites
    (:mod:`msrc_model.formulation.site_level`), EVs as a fleet per site,
    battery energy as a projection scored by Eq. 26 over the sites not yet
    ``dark`` (site bool), with the denominator ``power_estimate_kw`` (kW per
    site; default each site's normal-mode power). With ``integer_blocks`` the
    modes are binary in that many first blocks only; later blocks plan the
    share of time each site spends in each mode (move blocking). With
    ``every_step`` Eq. 26's minimum runs over every block end, not only the
    horizon's.
    """
    model = linopy.Model()
    block = add_msrc(
        model, data, traffic="site", ev_model="fleet", ev_fleet=ev_fleet,
        energy_floor=False, exclusive_battery=False,
        initial_battery_kwh=initial_battery_kwh, initial_mode=initial_mode, fixed_dark=dark,
    )
    if power_estimate_kw is None:
        power_estimate_kw = block.data.site_mode_power_kw.sel(mode="normal", drop=True)
    if integer_blocks is not None and integer_blocks < block.data.sizes["time"]:
        # move blocking: binary modes for the first blocks, mode time shares after them
        mode = block.variables["mode"]
        mode.relax()
        first = block.data.time.values[:integer_blocks]
        binary = model.add_variables(
            binary=True, coords=[mode.indexes["site"], mode.indexes["mode"], pd.Index(first, name="time")], name="msrc-mode_binary_blocks"
        )
        model.add_constraints(mode.sel(time=first) - binary == 0, name="msrc-mode_binary_blocks")
    alive = None if dark is None else ~dark.astype(bool)
    model.add_objective(100.0 * block.stage1_objective(weights, power_estimate_kw, alive, every_step=every_step), sense="max")
    return model, block


def build_dispatch(
    load_kw: np.ndarray,
    battery_available_kw: np.ndarray,
    ev_available_kw: np.ndarray,
    price_per_kwh: np.ndarray,
    weights: dict[str, float],
    *,
    battery_scale_kw: float,
    cost_scale: float,
) -> linopy.Model:
    """Stage-2 energy dispatch for one step: battery and V2G power per site (Eqs. 13, 15, 17).

    ``battery_power + ev_power = load`` at every site, each within what the
    battery and the parked EVs can give over the step (kW). The objective is
    the energy part of Stage 2: lambda_1 times the battery power drawn (the
    reserve that survival rests on, scaled by ``battery_scale_kw``) plus
    lambda_3 times the V2G cost at the posted price (Eq. 16, scaled by
    ``cost_scale``), minimised.
    """
    site = pd.Index(np.arange(len(load_kw)), name="site")
    model = linopy.Model()
    battery = model.add_variables(lower=0.0, upper=xr.DataArray(battery_available_kw, coords=[site]), name="battery_power")
    ev = model.add_variables(lower=0.0, upper=xr.DataArray(ev_available_kw, coords=[site]), name="ev_power")
    model.add_constraints(battery + ev == xr.DataArray(load_kw, coords=[site]), name="eq17_power_balance")
    price = xr.DataArray(price_per_kwh, coords=[site])
    model.add_objective(
        weights["survival"] * battery.sum() / battery_scale_kw + weights["v2g_cost"] * (price * ev).sum() / cost_scale, sense="min"
    )
    return model
