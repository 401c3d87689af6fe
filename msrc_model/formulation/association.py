"""Coverage, user association, band shares, rates and capacity (Eqs. 5-11).

Variables (per pair and time):

``association`` x_{i,u}(t)
    share of the demand entity's traffic served by the pair's site: binary for
    single users (the paper's x), continuous in [0, 1] for traffic groups;
``band_share`` chi_{i,u}^(b)(t)
    share of band b of the site given to the pair (Eq. 8), only on bands the
    pair decodes.

Expressions: ``pair_rate`` r_{i,u} (Mbit/s, Eq. 8), ``band_traffic`` nu^(b)
and ``band_utilisation`` rho^(b) per site (Eq. 11).
"""

from __future__ import annotations

import xarray as xr

from .context import Context, pick, total_by
from .data import coverage_under
from .linearise import add_binary_continuous_product


def association_upper(data: xr.Dataset, gamma: xr.DataArray, binary: bool = False) -> xr.DataArray:
    """Upper bound of the association x (pair, time) under fixed modes: the Eq. 6 coverage of the pair's site in its mode."""
    reach = coverage_under(data, gamma)
    return reach if binary else reach.clip(max=1.0)


def band_share_terms(rate: xr.DataArray, mask: xr.DataArray, association_upper: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """(upper bound of chi, coefficient of chi in the traffic row) per pair, band and time, for band shares on ``mask``.

    A band share exists wherever ``mask`` holds. It is held at 0 where the rate (Mbit/s per unit
    share) is 0 or the pair cannot be associated (``association_upper`` 0: Eq. 8's ``r <= D x``
    zeroes it anyway; the bound says so to the solver's presolve). Where the rate is 0 the row's
    coefficient reads 1 (any non-zero value: chi is 0), so the rows keep one pattern of
    coefficients whatever the rates.
    """
    usable = (rate > 0) & mask
    return (usable & (association_upper > 0)).astype(float), rate.where(usable, 1.0)


def available_capacity_per_band(data: xr.Dataset, helping: xr.DataArray) -> xr.DataArray:
    """C^(b) (1 - lambda_loss 1[helping]) (Mbit/s, site x band x time): Eq. 9's capacity of a carrier under fixed modes."""
    return data.capacity_mbps * (1.0 - float(data.helping_overhead) * helping)


def add_association(
    ctx: Context,
    binary: bool = True,
    alive: object = 1.0,
    required_share: xr.DataArray | None = None,
    sla_shortfall: bool = False,
    band_share_mask: xr.DataArray | None = None,
) -> None:
    """Eqs. 6, 8, 10 and 11.

    Parameters
    ----------
    binary:
        Binary association (single users) or continuous shares (groups).
    alive:
        Network-alive indicator (a time-indexed variable in the plan, 1 in
        Stage 2): while the network is alive every SLA user must be served.
    required_share:
        Override of ``user_required_share`` (user), e.g. users a Stage-2
        problem cannot reach under its fixed modes.
    sla_shortfall:
        Eq. 10's obligation with a slack: ``sla_shortfall`` (user, time, share
        of the user) may make up what cannot be served, so the problem is
        always feasible; the caller penalises it in the objective.
    band_share_mask:
        (pair, band) bool, fixed modes only: band shares on exactly these pairs and bands, and the
        traffic of each a variable ``pair_band_traffic`` defined by the one row ``eq8_pair_band_traffic``
        (rate x chi), so the rates can change later through that row's coefficients alone
        (:func:`band_share_terms`). Default: shares where the rate is positive, traffic as an expression.
    """
    data, t = ctx.data, ctx.time_dim
    sites = ctx.index("site")
    pair_site = data.pair_site
    site_label = ctx.labelled(pair_site, "site")
    rate = data.pair_rate_per_share_mbps  # Mbit/s per unit band share

    gamma = ctx.expressions["gamma"]
    fixed = isinstance(gamma, xr.DataArray)
    if fixed:
        # Eq. 6 with the modes known is an upper bound of x
        kind = {"integer": True} if binary else {}
        x_upper = association_upper(data, gamma, binary)
        x = ctx.add_variables("association", ("pair", t), lower=0.0, upper=x_upper, **kind)
    else:
        x = ctx.add_variables("association", ("pair", t), binary=binary, **({} if binary else {"lower": 0.0, "upper": 1.0}))
        gamma_at_pair = pick(gamma, "site", pair_site)
        ctx.add_constraints("eq6_coverage", x - (data.pair_coverage * gamma_at_pair).sum("mode") <= 0)
    if band_share_mask is None:
        chi = ctx.add_variables("band_share", ("pair", "band", t), lower=0.0, upper=1.0, mask=rate > 0)
    else:
        share_upper, rate_coefficient = band_share_terms(rate, band_share_mask, x_upper)
        chi = ctx.add_variables("band_share", ("pair", "band", t), lower=0.0, upper=share_upper, mask=band_share_mask)
    # chi <= x needs no row of its own: r_p <= D_u x_p (below) zeroes every chi of an unused pair
    z = ctx.variables["band_on"]
    ctx.add_constraints("eq8_band_budget", total_by(chi, site_label, sites) - z <= 0)
    # chi <= z per pair needs no row either: the budget implies it, the shares being >= 0

    if band_share_mask is None:
        traffic = rate * chi  # Mbit/s per pair and band
    else:
        # the rates in one row: traffic (Mbit/s per pair and band) = rate x chi, so a caller changes only its coefficients
        traffic = ctx.add_variables("pair_band_traffic", ("pair", "band", t), lower=0.0, mask=band_share_mask)
        ctx.add_constraints("eq8_pair_band_traffic", traffic - rate_coefficient * chi == 0, mask=band_share_mask)
    pair_rate = traffic.sum("band")
    ctx.expressions["pair_rate"] = pair_rate
    ctx.expressions["band_traffic"] = total_by(traffic, site_label, sites)  # nu_DL^(b), Eq. 11
    ctx.expressions["band_utilisation"] = total_by(chi, site_label, sites)  # rho_DL^(b), Eq. 11

    demand = pick(data.demand_mbps, "user", data.pair_user)
    minimum = pick(data.min_rate_mbps, "user", data.pair_user)
    ctx.add_constraints("eq8_rate_within_demand", pair_rate - demand * x <= 0)
    has_sla = minimum > 0
    if bool(has_sla.any()):
        ctx.add_constraints("eq10_sla_rate", (pair_rate - minimum * x).where(has_sla) >= 0)

    _add_service_obligation(ctx, x, alive, required_share, sla_shortfall, every_sla_user=band_share_mask is not None)

    # Eq. 9: capacity, less the scheduling overhead while helping
    ctx.add_constraints("eq9_capacity", total_by(pair_rate, site_label, sites) - _available_capacity(ctx) <= 0)


def _add_service_obligation(
    ctx: Context, x, alive: object, required_share: xr.DataArray | None, sla_shortfall: bool = False, every_sla_user: bool = False
) -> None:
    """Eq. 6 (at most one server, or a share of 1) and Eq. 10's obligation to serve SLA users while alive.

    With ``every_sla_user`` every user the data obliges has a row, also one ``required_share`` lets off
    (its right-hand side then 0), so a caller can change the shares through right-hand sides and bounds.
    """
    data = ctx.data
    served = total_by(x, ctx.labelled(data.pair_user, "user"), ctx.index("user"))
    ctx.expressions["served_share"] = served
    ctx.add_constraints("eq6_one_server", served <= 1)
    share = data.user_required_share if required_share is None else required_share
    rows = (data.user_required_share > 0) if every_sla_user else (share > 0)
    if not bool(rows.any()):
        return
    obliged = served
    if sla_shortfall:
        shortfall = ctx.add_variables(
            "sla_shortfall", ("user", ctx.time_dim), lower=0.0, upper=share * xr.ones_like(data[ctx.time_dim], dtype=float),
            mask=rows & xr.ones_like(data[ctx.time_dim], dtype=bool),
        )
        obliged = served + shortfall
    ctx.add_constraints("eq10_sla_served", (obliged - share * alive).where(rows) >= 0)


def _available_capacity(ctx: Context):
    """Right-hand side of Eq. 9: sum_b z C^(b) (1 - lambda_loss 1[helping]), in Mbit/s.

    With modes as variables, ``gamma_help * sum_b z C^(b)`` (binary times a
    bounded sum) is linearised by McCormick; only its lower side is needed,
    since the overhead only ever shrinks the capacity.
    """
    data = ctx.data
    gamma = ctx.expressions["gamma"]
    helping = gamma.sel(mode="helping", drop=True)
    capacity = data.capacity_mbps
    if isinstance(gamma, xr.DataArray):
        return (available_capacity_per_band(data, helping) * ctx.variables["band_on"]).sum("band")
    active = (capacity * ctx.variables["band_on"]).sum("band")
    overhead = float(data.helping_overhead)
    helping_capacity = add_binary_continuous_product(
        ctx.model, helping, active, 0.0, float(capacity.sum()), ctx.name("helping_capacity"), sides="lower"
    )
    ctx.variables["helping_capacity"] = helping_capacity
    return active - overhead * helping_capacity


def add_traffic_flows(ctx: Context, alive: object = 1.0, required_share: xr.DataArray | None = None) -> None:
    """Eqs. 6 and 9-11 aggregated for slow-timescale planning (Stage 1, the plan).

    Instead of per-pair band shares (Eq. 8), each site carries band traffic
    ``band_flow`` nu_i^(b) (Mbit/s) up to the band capacity C^(b) (Eq. 9):
    RB utilisation is taken as nu / C. The association x of a traffic group
    to a site is the share of the group's demand the site carries, so the
    group's served ratio r / D equals its association. This keeps the
    problem a few hundred columns per time step; Stage 2 restores the
    per-user Shannon rates of Eq. 8.
    """
    data, t = ctx.data, ctx.time_dim
    sites = ctx.index("site")
    site_label = ctx.labelled(data.pair_site, "site")
    gamma = ctx.expressions["gamma"]
    z = ctx.variables["band_on"]
    capacity = data.capacity_mbps

    x = ctx.add_variables("association", ("pair", t), lower=0.0, upper=1.0)
    ctx.add_constraints("eq6_coverage", x - (data.pair_coverage * pick(gamma, "site", data.pair_site)).sum("mode") <= 0)
    flow = ctx.add_variables("band_flow", ("site", "band", t), lower=0.0, upper=xr.ones_like(capacity) * capacity)
    demand = pick(data.demand_mbps, "user", data.pair_user)
    pair_rate = demand * x
    ctx.expressions["pair_rate"] = pair_rate
    ctx.add_constraints("eq11_flow_conservation", total_by(pair_rate, site_label, sites) - flow.sum("band") == 0)
    ctx.add_constraints("eq9_band_capacity", flow - capacity * z <= 0)
    ctx.add_constraints("eq9_capacity", flow.sum("band") - _available_capacity(ctx) <= 0)
    ctx.expressions["band_traffic"] = flow
    ctx.expressions["band_utilisation"] = flow / capacity

    _add_service_obligation(ctx, x, alive, required_share)
