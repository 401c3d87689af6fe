"""Stationary batteries, EVs and the site power balance (Eqs. 12-17).

Energies are at the *end* of each time step (kWh); powers are averages over
the step (kW) and positive in the direction named.

``battery_charge``, ``battery_discharge`` (site, time)
    P_ch, P_dis at the site bus, 0..P^max (Eq. 13);
``battery_charging`` (site, time)
    binary: charging excludes discharging (Sec. II-D-1);
``battery_energy`` (site, time)
    SOC x E_SB within [SOC_min, SOC_max] x E_SB (Eqs. 12-13);
``ev_discharge``, ``ev_charge`` (ev, time)
    V2G power at the site bus, 0..P_ev^max x the share of the step the EV is parked;
``ev_energy`` (ev, time)
    kWh in the EV battery, never below its driver's reserve (Eq. 14);
``grid_import`` (site, time)
    P_grid of Eq. 17: 0 in an outage unless the host model supplies it.
"""

from __future__ import annotations

import xarray as xr

from ..physics import battery_floor_kwh, battery_initial_kwh, ev_arrival_kwh, ev_bus_limits_kw, ev_reserve_kwh, usable_energy_kwh
from .context import Context, total_by


def add_battery(
    ctx: Context,
    initial_energy_kwh: xr.DataArray | None = None,
    exclusive: bool = True,
    energy_floor: bool = True,
    final: str = "free",
) -> None:
    """Eqs. 12-13 for every site.

    With ``energy_floor=False`` the SOC_min bound is dropped: the energy is a
    projection that may fall below the floor (Stage 1, Eq. 26, scores it).
    ``final`` conditions the energy at the end of the horizon: ``"free"``
    (none), ``"cyclic"`` (equal to the initial energy, as a cyclic state of
    charge) or ``"at_least_initial"`` (no net draw over the horizon), so that
    a host minimising cost does not take the stored energy as free.
    """
    data, t = ctx.data, ctx.time_dim
    capacity = data.battery_capacity_kwh
    charge = ctx.add_variables("battery_charge", ("site", t), lower=0.0, upper=float(data.battery_max_charge_kw))
    discharge = ctx.add_variables("battery_discharge", ("site", t), lower=0.0, upper=float(data.battery_max_discharge_kw))
    energy = ctx.add_variables(
        "battery_energy", ("site", t),
        lower=battery_floor_kwh(data) if energy_floor else -float(data.battery_max_discharge_kw) * ctx.horizon_h * xr.ones_like(capacity),
        upper=float(data.battery_soc_max) * capacity,
    )
    if exclusive:
        charging = ctx.add_variables("battery_charging", ("site", t), binary=True)
        ctx.add_constraints("eq13_charge_when_charging", charge - float(data.battery_max_charge_kw) * charging <= 0)
        ctx.add_constraints(
            "eq13_discharge_when_not_charging", discharge + float(data.battery_max_discharge_kw) * charging <= float(data.battery_max_discharge_kw)
        )
    start = battery_initial_kwh(data) if initial_energy_kwh is None else initial_energy_kwh
    step = ctx.step_h
    flow = (float(data.battery_charge_efficiency) * charge - discharge / float(data.battery_discharge_efficiency)) * step
    first = data[t].values[:1]
    ctx.add_constraints("eq12_battery_first_step", (energy - flow).sel({t: first}) == start)
    if data.sizes[t] > 1:
        ctx.add_constraints("eq12_battery_balance", energy - energy.shift({t: 1}) - flow == 0)
    end = energy.sel({t: data[t].values[-1]}, drop=True)
    if final == "cyclic":
        ctx.add_constraints("battery_final_energy", end == start)
    elif final == "at_least_initial":
        ctx.add_constraints("battery_final_energy", end >= start)
    elif final != "free":
        raise ValueError(f"final battery condition {final!r} is not one of 'free', 'cyclic', 'at_least_initial'")


