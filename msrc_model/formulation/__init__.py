"""The MSRC formulation as reusable linopy blocks (the paper's Eqs. 1-27).

One module per part of the paper's model:

========================  ==========================================
module                    equations
========================  ==========================================
``data``                  Eq. 1 (kappa, from the inputs), Eq. 5-6 radii per mode, Eq. 16 price
``cooperation``           Eqs. 5, 19-25: modes, bands, links
``association``           Eqs. 6-11: coverage, association, band shares, rates, capacity
``power``                 Eqs. 2-4: site power
``energy``                Eqs. 12-17: batteries, EVs, power balance
``objective``             Eqs. 18, 26, 27
``linearise``             McCormick envelopes, tangent cuts
========================  ==========================================

:func:`add_msrc` adds the whole cluster to any linopy model, touching nothing
but that model, with every name prefixed. See ``docs/model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import linopy
import pandas as pd
import xarray as xr

from .association import add_association, add_traffic_flows
from .context import Context
from .cooperation import add_band_activation, add_cooperation, add_modes
from ..physics import MODES
from .data import aggregate_users, model_data, reachable_required_share
from .energy import add_battery, add_ev_fleet, add_evs, add_power_balance, fleet_limits
from .objective import (
    LOG_UTILITY_BREAKPOINTS,
    add_eq26_remaining_time,
    add_eq27_log_utility,
    add_survival,
    eq18_objective,
    objective_terms,
    stage1_objective,
    stage2_objective,
)
from .power import add_site_power
from .site_level import add_site_offload, site_level_data

linopy.options["semantics"] = "v1"

__all__ = ["MSRCBlock", "add_msrc", "model_data", "aggregate_users", "MODES", "LOG_UTILITY_BREAKPOINTS"]


@dataclass
class MSRCBlock:
    """Handles to the MSRC cluster inside a host linopy model.

    Attributes
    ----------
    model:
        The host model.
    data:
        The model data the block was built from (time named as the host's).
    prefix:
        Prefix of every name the block added.
    variables, constraints, expressions:
        Every variable, constraint and named expression by short name, e.g.
        ``variables["mode"]``, ``constraints["eq12_battery_first_step"]``,
        ``expressions["site_power"]`` (kW, site x time): a caller that changes
        the model between solves reaches its parts through these handles.
    """

    model: linopy.Model
    data: xr.Dataset
    prefix: str
    time_dim: str
    variables: dict[str, linopy.Variable]
    constraints: dict[str, linopy.Constraint]
    expressions: dict[str, Any]
    _context: Context

    @property
    def site_power(self) -> linopy.LinearExpression:
        """Power drawn by each site (kW), Eq. 4."""
        return self.expressions["site_power"]

    @property
    def total_power(self) -> linopy.LinearExpression:
        """Power drawn by the whole cluster (kW) per time step."""
        return self.expressions["site_power"].sum("site")

    @property
    def battery_power(self) -> linopy.LinearExpression:
        """Net power drawn from the site batteries (kW), site x time."""
        return self.expressions["battery_power"]

    @property
    def grid_import(self) -> linopy.Variable:
        """P_grid of Eq. 17 (kW), site x time: the coupling point for a host's network."""
        return self.variables["grid_import"]

    def objective_terms(self) -> dict[str, Any]:
        """The four scaled terms of Eq. 18."""
        return objective_terms(self._context)

    def eq18(self, weights: dict[str, float]):
        """Eq. 18 with weights keyed survival / service / v2g_cost / mode_switching."""
        return eq18_objective(self._context, weights)

    def eq26(self, power_estimate_kw: xr.DataArray):
        """Eq. 26 linearised: the least remaining battery time over sites (h)."""
        return add_eq26_remaining_time(self._context, power_estimate_kw)

    def eq27(self, breakpoints=None):
        """Eq. 27 by tangent cuts, scaled to [0, 1] (``breakpoints`` default: :data:`LOG_UTILITY_BREAKPOINTS`)."""
        return add_eq27_log_utility(self._context, breakpoints)

    def stage1_objective(
        self, weights: dict[str, float], power_estimate_kw: xr.DataArray, sites: xr.DataArray | None = None, every_step: bool = False
    ):
        """Stage-1 objective: Eq. 26 (over ``sites``, default all; over every step end with ``every_step``) in place of T_surv in Eq. 18."""
        return stage1_objective(self._context, weights, power_estimate_kw, sites, every_step)

    def stage2_objective(self, weights: dict[str, float], breakpoints=None):
        """Stage-2 objective: Eq. 27 with the step's energy and V2G cost."""
        return stage2_objective(self._context, weights, breakpoints)


def add_msrc(
    model: linopy.Model,
    inputs: xr.Dataset,
    prefix: str = "msrc",
    *,
    time_dim: str = "time",
    snapshots: pd.Index | None = None,
    step_s: float | None = None,
    max_duration_s: float | None = None,
    aggregate: bool | str = False,
    traffic: str = "pairs",
    binary_association: bool | None = None,
    fixed_modes: xr.DataArray | None = None,
    allow_dark: bool = False,
    survival: bool | None = None,
    exclusive_battery: bool = True,
    energy_floor: bool = True,
    grid_limit_kw: float | xr.DataArray = 0.0,
    initial_battery_kwh: xr.DataArray | None = None,
    initial_ev_kwh: xr.DataArray | None = None,
    initial_mode: xr.DataArray | None = None,
    required_share: xr.DataArray | None = None,
    ev_model: str = "vehicles",
    ev_fleet: tuple[xr.DataArray, xr.DataArray] | None = None,
    fixed_dark: xr.DataArray | None = None,
    integer_carriers: bool = True,
    sla_shortfall: bool = False,
) -> MSRCBlock:
    """Add an MSRC base-station cluster to a linopy model.

    Parameters
    ----------
    model:
        The host model; nothing outside it is touched.
    inputs:
        The inputs Dataset (:func:`msrc_model.build_inputs`) or model data
        already made by :func:`model_data`.
    prefix:
        Prefix of every variable, constraint and expression name.
    time_dim:
        Name of the host's time dimension (``snapshot`` in PyPSA).
    snapshots:
        The host's time coordinate, one label per model step, replacing the
        block's own (seconds since the outage start).
    step_s, max_duration_s:
        Model time step and horizon (s) when ``inputs`` is an inputs Dataset.
    aggregate:
        Aggregate users into traffic groups with continuous association, for
        slow-timescale problems: ``True`` or ``"class"`` by home site and
        class, ``"site"`` by home site alone.
    traffic:
        ``"pairs"``: per-pair band shares and Shannon rates (Eq. 8, Stage 2);
        ``"flows"``: band traffic per site within the band capacities
        (aggregated, the plan); ``"site"``: site power per mode and offload
        flows between sites, no users or bands (the Stage-1 planner, see
        :mod:`msrc_model.formulation.site_level`).
    binary_association:
        Binary x (default: true for single users, false for groups).
    fixed_modes:
        (site, time) modes 0-3, or 4 for dark, held fixed (Stage 2).
    allow_dark:
        Let the optimiser switch sites dark (full-horizon plan).
    survival:
        Add the network-alive indicator and T_surv (default: ``allow_dark``).
    exclusive_battery:
        Forbid simultaneous charge and discharge with a binary.
    energy_floor:
        Keep batteries above SOC_min; false lets the energy be a projection
        below it (Stage 1 scores it with Eq. 26).
    grid_limit_kw:
        Upper bound of P_grid (0 in an outage; a host may supply the cluster).
    initial_battery_kwh, initial_ev_kwh, initial_mode:
        State before the first step (default: the inputs' initial state).
    required_share:
        Per user, the share Eq. 10 obliges the network to serve.
    ev_model:
        ``"vehicles"``: every EV's energy (Eqs. 14-15); ``"fleet"``: EVs
        aggregated per site (slow-timescale planning).
    ev_fleet:
        (power limit kW, cumulative energy kWh) per site and step for the
        fleet model (default: from the EVs in the data, see ``fleet_limits``).
    fixed_dark:
        (site,) bool: sites already out of energy, dark over the whole horizon.
    integer_carriers:
        Band activation z is integer (default). False relaxes it to [0, 1]
        when the modes are fixed: the continuous Stage 2 of the paper, whose
        caller rounds a carrier with any activation up to on.
    sla_shortfall:
        Per-user association only: Eq. 10's obligation gets a slack variable
        ``sla_shortfall`` (user, time; share of the user not served), so the
        block is feasible whatever the modes; Stage 2 penalises it far above
        every other term (:func:`msrc_model.formulation.objective.stage2_objective`).
    """
    data = inputs if "pair_coverage" in inputs else model_data(inputs, step_s=step_s, max_duration_s=max_duration_s)
    if traffic == "site":
        if "site_mode_power_kw" not in data:
            data = site_level_data(data)
    elif aggregate:
        data = aggregate_users(data, by_class=aggregate != "site")
    if ev_model == "fleet" and ev_fleet is None:
        ev_fleet = fleet_limits(data, initial_ev_kwh)
    if snapshots is not None:
        if len(snapshots) != data.sizes["time"]:
            raise ValueError(f"{len(snapshots)} snapshots for {data.sizes['time']} model steps")
        data = data.assign_coords(time=("time", pd.Index(snapshots).values))
        if ev_fleet is not None:
            ev_fleet = tuple(a.assign_coords(time=data.time.values) if "time" in a.dims else a for a in ev_fleet)
    if time_dim != "time":
        data = data.rename(time=time_dim)
        if ev_fleet is not None:
            ev_fleet = tuple(a.rename(time=time_dim) if "time" in a.dims else a for a in ev_fleet)
        for extra in (fixed_modes, initial_battery_kwh, initial_ev_kwh):
            if extra is not None and "time" in extra.dims:
                raise ValueError(f"give time-indexed arguments on the {time_dim!r} dimension")
    ctx = Context(model, data, prefix, time_dim)
    add_modes(ctx, fixed_modes=fixed_modes, allow_dark=allow_dark, initial_mode=initial_mode, fixed_dark=fixed_dark)
    if fixed_modes is None:
        add_cooperation(ctx)
    elif required_share is None:
        required_share = reachable_required_share(ctx.data, fixed_modes)
    if traffic != "site":
        add_band_activation(ctx, integer=integer_carriers or fixed_modes is None)
    if survival is None:
        survival = allow_dark
    alive = 1.0
    if survival:
        add_survival(ctx)
        alive = ctx.variables["network_alive"]
    if traffic == "site":
        add_site_offload(ctx)
    elif traffic == "flows":
        add_traffic_flows(ctx, alive=alive, required_share=required_share)
    else:
        if binary_association is None:
            binary_association = not aggregate
        add_association(ctx, binary=binary_association, alive=alive, required_share=required_share, sla_shortfall=sla_shortfall)
    if traffic != "site":
        add_site_power(ctx)
    add_battery(ctx, initial_energy_kwh=initial_battery_kwh, exclusive=exclusive_battery, energy_floor=energy_floor)
    if ev_model == "fleet":
        add_ev_fleet(ctx, *ev_fleet)
    else:
        add_evs(ctx, initial_energy_kwh=initial_ev_kwh)
    add_power_balance(ctx, grid_limit_kw=grid_limit_kw)
    return MSRCBlock(model, ctx.data, prefix, time_dim, ctx.variables, ctx.constraints, ctx.expressions, ctx)
