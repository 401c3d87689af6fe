"""The model's view of the inputs: mode coverage, time grid, aggregated traffic.

The formulation blocks read a *model data* Dataset made from the inputs
Dataset by :func:`model_data`. It keeps the inputs' dimensions and adds

``mode``
    the four cooperation modes of Sec. II-A (normal, helping, assisted, sleep);
``pair_coverage`` (pair, mode)
    the share (0..1) of the pair's demand a site in that mode may serve
    (Eq. 6 with the mode radii of Eq. 5). In normal mode the simulator lets
    the Eq. 7 SINR decide; a model whose modes and carriers are decisions
    cannot evaluate that SINR, so here a normal site covers the users inside
    its nominal radius and the users it is the best server of (every site
    normal, :func:`msrc_model.physics.best_servers`);
``pair_rate_per_share_mbps`` (pair, band)
    ``B^(b) log2(1 + SINR)``: the rate of the pair per unit band share chi (Eq. 8);
``user_required_share`` (user)
    the share of the user's demand entity that Eq. 10 obliges the network to
    serve (SLA users with a feasible site);
``ev_presence`` (ev, time)
    the share of each time step the EV is parked;
``price_per_kwh`` (site, time)
    the V2G price of Eq. 16 from an a-priori survival estimate.

A "user" of the model data is either one user (per-user association, the
paper's x_{i,u}) or, after :func:`aggregate_users`, a traffic group of users
sharing a home site and a class, whose association is the served share.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..physics import (
    MODES,
    NORMAL,
    BatteryLimits,
    RadioChannel,
    best_servers,
    home_site,
    pair_mode_coverage,
    reference_site_power_kw,
    v2g_price_per_kwh,
)


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def normal_mode_pairs(inputs: xr.Dataset) -> np.ndarray:
    """(pair,) bool: the pairs a normal site covers in the model, inside its nominal radius or its best-served users."""
    pair_user, pair_site = inputs.pair_user.values, inputs.pair_site.values
    every = np.ones((inputs.sizes["site"], inputs.sizes["band"]), dtype=bool)
    best, _ = best_servers(RadioChannel.from_data(inputs), pair_user, pair_site, every)
    return inputs.pair_in_normal_radius.values.astype(bool) | (pair_site == best[pair_user])


def time_grid_s(max_duration_s: float, step_s: float) -> np.ndarray:
    """Start times (s) of the steps covering [0, max_duration_s)."""
    count = int(np.floor(max_duration_s / step_s + 1e-9))
    return np.arange(max(count, 1)) * step_s


def presence_share(arrival_s: np.ndarray, departure_s: np.ndarray, start_s: np.ndarray, step_s) -> np.ndarray:
    """Share of each step [t, t + step) an EV spends parked, shape (ev, time)."""
    step = np.broadcast_to(np.asarray(step_s, dtype=float), start_s.shape)[None, :]
    begin = np.maximum(arrival_s[:, None], start_s[None, :])
    end = np.minimum(departure_s[:, None], start_s[None, :] + step)
    return np.clip((end - begin) / step, 0.0, 1.0)


def model_data(
    inputs: xr.Dataset,
    step_s: float | None = None,
    max_duration_s: float | None = None,
    steps_s: np.ndarray | list[float] | None = None,
) -> xr.Dataset:
    """Model data on a time grid of ``step_s`` seconds (default: the inputs' grid).

    Parameters
    ----------
    inputs:
        The inputs Dataset (:func:`msrc_model.inputs.build_inputs`).
    step_s:
        Length of a model time step, s (Stage 2: 30 s; Stage 1 and the plan: 900 s).
    max_duration_s:
        End of the horizon, s (default: the last instant of the inputs).
    steps_s:
        Lengths of unequal steps, s, in place of ``step_s`` and
        ``max_duration_s`` (move blocking: a short first step, longer ones
        after it); ``time_step_h`` is then per step.
    """
    if steps_s is not None:
        lengths = np.asarray(steps_s, dtype=float)
        if lengths.ndim != 1 or lengths.size == 0 or (lengths <= 0).any():
            raise ValueError(f"steps_s must be positive step lengths, got {steps_s!r}")
        start_s = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        step = lengths
    else:
        step = float(step_s if step_s is not None else inputs.time_step_s)
        end = float(max_duration_s if max_duration_s is not None else inputs.time.values[-1] + float(inputs.time_step_s))
        start_s = time_grid_s(end, step)

    pair_site = inputs.pair_site.values
    coverage = pair_mode_coverage(inputs)[:, : len(MODES)].astype(float)  # dark, the fifth code, is no mode
    coverage[:, NORMAL] = normal_mode_pairs(inputs)
    required = (inputs.min_rate_mbps.values > 0) & inputs.user_covered.values

    # a-priori Eq. 16 price: the battery's usable energy at the outage start run down at the reference power
    battery = BatteryLimits.from_data(inputs)
    usable_kwh = battery.usable_kwh(battery.initial_kwh)
    reference = reference_site_power_kw(inputs)
    hours = start_s / 3600.0
    remaining_h = np.maximum(usable_kwh[:, None] / reference.values[:, None] - hours[None, :], 0.0)
    price = v2g_price_per_kwh(inputs, remaining_h)

    keep = [v for v in inputs.data_vars if "time" not in inputs[v].dims]
    data = inputs[keep].drop_vars("time", errors="ignore")
    data = data.assign_coords(
        mode=("mode", list(MODES), {"long_name": "cooperation mode (Sec. II-A)"}),
        time=("time", start_s, _attrs("s", "start of the model time step since the outage start")),
    )
    data["pair_coverage"] = (("pair", "mode"), coverage, _attrs("1", "share of the pair's demand the site may serve in the mode (Eqs. 5-6)"))
    data["pair_rate_per_share_mbps"] = (
        ("pair", "band"),
        inputs.pair_max_rate_mbps.values,
        _attrs("Mbit/s", "rate per unit of band share, B log2(1+SINR) (Eq. 8)"),
    )
    data["user_count"] = (("user",), np.ones(inputs.sizes["user"]), _attrs("1", "users in the demand entity"))
    data["user_required_share"] = (("user",), required.astype(float), _attrs("1", "share of the entity Eq. 10 obliges to serve"))
    data["ev_presence"] = (
        ("ev", "time"),
        presence_share(inputs.ev_arrival_s.values, inputs.ev_departure_s.values, start_s, step),
        _attrs("1", "share of the step the EV is parked (delta_e^t)"),
    )
    data["price_per_kwh"] = (("site", "time"), price, _attrs("currency/kWh", "V2G price rho_e(t) at the site (Eq. 16)"))
    data["reference_power_kw"] = reference
    if np.ndim(step) == 0:
        data["time_step_h"] = ((), step / 3600.0, _attrs("h", "model time step Delta t"))
    else:
        data["time_step_h"] = (("time",), step / 3600.0, _attrs("h", "model time step Delta t of each step"))
    data["pair_home"] = (("pair",), pair_site == home_site(inputs)[inputs.pair_user.values], _attrs("1", "the site is the user's strongest"))
    return data


def aggregate_users(data: xr.Dataset, by_class: bool = True) -> xr.Dataset:
    """Aggregate users into traffic groups for slow-timescale problems.

    Groups are (home site x class), or home sites alone with ``by_class=False``
    (then ``user_class`` is the group's most demanding class and the weight and
    SLA sums mix classes).

    A group's demand, minimum rate and weight are the sums over its users; a
    group-site pair's coverage per mode is the demand share of its users that
    pair covers, and its rate per band share is the demand-weighted harmonic
    mean (airtime-consistent) of its users' rates. The association of a
    group-site pair is then the share of the group's demand the site serves.
    """
    n_sites = data.sizes["site"]
    n_classes = data.sizes["class"] if by_class else 1
    home = home_site(data)
    group_of_user = np.full(data.sizes["user"], -1)
    valid = home >= 0
    group_ids = home[valid] * n_classes + (data.user_class.values[valid] if by_class else 0)
    unique_groups, inverse = np.unique(group_ids, return_inverse=True)
    group_of_user[valid] = inverse
    n_groups = len(unique_groups)

    demand = data.demand_mbps.values
    group_demand = np.bincount(group_of_user[valid], weights=demand[valid], minlength=n_groups)
    group_min = np.bincount(group_of_user[valid], weights=data.min_rate_mbps.values[valid], minlength=n_groups)
    group_count = np.bincount(group_of_user[valid], minlength=n_groups).astype(float)
    group_weight = np.bincount(group_of_user[valid], weights=data.user_weight.values[valid], minlength=n_groups)
    if by_class:
        group_class = unique_groups % n_classes
    else:
        most = np.zeros(n_groups, dtype=int)
        np.maximum.at(most, group_of_user[valid], data.class_weight.values.argsort().argsort()[data.user_class.values[valid]])
        group_class = data.class_weight.values.argsort()[most]
    required_demand = np.bincount(
        group_of_user[valid], weights=(demand * data.user_required_share.values)[valid], minlength=n_groups
    )

    pair_user = data.pair_user.values
    pair_group = group_of_user[pair_user]
    # a group is served by its home site or a cooperation neighbour of it
    neighbour = np.zeros((n_sites, n_sites), dtype=bool)
    neighbour[data.edge_helper.values, data.edge_assisted.values] = True
    np.fill_diagonal(neighbour, True)
    in_group = (pair_group >= 0) & neighbour[data.pair_site.values, np.maximum(home[pair_user], 0)]
    key = pair_group[in_group] * n_sites + data.pair_site.values[in_group]
    unique_keys, pair_index = np.unique(key, return_inverse=True)
    n_pairs = len(unique_keys)
    pair_demand = demand[pair_user][in_group]
    weight_sum = np.bincount(pair_index, weights=pair_demand, minlength=n_pairs)
    cover = data.pair_coverage.values[in_group]
    coverage = np.stack(
        [np.bincount(pair_index, weights=pair_demand * cover[:, m], minlength=n_pairs) for m in range(cover.shape[1])],
        axis=1,
    ) / group_demand[unique_keys // n_sites][:, None]
    rate = data.pair_rate_per_share_mbps.values[in_group]
    airtime = np.where(rate > 0, pair_demand[:, None] / np.where(rate > 0, rate, 1.0), 0.0)
    served = np.where(rate > 0, pair_demand[:, None], 0.0)
    sum_airtime = np.stack([np.bincount(pair_index, weights=airtime[:, b], minlength=n_pairs) for b in range(rate.shape[1])], axis=1)
    sum_served = np.stack([np.bincount(pair_index, weights=served[:, b], minlength=n_pairs) for b in range(rate.shape[1])], axis=1)
    group_rate = np.where(sum_airtime > 0, sum_served / np.where(sum_airtime > 0, sum_airtime, 1.0), 0.0)
    # a band only some users decode serves that share of the group's demand
    decodable_share = sum_served / np.maximum(weight_sum[:, None], 1e-12)
    home_flag = np.zeros(n_pairs, dtype=bool)
    home_flag[np.unique(pair_index[data.pair_home.values[in_group]])] = True

    out = data.drop_dims(["user", "pair"])
    out = out.assign_coords(
        user=("user", np.arange(n_groups), {"long_name": "traffic group (home site x class)"}),
        pair=("pair", np.arange(n_pairs), {"long_name": "group-site pair"}),
    )
    out["user_class"] = (("user",), group_class, data.user_class.attrs)
    out["user_home_site"] = (("user",), unique_groups // n_classes, _attrs("1", "home site index of the group"))
    out["user_count"] = (("user",), group_count, _attrs("1", "users in the group"))
    out["demand_mbps"] = (("user",), group_demand, _attrs("Mbit/s", "total requested rate of the group"))
    out["min_rate_mbps"] = (("user",), group_min, _attrs("Mbit/s", "total SLA minimum rate of the group"))
    out["user_weight"] = (("user",), group_weight, _attrs("1", "sum of the users' weights w_u"))
    out["user_required_share"] = (
        ("user",), required_demand / np.maximum(group_demand, 1e-12), _attrs("1", "demand share of covered SLA users")
    )
    out["pair_user"] = (("pair",), unique_keys // n_sites, _attrs("1", "group index of the pair"))
    out["pair_site"] = (("pair",), unique_keys % n_sites, _attrs("1", "site index of the pair"))
    out["pair_coverage"] = (("pair", "mode"), np.clip(coverage, 0.0, 1.0), data.pair_coverage.attrs)
    out["pair_rate_per_share_mbps"] = (("pair", "band"), group_rate * np.clip(decodable_share, 0.0, 1.0), data.pair_rate_per_share_mbps.attrs)
    out["pair_home"] = (("pair",), home_flag, data.pair_home.attrs)
    return out


def mode_onehot(modes: xr.DataArray) -> xr.DataArray:
    """gamma_{i,m} as data: 1 where a site is in mode m, over a new ``mode`` dimension.

    ``modes`` holds integers 0-3 (a mode of Sec. II-A) or 4 (dark, in no mode).
    """
    codes = np.arange(len(MODES)).reshape((-1,) + (1,) * modes.ndim)
    onehot = (np.asarray(modes.values)[None, ...] == codes).astype(float)
    return xr.DataArray(onehot, dims=("mode", *modes.dims), coords={**modes.coords, "mode": list(MODES)}, name=modes.name)


def coverage_under(data: xr.Dataset, gamma: xr.DataArray) -> xr.DataArray:
    """Eq. 6 with the modes as data: per pair (and step), sum_m pair_coverage[p, m] gamma[site(p), m].

    The share of the pair's demand its site may serve in its mode; ``gamma`` is (site, mode, ...)
    data, one-hot for fixed modes (:func:`mode_onehot`; a dark site has none and covers nothing).
    """
    return (data.pair_coverage * gamma.isel(site=data.pair_site).drop_vars("site", errors="ignore")).sum("mode")


def coverage_in_modes(data: xr.Dataset, fixed_modes: xr.DataArray) -> xr.DataArray:
    """Per pair and step, the share of the pair's demand its site may serve in its given mode (Eq. 6).

    ``fixed_modes`` is (site, time) integers 0-3, or 4 for dark (covers nothing).
    """
    time_dim = [d for d in fixed_modes.dims if d != "site"][0]
    return coverage_under(data, mode_onehot(fixed_modes)).transpose("pair", time_dim)


def reachable_required_share(data: xr.Dataset, fixed_modes: xr.DataArray) -> xr.DataArray:
    """``user_required_share`` limited to users some site can serve at R_min under fixed modes.

    A user whose every covering site is asleep, dark or out of the mode's
    radius, or whose best band cannot carry its minimum rate, cannot be
    obliged by Eq. 10 in a problem whose modes are data (Stage 2).
    """
    reach = coverage_in_modes(data, fixed_modes)
    pair_user = data.pair_user.values
    fast_enough = data.pair_rate_per_share_mbps.values.max(axis=1) >= data.min_rate_mbps.values[pair_user]
    usable = (reach.values > 0) & fast_enough[:, None]
    reachable = np.zeros((data.sizes["user"], reach.shape[1]))
    np.maximum.at(reachable, pair_user, usable.astype(float))
    share = data.user_required_share.values[:, None] * reachable
    return xr.DataArray(share, dims=("user", reach.dims[1]), coords={"user": data.user.values, reach.dims[1]: reach[reach.dims[1]].values})
