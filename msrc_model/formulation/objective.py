"""Objectives: Eq. 18 (the joint MILP), Eq. 26 (Stage 1) and Eq. 27 (Stage 2).

The four terms of Eq. 18 have different units; each is scaled to [0, 1]
before the weights lambda_1..lambda_4 apply:

survival
    T_surv^min / horizon, with T_surv^min = sum_t n(t) Delta t and n(t) the
    network-alive indicator (1 until the first site goes dark, or the SLA of
    Eq. 10 can no longer be met);
service
    sum_{t,u} w_u r_u / D_u  /  (T sum_u w_u): the weighted satisfaction ratio;
v2g_cost
    sum_{t,e} rho_e(t) P_e(t) Delta t  /  (rho_ref x P^V2X,max x N x horizon), rho_ref = pricing.cost_reference_per_kwh;
mode_switching
    sum_{t,i,m} theta_{i,m}(t)  /  (N T): mode entries per site and step.
"""

from __future__ import annotations

import math

import xarray as xr

from ..physics import battery_floor_kwh, numeric, peak_supply_kw, v2g_cost_scale_per_h
from .context import Context, pick, total_by, with_block_semantics
from .linearise import add_tangent_cuts

# served ratios r/D where the tangent cuts of Eq. 27 touch log(1 + r/D), unless a caller gives its own
LOG_UTILITY_BREAKPOINTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def add_survival(ctx: Context, alive_at_start: bool = True) -> None:
    """The network-alive indicator n(t) and T_surv^min (h)."""
    t = ctx.time_dim
    alive = ctx.add_variables("network_alive", (t,), binary=True)
    ctx.add_constraints("eq18_alive_needs_every_site", alive + ctx.expressions["dark"] <= 1)
    ctx.add_constraints("eq18_alive_until_first_failure", alive - alive.shift({t: 1}) <= 0)
    if alive_at_start:
        first = ctx.data[t].values[:1]
        ctx.add_constraints("eq18_alive_at_start", alive.sel({t: first}) == 1)
    ctx.expressions["survival_time_h"] = (alive * ctx.step_h).sum()


def v2g_cost_expression(ctx: Context):
    """The V2G energy drawn at the Eq. 16 price: sum_{t,e} rho_e(t) P_e(t) Delta t (currency), or None without EVs."""
    data = ctx.data
    if "ev_discharge" in ctx.variables:
        price = pick(data.price_per_kwh, "site", data.ev_site)
        return (price * ctx.variables["ev_discharge"] * ctx.step_h).sum()
    if "ev_fleet_power" in ctx.variables:
        return (data.price_per_kwh * ctx.variables["ev_fleet_power"] * ctx.step_h).sum()
    return None


def objective_terms(ctx: Context) -> dict[str, object]:
    """The four scaled terms of Eq. 18 as linear expressions (dimensionless)."""
    data, t = ctx.data, ctx.time_dim
    steps = data.sizes[t]
    horizon_h = ctx.horizon_h
    share = ctx.step_h / horizon_h  # each step's share of the horizon (1 / steps for equal steps)
    n_sites = data.sizes["site"]
    terms: dict[str, object] = {}
    if "survival_time_h" in ctx.expressions:
        terms["survival"] = ctx.expressions["survival_time_h"] / horizon_h

    if "site_weighted_service" in ctx.expressions:  # site-level traffic (Stage 1): sum of w_u r_u / D_u per site
        weight = data.site_weight_per_mbps * data.site_demand_mbps
        terms["service"] = (ctx.expressions["site_weighted_service"] * share).sum() / max(float(weight.sum()), 1e-12)
    else:
        demand = data.demand_mbps
        weight = data.user_weight.where(demand > 0, 0.0)
        per_rate = (weight / demand.where(demand > 0, 1.0))  # weight per Mbit/s of the entity
        terms["service"] = (pick(per_rate, "user", data.pair_user) * ctx.expressions["pair_rate"] * share).sum() / float(weight.sum())

    cost = v2g_cost_expression(ctx)
    if cost is not None:
        scale = v2g_cost_scale_per_h(data) * horizon_h
        terms["v2g_cost"] = cost / scale
    if "mode_switch" in ctx.variables:
        terms["mode_switching"] = ctx.variables["mode_switch"].sum() / (n_sites * steps)
    return terms


def eq18_objective(ctx: Context, weights: dict[str, float]):
    """Eq. 18: lambda_1 survival + lambda_2 service - lambda_3 cost - lambda_4 switching (maximised)."""
    terms = objective_terms(ctx)
    ctx.expressions.update({f"objective_{k}": v for k, v in terms.items()})
    sign = {"survival": 1.0, "service": 1.0, "v2g_cost": -1.0, "mode_switching": -1.0}
    return sum(sign[k] * weights[k] * v for k, v in terms.items() if weights.get(k, 0.0) != 0.0)


