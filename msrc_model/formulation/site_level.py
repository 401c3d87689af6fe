"""Site-level traffic for the Stage-1 planner: offload flows instead of users and bands.

Stage 1 decides modes and links every 15 min over hours; it needs each site's
power per mode and how much traffic a helper takes over, not which user goes
where. This block replaces band activation, association and Eqs. 2-4 of the
per-user model by site-level data computed from the same service physics as
the simulator (:func:`site_level_data`: best servers, the Eq. 7 SINR with the
other sites normal, Shannon rates and the scheduler of
:mod:`msrc_model.physics.service`):

``site_mode_power_kw`` (site, mode)
    Eqs. 2-4 for the site serving its own users in that mode: all bands on
    (normal, helping), the B_low bands only carrying the users within the
    reduced radius (assisted), P_sleep (sleep); RB utilisation is the sum
    of the scheduled band shares (Eq. 11);
``site_power_per_mbps_kw`` (site)
    the extra power per Mbit/s a helper carries for a neighbour (Eq. 3):
    traffic term plus the band shares that traffic needs at the Shannon
    efficiency the neighbours' users see from it;
``site_offload_room_mbps`` (site)
    what a helper can take over on the bands that reach its neighbours'
    users: per band the smaller of its capacity less lambda_loss (Eq. 9)
    less its own traffic, and its unused share times the rate per share
    those users get (Eq. 8);
``arc_reach_sleep_mbps``, ``arc_reach_assisted_mbps`` (edge)
    the demand of the client's users the helper reaches at Gamma_min with
    the client asleep, or assisted (still transmitting B_low, and only its
    users outside the reduced radius) (Eqs. 6-7);
``arc_sla_reach_sleep_mbps``, ``arc_sla_reach_assisted_mbps`` (edge)
    the SLA rates (Eq. 10) of those users.

Variables and constraints (per arc helper -> client, per step):

``offload`` f_ij (Mbit/s)
    traffic of client j carried by helper i; only on arcs with kappa_ij >=
    kappa_min (Eq. 21), only while i helps (Eq. 20) and the link is on
    (Eq. 23), at most what the helper reaches of the client's users in the
    client's mode (``eq6_offload_reach``), at most the client's demand that its mode leaves uncovered
    (Eq. 6: outside the reduced radius when assisted, all of it asleep or
    dark) and at most the helper's room (Eq. 9);
``eq10_site_sla``
    the SLA traffic (Eq. 10) of an assisted or sleeping client is carried;
``eq10_sla_reach_assisted``, ``eq10_sla_reach_sleep``
    and its SLA users are within reach of its helping eligible neighbours:
    the SLA rates they reach sum to at least the client's (a necessary
    condition: a user two helpers reach counts twice).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..physics import (
    ASSISTED,
    HELPING,
    MODES,
    NORMAL,
    SLEEP,
    RadioChannel,
    SitePowerModel,
    band_power_coefficients,
    best_servers,
    carrier_totals,
    deliver,
)
from .context import Context, pick, total_by
from .data import _attrs


# up to this many bands every subset is a Stage-1 carrier set (2^6 - 1 = 63); beyond, nested sets only
ALL_SUBSETS_MAX_BANDS = 6


def _carrier_sets(n_band: int) -> np.ndarray:
    """(set, band) bool: the carrier sets Stage 1 chooses from in normal mode, the full set last.

    Every non-empty subset of the bands up to :data:`ALL_SUBSETS_MAX_BANDS`
    bands; beyond, the nested sets that keep the first 1, 2, ... bands of
    the band table.
    """
    if n_band <= ALL_SUBSETS_MAX_BANDS:
        codes = np.arange(1, 2**n_band)
        return ((codes[:, None] >> np.arange(n_band)[None, :]) & 1).astype(bool)
    return np.tril(np.ones((n_band, n_band), dtype=bool))


def site_level_data(data: xr.Dataset) -> xr.Dataset:
    """Add the site-level traffic and power data of this module to per-user model data.

    Every number comes from the service physics (:mod:`msrc_model.physics.service`)
    at the outage start: users on their best server, the Eq. 7 SINR with
    every other site normal, Shannon rates shared by the scheduler.
    """
    n_sites, n_users = data.sizes["site"], data.sizes["user"]
    channel = RadioChannel.from_data(data)
    pair_user, pair_site = data.pair_user.values, data.pair_site.values
    every = np.ones((n_sites, data.sizes["band"]), dtype=bool)
    best, _ = best_servers(channel, pair_user, pair_site, every)
    valid = best >= 0
    at = np.maximum(best, 0)
    low = data.band_assisted.values.astype(bool)
    capacity = data.capacity_mbps.values
    bandwidth = data.bandwidth_mhz.values
    demand = data.demand_mbps.values
    user_class = data.user_class.values
    class_order = np.argsort(-data.class_weight.values, kind="stable")
    power_model = SitePowerModel.from_data(data)

    def per_site(weights):
        return np.bincount(at[valid], weights=np.asarray(weights, dtype=float)[valid], minlength=n_sites)

    def served(site, band_on):
        """Rates and shares per user and band, every user on ``site`` (-1: none), carriers ``band_on``, every other site normal."""
        _, rate, share = deliver(channel, site, band_on, every, band_on * capacity, demand, user_class, class_order)
        return rate, share

    def carried(site, rate, share):
        return carrier_totals(site, rate, n_sites), np.minimum(carrier_totals(site, share, n_sites), 1.0)

    # normal: every site serves its best-served users with every carrier
    home_pair = np.full(n_users, -1)
    is_best = pair_site == best[pair_user]
    home_pair[pair_user[is_best]] = np.flatnonzero(is_best)
    in_assisted = np.zeros(n_users, dtype=bool)
    in_assisted[home_pair >= 0] = data.pair_coverage.values[home_pair[home_pair >= 0], ASSISTED] > 0
    rate_n, share_n = served(best, every)
    traffic_n, used_n = carried(best, rate_n, share_n)
    # assisted: B_low only, the users inside the reduced radius (the others' traffic goes to helpers)
    low_on = np.broadcast_to(low, every.shape)
    kept = np.where(in_assisted, best, -1)
    rate_a, share_a = served(kept, low_on)
    traffic_a, used_a = carried(kept, rate_a, share_a)
    no = np.zeros(n_sites, dtype=bool)
    normal_kw = power_model.site_kw(every, traffic_n, no, no, used_n)
    power = np.stack(
        [normal_kw, normal_kw, power_model.site_kw(low_on, traffic_a, no, no, used_a), power_model.site_kw(every, traffic_n, ~no, no)],
        axis=1,
    )

    site_demand = per_site(demand)
    safe = np.where(site_demand > 0, site_demand, 1.0)
    user_weight = data.user_weight.values
    per_demand = np.where(demand > 0, 1.0 / np.where(demand > 0, demand, 1.0), 0.0)

    def weighted_service(rate):
        """(site,) sum over the site's users of w_u r_u / D_u, the weighted satisfaction of Eq. 18's service term."""
        return per_site(user_weight * rate.sum(axis=1) * per_demand)

    sla = data.min_rate_mbps.values * data.user_required_share.values

    def sla_kept(rate):
        """(site,) users with an SLA (Eq. 10) served at their minimum rate."""
        return per_site((sla > 0) & (rate.sum(axis=1) >= data.min_rate_mbps.values * (1 - 1e-9)))

    n_class = data.sizes["class"]
    class_key = np.where(valid, at * n_class + user_class, -1)

    def per_site_class(weights):
        """(site, class) sums over the users of each site (by best server) and class."""
        return np.bincount(class_key[valid], weights=np.asarray(weights, dtype=float)[valid], minlength=n_sites * n_class).reshape(n_sites, n_class)

    # each class keeps its QoS target share of its demand at the site, or the full set's share if that is lower
    class_floor = np.minimum(data.class_qos_target.values[None, :] * per_site_class(demand), per_site_class(rate_n.sum(axis=1)))

    def class_shares_kept(rate):
        """(site,) every class is served at least its floor."""
        return (per_site_class(rate.sum(axis=1)) >= class_floor * (1 - 1e-9)).all(axis=1)

    # normal mode with fewer carriers (Eq. 24): every non-empty subset of the bands, each site serving its
    # own users on it; a subset is allowed at a site if it serves every SLA user the full set serves there
    # and keeps every class at its QoS target (Table III), or at the full set's share where that is lower
    carrier_sets = _carrier_sets(len(capacity))
    set_power = np.empty((n_sites, len(carrier_sets)))
    set_served = np.empty((n_sites, len(carrier_sets)))
    set_weighted = np.empty((n_sites, len(carrier_sets)))
    set_allowed = np.empty((n_sites, len(carrier_sets)), dtype=bool)
    sla_full = sla_kept(rate_n)
    for k, carriers in enumerate(carrier_sets[:-1]):  # a handful of subsets, each one vectorised over sites and users
        on = np.broadcast_to(carriers, every.shape)
        rate_k, share_k = served(best, on)
        traffic_k, used_k = carried(best, rate_k, share_k)
        set_power[:, k] = power_model.site_kw(on, traffic_k, no, no, used_k)
        set_served[:, k] = per_site(rate_k.sum(axis=1))
        set_weighted[:, k] = weighted_service(rate_k)
        set_allowed[:, k] = (sla_kept(rate_k) >= sla_full) & class_shares_kept(rate_k)
    # the full set (last) is normal mode as computed above, and the reference: always allowed
    set_power[:, -1], set_served[:, -1], set_weighted[:, -1], set_allowed[:, -1] = normal_kw, per_site(rate_n.sum(axis=1)), weighted_service(rate_n), True
    normal_share = per_site(rate_n.sum(axis=1)) / safe
    keep_share = per_site(rate_a.sum(axis=1)) / safe
    site_sla = per_site(sla)
    sla_outside = per_site(sla * ~in_assisted)
    weight_per_mbps = per_site(data.user_weight.values) / safe

    # helping by the bands that reach: per arc i -> j, the demand of j's users i reaches at Gamma_min
    # (j asleep, so it does not interfere), and the Shannon efficiency they see per band
    helper, client = data.edge_helper.values, data.edge_assisted.values
    # every (arc, user of the arc's client) row at once: users grouped by best server, then repeated per arc
    grouped = np.flatnonzero(valid)[np.argsort(best[valid], kind="stable")]
    counts = np.bincount(best[valid], minlength=n_sites)
    starts = np.cumsum(counts) - counts
    per_arc = counts[client]
    arc_index = np.repeat(np.arange(len(client)), per_arc)
    offsets = np.arange(per_arc.sum()) - np.repeat(np.cumsum(per_arc) - per_arc, per_arc)
    arc_user = grouped[np.repeat(starts[client], per_arc) + offsets]
    n_arcs = len(helper)
    reach_sleep, reach_assisted = np.zeros(n_arcs), np.zeros(n_arcs)
    sla_reach_sleep, sla_reach_assisted = np.zeros(n_arcs), np.zeros(n_arcs)
    efficiency_sum = np.zeros((n_sites, len(capacity)))
    demand_sum = np.zeros((n_sites, len(capacity)))
    if arc_user.size:
        # client asleep: it does not interfere; client assisted: it still transmits its B_low carriers
        sinr_sleep = channel.sinr_db(arc_user, helper[arc_index], every, silent=client[arc_index])
        sinr_on = channel.sinr_db(arc_user, helper[arc_index], every)
        efficiency = channel.spectral_efficiency(sinr_sleep)
        # only users the helper has a candidate pair with (within its R_exp, among the user's strongest)
        pair_key = np.sort(pair_user.astype(np.int64) * n_sites + pair_site)
        arc_key = arc_user.astype(np.int64) * n_sites + helper[arc_index]
        paired = np.zeros(len(arc_key), dtype=bool)
        if len(pair_key):
            paired = pair_key[np.minimum(np.searchsorted(pair_key, arc_key), len(pair_key) - 1)] == arc_key
        efficiency = np.where(paired[:, None], efficiency, 0.0)
        reached_sleep = efficiency.max(axis=1) > 0
        reached_assisted = (channel.spectral_efficiency(np.where(low[None, :], sinr_on, sinr_sleep)).max(axis=1) > 0) & paired & ~in_assisted[arc_user]
        sla_of = data.min_rate_mbps.values * data.user_required_share.values
        reach_sleep = np.bincount(arc_index, weights=demand[arc_user] * reached_sleep, minlength=n_arcs)
        reach_assisted = np.bincount(arc_index, weights=demand[arc_user] * reached_assisted, minlength=n_arcs)
        sla_reach_sleep = np.bincount(arc_index, weights=sla_of[arc_user] * reached_sleep, minlength=n_arcs)
        sla_reach_assisted = np.bincount(arc_index, weights=sla_of[arc_user] * reached_assisted, minlength=n_arcs)
        np.add.at(efficiency_sum, helper[arc_index], efficiency * demand[arc_user][:, None])
        np.add.at(demand_sum, helper[arc_index], (efficiency > 0) * demand[arc_user][:, None])
    typical_efficiency = np.where(demand_sum > 0, efficiency_sum / np.maximum(demand_sum, 1e-300), 0.0)
    per_share = typical_efficiency * bandwidth  # Mbit/s per unit share for taken-over users
    room_band = np.minimum(
        np.maximum(capacity * (1.0 - float(data.helping_overhead)) - traffic_n, 0.0),
        np.maximum(1.0 - used_n, 0.0) * per_share,
    )
    room = room_band.sum(axis=1)
    _, utilisation_kw, traffic_kw_per_mbps = (c.values for c in band_power_coefficients(data))
    # extra power per Mbit/s taken over: traffic term plus the shares it needs, over the bands with room
    per_band_kw = traffic_kw_per_mbps + utilisation_kw / np.where(per_share > 0, per_share, np.inf)
    weights = np.where(room[:, None] > 0, room_band / np.maximum(room[:, None], 1e-300), 0.0)
    per_mbps = float(data.power_scale) * (weights * per_band_kw).sum(axis=1)
    per_mbps = np.where(room > 0, per_mbps, float(data.power_scale) * per_band_kw.min(axis=1, initial=np.inf))
    per_mbps = np.where(np.isfinite(per_mbps), per_mbps, 0.0)

    out = data.copy()
    band_names = data.band.values
    out = out.assign_coords(carrier_set=["+".join(str(b) for b in band_names[c]) for c in carrier_sets])
    out["carrier_set_band"] = (("carrier_set", "band"), carrier_sets, _attrs("1", "the carriers on in each Stage-1 carrier set (Eq. 24)"))
    out["site_carrier_set_power_kw"] = (
        ("site", "carrier_set"), set_power, _attrs("kW", "site power in normal mode on each carrier set, serving its own users (Eqs. 2-4)")
    )
    out["site_carrier_set_served_mbps"] = (
        ("site", "carrier_set"), set_served, _attrs("Mbit/s", "rates the site's users get from it on each carrier set (Eqs. 7-9)")
    )
    out["site_carrier_set_weighted_service"] = (
        ("site", "carrier_set"), set_weighted, _attrs("1", "sum of w_u r_u / D_u over the site's users on each carrier set (Eq. 18 service)")
    )
    out["site_carrier_set_allowed"] = (
        ("site", "carrier_set"), set_allowed, _attrs("1", "the carrier set serves every SLA user (Eq. 10) the full set serves at the site and keeps every class at its QoS target")
    )
    out["site_assisted_weighted_service"] = ("site", weighted_service(rate_a), _attrs("1", "sum of w_u r_u / D_u over the site's users, assisted"))
    out["site_demand_mbps"] = ("site", site_demand, _attrs("Mbit/s", "demand of the users whose best server this is"))
    out["site_normal_share"] = ("site", normal_share, _attrs("1", "demand share of the site's users it serves in normal mode"))
    out["site_keep_share"] = ("site", keep_share, _attrs("1", "demand share of the site's users it serves assisted (B_low, reduced radius)"))
    out["site_sla_mbps"] = ("site", site_sla, _attrs("Mbit/s", "SLA minimum rates of the site's users (Eq. 10)"))
    out["site_sla_outside_mbps"] = ("site", sla_outside, _attrs("Mbit/s", "SLA rates of the site's users outside the reduced radius"))
    out["site_weight_per_mbps"] = ("site", weight_per_mbps, _attrs("1/(Mbit/s)", "priority weight per Mbit/s of the site's demand"))
    out["site_mode_power_kw"] = (("site", "mode"), power, _attrs("kW", "site power serving its own users in each mode (Eqs. 2-4, 7-9)"))
    out["site_power_per_mbps_kw"] = ("site", per_mbps, _attrs("kW/(Mbit/s)", "extra helper power per Mbit/s taken over (Eq. 3)"))
    out["site_offload_room_mbps"] = ("site", room, _attrs("Mbit/s", "traffic a helper can take over on the bands that reach (Eqs. 8-9)"))
    out["arc_reach_sleep_mbps"] = ("edge", reach_sleep, _attrs("Mbit/s", "demand of the client's users the helper reaches at Gamma_min, client asleep (Eqs. 6-7)"))
    out["arc_reach_assisted_mbps"] = (
        "edge", reach_assisted, _attrs("Mbit/s", "demand of the assisted client's users outside its reduced radius the helper reaches (Eqs. 6-7)")
    )
    out["arc_sla_reach_sleep_mbps"] = ("edge", sla_reach_sleep, _attrs("Mbit/s", "SLA rates (Eq. 10) of the users in arc_reach_sleep_mbps"))
    out["arc_sla_reach_assisted_mbps"] = ("edge", sla_reach_assisted, _attrs("Mbit/s", "SLA rates (Eq. 10) of the users in arc_reach_assisted_mbps"))
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
    # normal mode on a carrier set (Eq. 24): the shares of the step spent on each set add up to gamma_normal
    carrier_set = ctx.add_variables(
        "carrier_set", ("site", "carrier_set", t), lower=0.0, upper=1.0,
        mask=data.site_carrier_set_allowed.astype(bool) & xr.ones_like(data[t], dtype=bool),
    )
    ctx.add_constraints("eq24_carrier_set", carrier_set.sum("carrier_set") - mode(NORMAL) == 0)
    own = (
        demand * (data.site_normal_share * mode(HELPING) + data.site_keep_share * mode(ASSISTED))
        + (data.site_carrier_set_served_mbps * carrier_set).sum("carrier_set")
    )
    own_weighted = (
        data.site_carrier_set_weighted_service.isel(carrier_set=-1, drop=True) * mode(HELPING)  # helping: every carrier on
        + data.site_assisted_weighted_service * mode(ASSISTED)
        + (data.site_carrier_set_weighted_service * carrier_set).sum("carrier_set")
    )
    others = [m for m in MODES if m != MODES[NORMAL]]
    own_power = (data.site_mode_power_kw.sel(mode=others) * gamma.sel(mode=others)).sum("mode") + (
        data.site_carrier_set_power_kw * carrier_set
    ).sum("carrier_set")
    if data.sizes["edge"] == 0:  # no neighbours: no offload (Eqs. 20-21 keep every site normal, asleep or dark)
        ctx.expressions["site_served_mbps"] = own
        ctx.expressions["site_weighted_service"] = own_weighted
        ctx.expressions["site_power"] = own_power
        return
    helper, client = data.edge_helper, data.edge_assisted
    # what the helper's bands reach of the client's users (Eqs. 6-7), only on eligible arcs (Eq. 21)
    upper = data.arc_reach_sleep_mbps * data.kappa_ok
    flow = ctx.add_variables("offload", ("edge", t), lower=0.0, upper=xr.ones_like(data[t], dtype=float) * upper)
    ctx.add_constraints("eq20_offload_needs_helping", flow - upper * pick(mode(HELPING), "site", helper) <= 0)
    ctx.add_constraints("eq23_offload_needs_link", flow - upper * ctx.expressions["link_at_arc"] <= 0)
    client_assisted = pick(mode(ASSISTED), "site", client)
    client_silent = pick(mode(SLEEP) + dark, "site", client)
    ctx.add_constraints(
        "eq6_offload_reach", flow - data.arc_reach_assisted_mbps * client_assisted - data.arc_reach_sleep_mbps * client_silent <= 0
    )
    # the SLA users (Eq. 10) an assisted or sleeping site hands over must be within reach of its helping neighbours
    helping_eligible = pick(mode(HELPING), "site", helper) * data.kappa_ok.astype(float)
    client_label = ctx.labelled(client, "site")
    for client_mode, reach, must in (
        (ASSISTED, data.arc_sla_reach_assisted_mbps, data.site_sla_outside_mbps),
        (SLEEP, data.arc_sla_reach_sleep_mbps, data.site_sla_mbps),
    ):
        reachable = total_by(reach * helping_eligible, client_label, sites)
        ctx.add_constraints(f"eq10_sla_reach_{MODES[client_mode]}", reachable - must * mode(client_mode) >= 0)
    incoming = total_by(flow, ctx.labelled(client, "site"), sites)
    outgoing = total_by(flow, ctx.labelled(helper, "site"), sites)
    uncovered = demand * ((1 - data.site_keep_share) * mode(ASSISTED) + mode(SLEEP) + dark)
    ctx.add_constraints("eq6_offload_uncovered_only", incoming - uncovered <= 0)
    ctx.add_constraints("eq9_offload_room", outgoing - data.site_offload_room_mbps * mode(HELPING) <= 0)
    ctx.add_constraints(
        "eq10_site_sla", incoming - data.site_sla_outside_mbps * mode(ASSISTED) - data.site_sla_mbps * mode(SLEEP) >= 0
    )
    ctx.expressions["site_served_mbps"] = own + incoming
    ctx.expressions["site_weighted_service"] = own_weighted + data.site_weight_per_mbps * incoming
    ctx.expressions["site_power"] = own_power + data.site_power_per_mbps_kw * outgoing