def add_evs(ctx: Context, initial_energy_kwh: xr.DataArray | None = None) -> None:
    """EV energy, the driver's reserve and the V2X limit (Eqs. 14-15)."""
    data, t = ctx.data, ctx.time_dim
    if data.sizes["ev"] == 0:
        return
    # both at the site bus; P_max applies at the EV battery
    discharge_kw, charge_kw = ev_bus_limits_kw(float(data.ev_max_power_kw), float(data.ev_efficiency))
    discharge = ctx.add_variables("ev_discharge", ("ev", t), lower=0.0, upper=discharge_kw * data.ev_presence)
    charge = ctx.add_variables("ev_charge", ("ev", t), lower=0.0, upper=charge_kw * data.ev_presence)
    start = ev_arrival_kwh(data) if initial_energy_kwh is None else initial_energy_kwh
    reserve = ev_reserve_kwh(data)
    energy = ctx.add_variables(
        "ev_energy", ("ev", t), lower=xr.ones_like(data.ev_presence) * reserve, upper=xr.ones_like(data.ev_presence) * data.ev_capacity_kwh
    )
    eta = float(data.ev_efficiency)
    flow = (eta * charge - discharge / eta) * ctx.step_h
    first = data[t].values[:1]
    ctx.add_constraints("eq14_ev_first_step", (energy - flow).sel({t: first}) == start)
    if data.sizes[t] > 1:
        ctx.add_constraints("eq14_ev_balance", energy - energy.shift({t: 1}) - flow == 0)
    site_label = ctx.labelled(data.ev_site, "site")
    net = total_by(discharge - charge, site_label, ctx.index("site"))
    limit = float(data.ev_v2x_limit_kw)
    ctx.add_constraints("eq15_v2x_limit", net <= limit)
    ctx.add_constraints("eq15_v2x_limit_charging", net >= -limit)
    ctx.expressions["ev_power"] = net


def add_power_balance(ctx: Context, grid_limit_kw: float | xr.DataArray = 0.0) -> None:
    """Eq. 17: load = battery + EVs + grid, with no grid in an outage."""
    t = ctx.time_dim
    grid = ctx.add_variables("grid_import", ("site", t), lower=0.0, upper=grid_limit_kw)
    battery = ctx.variables["battery_discharge"] - ctx.variables["battery_charge"]
    supply = battery + grid
    if "ev_power" in ctx.expressions:
        supply = supply + ctx.expressions["ev_power"]
    ctx.expressions["battery_power"] = battery
    ctx.add_constraints("eq17_power_balance", ctx.expressions["site_power"] - supply == 0)


def add_ev_fleet(ctx: Context, power_max_kw: xr.DataArray, energy_kwh: xr.DataArray) -> None:
    """EVs aggregated per site, for slow-timescale planning (Eqs. 14-15).

    ``ev_fleet_power`` (site, time) is the V2G power the site takes from its
    parked fleet, at most ``power_max_kw`` (the V2X limit and the parked EVs'
    chargers, kW); the energy taken up to the end of each step is at most
    ``energy_kwh`` (the usable energy, above the drivers' reserves, that the
    fleet has offered so far, kWh). Charging EVs is not planned at this scale.
    """
    t = ctx.time_dim
    power = ctx.add_variables("ev_fleet_power", ("site", t), lower=0.0, upper=power_max_kw)
    ctx.add_constraints("eq14_fleet_energy", (power * ctx.step_h).cumsum(t) <= energy_kwh)
    ctx.expressions["ev_power"] = power.to_linexpr()


def fleet_limits(data: xr.Dataset, initial_ev_kwh: xr.DataArray | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """Per site and step: the fleet's power limit (kW) and cumulative usable energy (kWh)."""
    t = "time"
    sites = data.site
    site_label = xr.DataArray(data.site.values[data.ev_site.values], dims="ev", name="site")
    presence = data.ev_presence
    per_ev_kw = ev_bus_limits_kw(float(data.ev_max_power_kw), float(data.ev_efficiency))[0]
    power = (per_ev_kw * presence).groupby(site_label).sum().reindex(site=sites.values, fill_value=0.0)
    power = power.clip(max=float(data.ev_v2x_limit_kw))
    start = ev_arrival_kwh(data) if initial_ev_kwh is None else initial_ev_kwh
    usable = usable_energy_kwh(start, ev_reserve_kwh(data), float(data.ev_efficiency))
    offered = (presence > 0).cumsum(t) > 0  # the EV has arrived by this step
    energy = (usable * offered).groupby(site_label).sum().reindex(site=sites.values, fill_value=0.0)
    return power.transpose("site", t), energy.transpose("site", t)