def add_eq26_remaining_time(
    ctx: Context, power_estimate_kw: xr.DataArray, sites: xr.DataArray | None = None, every_step: bool = False
):
    """Eq. 26, linearised: the least remaining battery time over sites (h).

    ``s <= (E_i(end) - E_i^min) / P_hat_i`` for every site, with the
    denominator P_hat_i (kW, > 0) fixed from data or the previous iterate:
    the max-min of the ratio becomes a max of ``s``. ``sites`` (bool) limits
    the minimum to some sites (the controller leaves out dark ones). With
    ``every_step`` the minimum runs over the energy at the end of every step,
    not only the last: a site that would run dry inside the horizon and be
    refilled later by V2G is not scored as if it survived.
    """
    t = ctx.time_dim
    data = ctx.data
    last = data[t].values[-1:]
    floor = battery_floor_kwh(data)
    horizon_h = ctx.horizon_h
    remaining = ctx.add_variables("eq26_min_remaining_time", (), lower=-10.0 * horizon_h, upper=10.0 * horizon_h)
    energy = ctx.variables["battery_energy"]
    energy_end = energy if every_step else energy.sel({t: last}).sum(t)
    mask = None if sites is None else sites.astype(bool)
    ctx.add_constraints("eq26_min_over_sites", remaining - (energy_end - floor) / power_estimate_kw <= 0, mask=mask)
    ctx.expressions["eq26_min_remaining_time_h"] = remaining
    return remaining


def add_eq27_log_utility(ctx: Context, breakpoints=None):
    """Eq. 27 by tangent cuts: sum_u w_u log(1 + r_u / D_u), scaled by sum_u w_u log 2.

    ``utility`` phi_u(t) <= tangents of log(1 + s) at the breakpoints, with
    s = r_u / D_u in [0, 1] (rates never exceed demand); exact at the
    breakpoints, no binaries (the log is concave and maximised). ``breakpoints``
    default to :data:`LOG_UTILITY_BREAKPOINTS`.
    """
    breakpoints = LOG_UTILITY_BREAKPOINTS if breakpoints is None else tuple(breakpoints)
    data, t = ctx.data, ctx.time_dim
    users = ctx.index("user")
    demand = data.demand_mbps
    per_rate = 1.0 / demand.where(demand > 0, 1.0)
    served = total_by(pick(per_rate, "user", data.pair_user) * ctx.expressions["pair_rate"], ctx.labelled(data.pair_user, "user"), users)
    # r_u / D_u once per user, so each tangent cut reads two terms instead of every pair and band of the user
    # (on models/msrc.yaml's radio LP: 198 non-zeros per user become 45, and HiGHS's presolve has less to read)
    ratio = ctx.add_variables("eq27_served_ratio", ("user", t), lower=0.0)
    ctx.add_constraints("eq27_served_ratio_definition", ratio - served == 0)
    phi = ctx.add_variables("eq27_utility", ("user", t), lower=0.0, upper=math.log(2.0))
    add_tangent_cuts(ctx.model, phi, ratio, breakpoints, numeric.log1p, lambda s: 1.0 / (1.0 + s), ctx.name("eq27_tangent_cuts"))
    weight = data.user_weight.where(demand > 0, 0.0)
    value = (weight * phi).sum() / (float(weight.sum()) * math.log(2.0) * data.sizes[t])
    ctx.expressions["eq27_utility"] = value
    return value


def stage1_objective(
    ctx: Context, weights: dict[str, float], power_estimate_kw: xr.DataArray, sites: xr.DataArray | None = None, every_step: bool = False
):
    """Stage 1 (Sec. IV-1): Eq. 26 as the survival term of Eq. 18.

    ``lambda_1 s / H + lambda_2 service - lambda_3 v2g_cost - lambda_4 switching``, with
    s the least remaining battery time over sites (Eq. 26, h) and H the horizon (h).
    """
    horizon_h = ctx.horizon_h
    remaining = add_eq26_remaining_time(ctx, power_estimate_kw, sites, every_step)
    terms = objective_terms(ctx)
    terms.pop("survival", None)
    objective = weights["survival"] * remaining / horizon_h
    sign = {"service": 1.0, "v2g_cost": -1.0, "mode_switching": -1.0}
    for key, term in terms.items():
        if weights.get(key, 0.0):
            objective = objective + sign[key] * weights[key] * term
    return objective


def stage2_objective(ctx: Context, weights: dict[str, float], breakpoints=None):
    """Stage 2 (Sec. IV-2): Eq. 27 with the energy the step draws and its V2G cost.

    ``lambda_2 Eq27 - lambda_1 E / E_max - lambda_3 v2g_cost``: Eq. 27 alone
    would keep every carrier on; the energy term (site energy drawn, scaled by
    the cluster's largest possible draw) carries the survival weight into the
    fast timescale.
    """
    data, t = ctx.data, ctx.time_dim
    utility = add_eq27_log_utility(ctx, breakpoints)
    peak_kw = peak_supply_kw(data)
    energy = ctx.expressions["site_power"].sum() / (peak_kw * data.sizes[t])
    objective = weights["service"] * utility - weights["survival"] * energy
    if "ev_discharge" in ctx.variables and weights.get("v2g_cost", 0.0):
        objective = objective - weights["v2g_cost"] * objective_terms(ctx)["v2g_cost"]
    if "sla_shortfall" in ctx.variables:
        objective = objective - sla_shortfall_penalty(ctx)
    return objective


# the penalty per unit of SLA shortfall (Eq. 10) of a user of the highest class weight: far above the other
# terms of Stage 2, each scaled to at most 1, so a feasible SLA is always worth more than anything else
SLA_SHORTFALL_PENALTY = 100.0


@with_block_semantics
def sla_shortfall_penalty(ctx: Context):
    """``SLA_SHORTFALL_PENALTY sum_u (w_u / max w) shortfall_u``: unserved SLA users, by class priority."""
    data = ctx.data
    weight = data.user_weight / max(float(data.user_weight.max()), 1e-12)
    return SLA_SHORTFALL_PENALTY * (weight * ctx.variables["sla_shortfall"]).sum() / data.sizes[ctx.time_dim]
