"""Site-level traffic for the Stage-1 planner: offload flows instead of users and bands.

Stage 1 decides modes and links every 15 min over hours; it needs each site's
power per mode and how much traffic a helper takes over, not which user goes
where. This block replaces band activation, association and Eqs. 2-4 of the
per-user model by site-level data computed from them (:func:`site_level_data`):

``site_mode_power_kw`` (site, mode)
    Eqs. 2-4 for the site serving its own users in that mode: all bands on
    (normal, helping), the B_low bands only carrying the users within the
    reduced radius (assisted), P_sleep (sleep);
``site_power_per_mbps_kw`` (site)
    the extra power per Mbit/s a helper carries for a neighbour (Eq. 3);
``site_offload_room_mbps`` (site)
    what a helper can take over: its capacity less the helping overhead
    lambda_loss (Eq. 9) less its own traffic.

Variables and constraints (per arc helper -> client, per step):

``offload`` f_ij (Mbit/s)
    traffic of client j carried by helper i; only on arcs with kappa_ij >=
    kappa_min (Eq. 21), only while i helps (Eq. 20) and the link is on
    (Eq. 23), at most the client's demand that its mode leaves uncovered
    (Eq. 6: outside the reduced radius when assisted, all of it asleep or
    dark) and at most the helper's room (Eq. 9);
``eq10_site_sla``
    the SLA traffic (Eq. 10) of an assisted or sleeping client is carried.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..physics import ASSISTED, HELPING, MODES, NORMAL, SLEEP, band_power_coefficients, band_traffic_mbps, home_site, site_power_kw
from .context import Context, pick, total_by
from .data import _attrs


def site_level_data(data: xr.Dataset) -> xr.Dataset:
    """Add the site-level traffic and power data of this module to per-user model data."""
    n_sites = data.sizes["site"]
    home = home_site(data)
    valid = home >= 0
    pair_home = data.pair_home.values
    home_pair = np.full(data.sizes["user"], -1)
    home_pair[data.pair_user.values[pair_home]] = np.flatnonzero(pair_home)
    in_normal = np.zeros(data.sizes["user"])
    in_assisted = np.zeros(data.sizes["user"])
    in_normal[home_pair >= 0] = data.pair_coverage.values[home_pair[home_pair >= 0], NORMAL]
    in_assisted[home_pair >= 0] = data.pair_coverage.values[home_pair[home_pair >= 0], ASSISTED]

    def per_site(weights):
        return np.bincount(home[valid], weights=np.asarray(weights, dtype=float)[valid], minlength=n_sites)

    demand = data.demand_mbps.values
    sla = data.min_rate_mbps.values * data.user_required_share.values
    site_demand = per_site(demand)
    safe = np.where(site_demand > 0, site_demand, 1.0)
    normal_share = per_site(demand * in_normal) / safe
    keep_share = per_site(demand * in_assisted) / safe
    site_sla = per_site(sla)
    sla_outside = per_site(sla * (1 - in_assisted))
    weight_per_mbps = per_site(data.user_weight.values) / safe

    capacity = data.capacity_mbps.values
    low = data.band_assisted.values.astype(bool)
    all_on = np.ones((n_sites, capacity.size), dtype=bool)
    low_on = np.broadcast_to(low, (n_sites, capacity.size))
    normal_traffic = band_traffic_mbps(np.minimum(normal_share * site_demand, capacity.sum()), all_on, capacity)
    low_capacity = capacity[low].sum()
    assisted_traffic = band_traffic_mbps(np.minimum(keep_share * site_demand, low_capacity), low_on, capacity)
    no = np.zeros(n_sites, dtype=bool)
    power = np.stack(
        [
            site_power_kw(data, all_on, normal_traffic, no, no),
            site_power_kw(data, all_on, normal_traffic, no, no),
            site_power_kw(data, low_on, assisted_traffic, no, no),
            site_power_kw(data, all_on, normal_traffic, ~no, no),
        ],
        axis=1,
    )
    _, utilisation_kw, traffic_kw_per_mbps = (c.values for c in band_power_coefficients(data))
    per_mbps = float(data.power_scale) * float(((utilisation_kw / capacity + traffic_kw_per_mbps) * capacity / capacity.sum()).sum())
    room = np.maximum(capacity.sum() * (1.0 - float(data.helping_overhead)) - normal_share * site_demand, 0.0)

    out = data.copy()
    out["site_demand_mbps"] = ("site", site_demand, _attrs("Mbit/s", "demand of the users whose strongest site this is"))
    out["site_normal_share"] = ("site", normal_share, _attrs("1", "demand share of the site's users within R_nom"))
    out["site_keep_share"] = ("site", keep_share, _attrs("1", "demand share of the site's users within the reduced radius"))
    out["site_sla_mbps"] = ("site", site_sla, _attrs("Mbit/s", "SLA minimum rates of the site's users (Eq. 10)"))
    out["site_sla_outside_mbps"] = ("site", sla_outside, _attrs("Mbit/s", "SLA rates of the site's users outside the reduced radius"))
    out["site_weight_per_mbps"] = ("site", weight_per_mbps, _attrs("1/(Mbit/s)", "priority weight per Mbit/s of the site's demand"))
    out["site_mode_power_kw"] = (("site", "mode"), power, _attrs("kW", "site power serving its own users in each mode (Eqs. 2-4)"))
    out["site_power_per_mbps_kw"] = ((), per_mbps, _attrs("kW/(Mbit/s)", "extra helper power per Mbit/s taken over (Eq. 3)"))
    out["site_offload_room_mbps"] = ("site", room, _attrs("Mbit/s", "traffic a helper can take over (Eq. 9)"))
    return out


def add_site_offload(ctx: Context) -> None:
    """Offload flows, site service and site power from site-level data (see the module)."""
    data, t = ctx.data, ctx.time_dim
    sites = ctx.index("site")
    gamma = ctx.expressions["gamma"]
    dark = ctx.expressions["dark"]

    def mode(m):
        return gamma.sel(mode=MODES[m], drop=True)

    demand = data.site_demand_mbps
    helper, client = data.edge_helper, data.edge_assisted
    client_demand = demand.isel(site=client).drop_vars("site")
    upper = client_demand * data.kappa_ok
    flow = ctx.add_variables("offload", ("edge", t), lower=0.0, upper=xr.ones_like(data[t], dtype=float) * upper)
    ctx.add_constraints("eq20_offload_needs_helping", flow - client_demand * pick(mode(HELPING), "site", helper) <= 0)
    ctx.add_constraints("eq23_offload_needs_link", flow - client_demand * ctx.expressions["link_at_arc"] <= 0)
    incoming = total_by(flow, ctx.labelled(client, "site"), sites)
    outgoing = total_by(flow, ctx.labelled(helper, "site"), sites)
    uncovered = demand * ((1 - data.site_keep_share) * mode(ASSISTED) + mode(SLEEP) + dark)
    ctx.add_constraints("eq6_offload_uncovered_only", incoming - uncovered <= 0)
    ctx.add_constraints("eq9_offload_room", outgoing - data.site_offload_room_mbps * mode(HELPING) <= 0)
    ctx.add_constraints(
        "eq10_site_sla", incoming - data.site_sla_outside_mbps * mode(ASSISTED) - data.site_sla_mbps * mode(SLEEP) >= 0
    )
    own = demand * (data.site_normal_share * (mode(NORMAL) + mode(HELPING)) + data.site_keep_share * mode(ASSISTED))
    ctx.expressions["site_served_mbps"] = own + incoming
    ctx.expressions["site_power"] = (data.site_mode_power_kw * gamma).sum("mode") + float(data.site_power_per_mbps_kw) * outgoing
