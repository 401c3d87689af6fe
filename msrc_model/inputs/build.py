"""The inputs Dataset: every number the MSRC model needs, labelled by dimension.

:func:`build_inputs` turns a validated :class:`~msrc_model.config.scenario.Scenario`
and a trial index into one :class:`xarray.Dataset` with the dimensions

``site``
    base stations (positions, radii of Eq. 5, battery).
``band``
    carrier bands (frequency, bandwidth, capacity, link budget, Eq. 2 coefficients).
``class``
    service classes (share, weight, SLA, QoS target).
``user``
    users (position, class, demand D_u, weight w_u, R_u^min).
``pair``
    feasible user-site pairs (Eq. 6), sparse: ``pair_user`` / ``pair_site`` index
    ``user`` / ``site``; path loss, SINR (Eq. 7) and spectral efficiency per band.
``edge``
    directed arcs i -> j of the cooperation graph (d_ij <= R_coop) with the
    assistance potential kappa_ij of Eq. 1 (helper i, assisted j).
``ev``
    EVs that park during the outage (site, arrival, departure, E_nom, SOC_0).
``time``
    the Stage-2 instants of the simulated outage, in s from its start.

The random draws of a trial are a pure function of (scenario, seed, trial):
three independent streams (users, channel, EVs) come from
``numpy.random.SeedSequence(seed, spawn_key=(trial,))``, so any trial can be
rebuilt alone, in any order, on any machine.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from . import geometry, radio
from ..config.errors import Issue, ScenarioError
from ..config.loader import scenario_to_yaml
from ..config.scenario import ConstantDemand, Scenario
from ..physics import numeric

CANDIDATE_SITES_PER_USER = 8
"""Sites ranked below this many stronger sites at a user are not candidate servers."""
RANKED_SITES_PER_USER = 24
"""Sites whose received power is kept per user and band (the interferers of Eq. 7); the rest is one residual."""


def msrc_version() -> str:
    """The installed msrc version (``0+unknown`` from a bare checkout)."""
    try:
        return version("msrc")
    except PackageNotFoundError:
        return "0+unknown"


def _var(dims: str | tuple[str, ...], values: Any, units: str, long_name: str, **attrs: Any) -> xr.Variable:
    dims = (dims,) if isinstance(dims, str) else dims
    return xr.Variable(dims, np.asarray(values), attrs={"units": units, "long_name": long_name, **attrs})


def trial_generators(seed: int, trial: int) -> dict[str, np.random.Generator]:
    """Independent random streams of one Monte Carlo trial.

    The streams depend only on ``seed`` and ``trial``: adding draws to one
    stream never shifts another.
    """
    if trial < 0:
        raise ValueError(f"trial must be >= 0, got {trial}")
    children = np.random.SeedSequence(seed, spawn_key=(trial,)).spawn(3)
    return dict(zip(("users", "channel", "ev"), (np.random.default_rng(c) for c in children)))


# ---------------------------------------------------------------- sites and bands


def site_positions(scenario: Scenario) -> tuple[list[str], np.ndarray]:
    """Site names and positions (m) of the scenario's layout."""
    network = scenario.network
    if network.layout == "table":
        sites = network.sites or []
        return [s.name for s in sites], np.array([[s.x_m, s.y_m] for s in sites], dtype=float)
    positions = geometry.hex_site_positions(network.rings, network.isd_m)
    width = len(str(len(positions) - 1))
    return [f"S{k:0{width}d}" for k in range(len(positions))], positions


def _band_variables(scenario: Scenario) -> dict[str, xr.Variable]:
    bands = scenario.bands.table
    coefficients = {row.band: row for row in scenario.power.coefficients}
    ordered = [coefficients[b.name] for b in bands]
    radio_cfg = scenario.radio
    frequency_ghz = np.array([b.frequency_mhz for b in bands]) / 1e3
    bandwidth_mhz = np.array([b.bandwidth_mhz for b in bands])
    eirp_dbm = np.array([b.tx_power_dbm + b.antenna_gain_dbi - b.feeder_loss_db for b in bands])
    noise_dbm = radio.thermal_noise_dbm(bandwidth_mhz, radio_cfg.noise_psd_dbm_per_hz, radio_cfg.ue_noise_figure_db)
    reach_m = radio.link_budget_reach_m(
        eirp_dbm, frequency_ghz, noise_dbm, radio_cfg.sinr_min_db, scenario.network.bs_height_m, radio_cfg.ue_height_m
    )
    tx_power_w = numeric.db_to_linear(np.array([b.tx_power_dbm for b in bands]) - 30.0)
    out = {
        "frequency_mhz": _var("band", frequency_ghz * 1e3, "MHz", "carrier frequency"),
        "bandwidth_mhz": _var("band", bandwidth_mhz, "MHz", "channel bandwidth B^(b) (Eq. 8)"),
        "capacity_mbps": _var("band", [b.capacity_mbps for b in bands], "Mbit/s", "nominal band capacity C^(b) (Eq. 9)"),
        "tx_power_dbm": _var("band", [b.tx_power_dbm for b in bands], "dBm", "transmit power per carrier P_tx^(b)"),
        "tx_power_w": _var("band", tx_power_w, "W", "transmit power per carrier P_tx^(b)"),
        "antenna_gain_dbi": _var("band", [b.antenna_gain_dbi for b in bands], "dBi", "base-station antenna gain"),
        "feeder_loss_db": _var("band", [b.feeder_loss_db for b in bands], "dB", "feeder loss L^(b) (Eq. 2)"),
        "eirp_dbm": _var("band", eirp_dbm, "dBm", "EIRP: transmit power + antenna gain - feeder loss"),
        "noise_dbm": _var("band", noise_dbm, "dBm", "thermal noise over the band incl. UE noise figure (sigma^2, Eq. 7)"),
        "band_reach_m": _var("band", reach_m, "m", "link-budget reach: SNR = Gamma_min on the median NLOS path loss"),
        "band_assisted": _var(
            "band", [b.name in scenario.bands.assisted_bands for b in bands], "1",
            "band may stay active in assisted mode (B_low, Eq. 25)",
        ),
    }
    for key, symbol, units, meaning in (
        ("static_kw", "beta_0", "kW", "static power of an active band-sector"),
        ("dl_utilisation_kw", "beta_1", "kW", "power per unit of downlink RB utilisation"),
        ("ul_utilisation_kw", "beta_2", "kW", "power per unit of uplink RB utilisation"),
        ("dl_traffic_kw_per_mbps", "beta_3", "kW/(Mbit/s)", "power per Mbit/s of downlink traffic"),
        ("ul_traffic_kw_per_mbps", "beta_4", "kW/(Mbit/s)", "power per Mbit/s of uplink traffic"),
        ("tx_power_kw_per_w", "beta_5", "kW/W", "power per W of transmit power"),
        ("feeder_loss_kw_per_db", "beta_6", "kW/dB", "power per dB of feeder loss"),
        ("standby_kw", "P_std", "kW", "standby power of a switched-off band-sector (Eq. 4)"),
    ):
        out[f"power_{key}"] = _var("band", [getattr(r, key) for r in ordered], units, f"{symbol}: {meaning} (Eq. 2)")
    return out


# ---------------------------------------------------------------- users


def draw_users(scenario: Scenario, rng: np.random.Generator, centre_m: np.ndarray) -> dict[str, np.ndarray]:
    """Users' class, position (m) and demand (Mbit/s) for one trial.

    A share ``hotspot_share`` of users sit in Gaussian hotspots whose centres
    are uniform over the square area; the rest are uniform over the area.
    Positions are clipped to the area.
    """
    traffic = scenario.traffic
    n = traffic.users
    classes = list(traffic.classes.values())
    shares = np.array([c.share for c in classes])
    user_class = rng.choice(len(classes), size=n, p=shares / shares.sum())
    half = traffic.area_side_m / 2
    low, high = centre_m - half, centre_m + half
    uniform_xy = rng.uniform(low, high, size=(n, 2))
    in_hotspot = rng.random(n) < traffic.hotspot_share
    if traffic.hotspots > 0:
        hotspot_centres = rng.uniform(low, high, size=(traffic.hotspots, 2))
        hotspot_of_user = rng.integers(traffic.hotspots, size=n)
        hotspot_xy = hotspot_centres[hotspot_of_user] + rng.normal(0.0, traffic.hotspot_std_m, size=(n, 2))
        xy = np.where(in_hotspot[:, None], hotspot_xy, uniform_xy)
    else:
        in_hotspot[:] = False
        xy = uniform_xy
    xy = np.clip(xy, low, high)
    is_constant = np.array([isinstance(c.demand, ConstantDemand) for c in classes])
    rate = np.array([c.demand.rate_mbps if isinstance(c.demand, ConstantDemand) else np.nan for c in classes])
    mu = np.array([0.0 if isinstance(c.demand, ConstantDemand) else c.demand.mu for c in classes])
    sigma = np.array([0.0 if isinstance(c.demand, ConstantDemand) else c.demand.sigma for c in classes])
    z = rng.standard_normal(n)
    demand = np.where(is_constant[user_class], rate[user_class], numeric.exp(mu[user_class] + sigma[user_class] * z))
    demand = demand * traffic.load
    min_fraction = np.array([c.min_rate_fraction for c in classes])
    weight = np.array([c.weight for c in classes])
    return {
        "user_class": user_class,
        "xy": xy,
        "in_hotspot": in_hotspot,
        "demand_mbps": demand,
        "min_rate_mbps": min_fraction[user_class] * demand,
        "weight": weight[user_class],
    }


# ---------------------------------------------------------------- channel and pairs


def user_site_channel(
    scenario: Scenario,
    rng: np.random.Generator,
    user_xy: np.ndarray,
    site_xy: np.ndarray,
    radius_helping_m: np.ndarray,
) -> dict[str, np.ndarray]:
    """Feasible user-site pairs and their per-band channel (Eqs. 6-8).

    Path loss follows TR 38.901 UMa with a LOS state and a shadow fade drawn
    per user-site link (common to all bands). Candidate servers of a user are
    its ``CANDIDATE_SITES_PER_USER`` strongest sites on the first band that lie
    within their helping radius. The SINR of a pair counts as interference the
    sites received *weaker* than the server (ranked on the first band): a user
    moves to a farther site only when the stronger ones have handed it over
    (assisted, asleep or dark), so their signal no longer interferes with it.
    ``sinr_all_active_db`` keeps the worst case, every other site transmitting.
    A pair is a *candidate* when its best band reaches Gamma_min this way; the
    simulator decides service from the Eq. 7 SINR of the moment.

    For that SINR every user keeps the received power of its
    ``RANKED_SITES_PER_USER`` strongest sites per band (``ranked_site``,
    ``ranked_rx_dbm``); the sites beyond them are one residual interference
    (``residual_interference_dbm``), counted as always transmitting.
    """
    radio_cfg = scenario.radio
    bands = scenario.bands.table
    n_users, n_sites = len(user_xy), len(site_xy)
    # float64 throughout, with the logarithms and powers of physics.numeric (stored float32 values are rounded
    # from float64): numpy's float32 ones gave other last bits with AVX-512 than without, and those bits
    # reached the rates (received powers up to 1e-4 apart)
    distance = geometry.pairwise_distances_m(user_xy, site_xy)
    if radio_cfg.line_of_sight == "random":
        los = rng.random((n_users, n_sites)) < radio.uma_los_probability(distance)
    else:
        los = np.full((n_users, n_sites), radio_cfg.line_of_sight == "los")
    if radio_cfg.shadowing:
        shadow_db = rng.standard_normal((n_users, n_sites), dtype=np.float32)
        shadow_db *= np.where(los, np.float32(radio_cfg.shadowing_std_los_db), np.float32(radio_cfg.shadowing_std_nlos_db))
    else:
        shadow_db = np.zeros((n_users, n_sites), dtype=np.float32)

    h_bs, h_ut = scenario.network.bs_height_m, radio_cfg.ue_height_m
    n_links = min(RANKED_SITES_PER_USER, n_sites)
    k = min(CANDIDATE_SITES_PER_USER, n_links)
    rows = np.arange(n_users)[:, None]
    n_bands = len(bands)
    rx_mw = np.empty((n_users, n_links, n_bands))
    path_loss = np.empty((n_users, k, n_bands), dtype=np.float32)
    residual_mw = np.zeros((n_users, n_bands))
    order = None
    for b, band in enumerate(bands):  # a handful of bands; every user and site at once
        f_ghz = band.frequency_mhz / 1e3
        loss = radio.uma_path_loss_db(distance, f_ghz, h_bs, h_ut, los)
        loss += shadow_db
        eirp_dbm = band.tx_power_dbm + band.antenna_gain_dbi - band.feeder_loss_db
        received = radio.dbm_to_mw(eirp_dbm - loss)
        if order is None:
            # the n_links strongest sites on the reference band, strongest first
            if n_links < n_sites:
                top = np.argpartition(-received, n_links - 1, axis=1)[:, :n_links]
            else:
                top = np.tile(np.arange(n_sites), (n_users, 1))
            top_rx = received[rows, top]
            order = top[rows, np.argsort(-top_rx, axis=1, kind="stable")]
        rx_mw[:, :, b] = received[rows, order]
        if n_links < n_sites:  # the sites beyond the ranked ones, added up without the ranked ones
            received[rows, order] = 0.0
            residual_mw[:, b] = received.sum(axis=1)
        path_loss[:, :, b] = loss[rows, order[:, :k]]

    noise_mw = radio.dbm_to_mw(
        radio.thermal_noise_dbm(
            np.array([b.bandwidth_mhz for b in bands]), radio_cfg.noise_psd_dbm_per_hz, radio_cfg.ue_noise_figure_db
        )
    )
    # interference from sites beyond the ranked ones: always counted (they are assumed to transmit).
    # Sums of the weaker and of the other sites are built from positive terms, never as a total less the
    # stronger ones, which keeps only the leading digits of a weak interference under a strong server
    candidate_rx = rx_mw[:, :k]
    zero = np.zeros((n_users, 1, n_bands))
    weaker_ranked = np.concatenate([np.cumsum(rx_mw[:, :0:-1], axis=1)[:, ::-1], zero], axis=1)  # sites ranked after each
    stronger_ranked = np.concatenate([zero, np.cumsum(rx_mw[:, :-1], axis=1)], axis=1)  # sites ranked before each
    weaker_mw = weaker_ranked[:, :k] + residual_mw[:, None, :]
    sinr_db = radio.linear_to_db(candidate_rx / (noise_mw + weaker_mw))
    others_mw = stronger_ranked[:, :k] + weaker_mw
    sinr_all_db = radio.linear_to_db(candidate_rx / (noise_mw + others_mw))
    order_k = order[:, :k]

    pair_distance = distance[rows, order_k]
    decodable = sinr_db >= radio_cfg.sinr_min_db
    feasible = (pair_distance <= radius_helping_m[order_k]) & decodable.any(axis=2)
    user_index, rank = np.nonzero(feasible)  # row-major: sorted by user, then strength
    site_index = order_k[user_index, rank]
    sinr = sinr_db[user_index, rank]
    efficiency = np.where(decodable[user_index, rank], radio.shannon_spectral_efficiency(sinr), 0.0)
    return {
        "pair_user": user_index,
        "pair_site": site_index,
        "pair_rank": rank,
        "distance_m": pair_distance[user_index, rank],
        "los": los[rows, order_k][user_index, rank],
        "shadow_db": shadow_db[rows, order_k][user_index, rank],
        "path_loss_db": path_loss[user_index, rank],
        "sinr_db": sinr,
        "sinr_all_active_db": sinr_all_db[user_index, rank],
        "spectral_efficiency": efficiency,
        "ranked_site": order,
        "ranked_rx_dbm": radio.mw_to_dbm(rx_mw).astype(np.float32),
        "residual_interference_dbm": radio.mw_to_dbm(residual_mw).astype(np.float32),
    }


# ---------------------------------------------------------------- cooperation graph


def cooperation_edges(
    site_xy: np.ndarray, radius_helping_m: np.ndarray, radius_normal_m: np.ndarray, coop_radius_m: float
) -> dict[str, np.ndarray]:
    """Directed arcs i -> j with d_ij <= R_coop and kappa_ij of Eq. 1."""
    distance = geometry.pairwise_distances_m(site_xy, site_xy)
    # a micrometre of slack keeps sites exactly R_coop apart (hex ring 2 at 1 km) linked despite rounding
    close = (distance <= coop_radius_m + 1e-6) & ~np.eye(len(site_xy), dtype=bool)
    helper, assisted = np.nonzero(close)
    d = distance[helper, assisted]
    kappa = geometry.assistance_potential(d, radius_helping_m[helper], radius_normal_m[assisted])
    arc_id = np.full((len(site_xy), len(site_xy)), -1)
    arc_id[helper, assisted] = np.arange(len(helper))
    return {
        "edge_helper": helper,
        "edge_assisted": assisted,
        "edge_reverse": arc_id[assisted, helper],
        "distance_m": d,
        "kappa": kappa,
    }


# ---------------------------------------------------------------- EVs


def draw_evs(scenario: Scenario, rng: np.random.Generator, n_sites: int) -> dict[str, np.ndarray]:
    """EVs parking at each site during the outage (Sec. V-2, Table I).

    Per site, the number of arrivals within the arrival window is Poisson with
    mean ``arrivals_per_site``; arrival times are uniform over the window, stays
    exponential, E_nom normal truncated to [min, max], SOC_0 uniform.
    """
    ev = scenario.ev
    counts = rng.poisson(ev.arrivals_per_site, size=n_sites) if ev.enabled else np.zeros(n_sites, dtype=int)
    n = int(counts.sum())
    site = np.repeat(np.arange(n_sites), counts)
    arrival_s = rng.uniform(0.0, ev.arrival_window_h * 3600.0, size=n)
    stay_s = rng.exponential(ev.mean_stay_h * 3600.0, size=n)
    if ev.capacity_std_kwh > 0:
        a = (ev.capacity_min_kwh - ev.capacity_mean_kwh) / ev.capacity_std_kwh
        b = (ev.capacity_max_kwh - ev.capacity_mean_kwh) / ev.capacity_std_kwh
        capacity = stats.truncnorm.rvs(a, b, loc=ev.capacity_mean_kwh, scale=ev.capacity_std_kwh, size=n, random_state=rng)
    else:
        capacity = np.full(n, ev.capacity_mean_kwh)
    soc = rng.uniform(ev.soc_initial_low, ev.soc_initial_high, size=n)
    return {
        "ev_site": site,
        "arrival_s": arrival_s,
        "departure_s": arrival_s + stay_s,
        "capacity_kwh": np.asarray(capacity, dtype=float),
        "soc_initial": soc,
    }


# ---------------------------------------------------------------- the Dataset


def build_inputs(scenario: Scenario, trial: int = 0) -> xr.Dataset:
    """Build the inputs Dataset of one trial of a scenario.

    Parameters
    ----------
    scenario:
        A validated scenario (see :func:`msrc_model.config.loader.load_scenario`).
    trial:
        Monte Carlo trial index (>= 0); with ``scenario.seed`` it fixes every
        random draw.

    Returns
    -------
    xarray.Dataset
        Every variable has ``units`` and ``long_name`` attributes; the complete
        scenario YAML is in ``attrs['scenario_yaml']``.
    """
    rngs = trial_generators(scenario.seed, trial)
    names, site_xy = site_positions(scenario)
    n_sites = len(names)
    band_vars = _band_variables(scenario)
    reach = band_vars["band_reach_m"].values
    lowest_band = int(np.argmin(band_vars["frequency_mhz"].values))

    coop = scenario.cooperation
    if coop.nominal_radius_m is not None:
        nominal = np.full(n_sites, coop.nominal_radius_m)
    else:
        nearest = geometry.nearest_neighbour_distance_m(site_xy)
        nominal = np.where(np.isfinite(nearest), nearest / np.sqrt(3.0), reach.max())
    radius_normal = np.minimum(nominal, reach.max())
    radius_helping = np.maximum(np.full(n_sites, min(reach[lowest_band], coop.coop_radius_m)), radius_normal)
    radius_assisted = coop.assisted_radius_factor * radius_normal

    users = draw_users(scenario, rngs["users"], site_xy.mean(axis=0))
    channel = user_site_channel(scenario, rngs["channel"], users["xy"], site_xy, radius_helping)
    edges = cooperation_edges(site_xy, radius_helping, radius_normal, coop.coop_radius_m)
    evs = draw_evs(scenario, rngs["ev"], n_sites)

    controller = scenario.controller
    time_s = np.arange(controller.time_step_count) * controller.stage2_interval_s
    ev_present = (evs["arrival_s"][:, None] <= time_s[None, :]) & (time_s[None, :] < evs["departure_s"][:, None])

    classes = scenario.traffic.classes
    class_names = list(classes)
    pair_site = channel["pair_site"]
    served_users = np.zeros(len(users["demand_mbps"]), dtype=bool)
    served_users[channel["pair_user"]] = True
    battery = scenario.battery
    ev = scenario.ev
    flag = {"flag_values": np.arange(len(class_names)), "flag_meanings": " ".join(class_names)}

    data_vars: dict[str, xr.Variable] = {
        # sites
        "site_x_m": _var("site", site_xy[:, 0], "m", "site easting"),
        "site_y_m": _var("site", site_xy[:, 1], "m", "site northing"),
        "radius_normal_m": _var("site", radius_normal, "m", "nominal coverage radius R_nom (normal mode, Eq. 5)"),
        "radius_helping_m": _var("site", radius_helping, "m", "expanded radius R_exp (helping mode, Eq. 5)"),
        "radius_assisted_m": _var("site", radius_assisted, "m", "reduced radius R_red * R_nom (assisted mode, Eq. 5)"),
        "battery_capacity_kwh": _var("site", np.full(n_sites, battery.capacity_kwh), "kWh", "BESS capacity E_SB"),
        "battery_soc_initial": _var("site", np.full(n_sites, battery.soc_initial), "1", "BESS state of charge at the outage start"),
        # bands
        **band_vars,
        # classes
        "class_share": _var("class", [c.share for c in classes.values()], "1", "share of users in the class"),
        "class_weight": _var("class", [c.weight for c in classes.values()], "1", "priority weight w_u (Eq. 18)"),
        "class_min_rate_fraction": _var("class", [c.min_rate_fraction for c in classes.values()], "1", "R_min as a fraction of D_u (Eq. 10)"),
        "class_qos_target": _var("class", [c.qos_target for c in classes.values()], "1", "served share the class should keep (Table III)"),
        "class_critical": _var("class", [c.critical for c in classes.values()], "1", "class counts for critical-service survival"),
        # users
        "user_x_m": _var("user", users["xy"][:, 0], "m", "user easting"),
        "user_y_m": _var("user", users["xy"][:, 1], "m", "user northing"),
        "user_class": _var("user", users["user_class"], "1", "service class index into the class dimension", **flag),
        "user_in_hotspot": _var("user", users["in_hotspot"], "1", "user placed in a hotspot"),
        "demand_mbps": _var("user", users["demand_mbps"], "Mbit/s", "requested rate D_u (load applied)"),
        "min_rate_mbps": _var("user", users["min_rate_mbps"], "Mbit/s", "SLA minimum rate R_u^min (Eq. 10)"),
        "user_weight": _var("user", users["weight"], "1", "priority weight w_u"),
        "user_covered": _var("user", served_users, "1", "user has at least one feasible site (Eq. 6)"),
        # pairs
        "pair_user": _var("pair", channel["pair_user"], "1", "user index of the pair"),
        "pair_site": _var("pair", pair_site, "1", "site index of the pair"),
        "pair_rank": _var("pair", channel["pair_rank"], "1", "strength rank of the site at the user (0 = strongest)"),
        "pair_distance_m": _var("pair", channel["distance_m"], "m", "user-site 2-D distance"),
        "pair_los": _var("pair", channel["los"], "1", "line-of-sight link (TR 38.901 UMa)"),
        "pair_shadow_db": _var("pair", channel["shadow_db"], "dB", "shadow fade of the link"),
        "pair_in_normal_radius": _var("pair", channel["distance_m"] <= radius_normal[pair_site], "1", "within R_nom of the site (Eq. 6)"),
        "pair_in_assisted_radius": _var("pair", channel["distance_m"] <= radius_assisted[pair_site], "1", "within the assisted radius (Eq. 6)"),
        "path_loss_db": _var(("pair", "band"), channel["path_loss_db"].astype(float), "dB", "path loss incl. shadowing (TR 38.901 UMa)"),
        "sinr_db": _var(("pair", "band"), channel["sinr_db"], "dB", "SINR with the sites received stronger silent (Eq. 7)"),
        "sinr_all_active_db": _var(("pair", "band"), channel["sinr_all_active_db"], "dB", "SINR with every other site transmitting (Eq. 7)"),
        "spectral_efficiency": _var(("pair", "band"), channel["spectral_efficiency"], "bit/s/Hz", "Shannon efficiency log2(1+SINR), 0 below Gamma_min (Eq. 8)"),
        "pair_max_rate_mbps": _var(
            ("pair", "band"), channel["spectral_efficiency"] * band_vars["bandwidth_mhz"].values[None, :], "Mbit/s",
            "rate with the whole band given to the user, B log2(1+SINR) (Eq. 8, chi = 1)",
        ),
        # received power for the Eq. 7 SINR
        "ranked_site": _var(("user", "site_rank"), channel["ranked_site"].astype(np.int32), "1", "site index of the user's rank-th strongest site"),
        "ranked_rx_dbm": _var(("user", "site_rank", "band"), channel["ranked_rx_dbm"], "dBm", "power received from the ranked site on the band (EIRP - path loss)"),
        "residual_interference_dbm": _var(
            ("user", "band"), channel["residual_interference_dbm"], "dBm",
            "power received from the sites beyond the ranked ones, counted as interference at all times (Eq. 7); -inf: no site beyond them (zero power)",
        ),
        # cooperation graph
        "edge_helper": _var("edge", edges["edge_helper"], "1", "site index of helper i"),
        "edge_assisted": _var("edge", edges["edge_assisted"], "1", "site index of assisted site j"),
        "edge_reverse": _var("edge", edges["edge_reverse"], "1", "index of the arc j -> i"),
        "edge_distance_m": _var("edge", edges["distance_m"], "m", "inter-site distance d_ij"),
        "kappa": _var("edge", edges["kappa"], "1", "assistance potential kappa_ij of helper i for site j (Eq. 1)"),
        "kappa_ok": _var("edge", edges["kappa"] >= coop.kappa_min, "1", "kappa_ij >= kappa_min (Eq. 21)"),
        # EVs
        "ev_site": _var("ev", evs["ev_site"], "1", "site index where the EV parks"),
        "ev_arrival_s": _var("ev", evs["arrival_s"], "s", "arrival time T_e^arr after the outage start"),
        "ev_departure_s": _var("ev", evs["departure_s"], "s", "departure time T_e^dep after the outage start"),
        "ev_capacity_kwh": _var("ev", evs["capacity_kwh"], "kWh", "nominal EV battery capacity E_e^nom"),
        "ev_soc_initial": _var("ev", evs["soc_initial"], "1", "EV state of charge on arrival"),
        "ev_present": _var(("ev", "time"), ev_present, "1", "presence indicator delta_e^t (arrival <= t < departure)"),
        # scalars
        "battery_soc_min": _var((), battery.soc_min, "1", "SOC_min (Eq. 13)"),
        "battery_soc_max": _var((), battery.soc_max, "1", "SOC_max (Eq. 13)"),
        "battery_charge_efficiency": _var((), battery.charge_efficiency, "1", "eta_ch (Eq. 12)"),
        "battery_discharge_efficiency": _var((), battery.discharge_efficiency, "1", "eta_dis (Eq. 12)"),
        "battery_max_charge_kw": _var((), battery.max_charge_kw, "kW", "P_ch^max (Eq. 13)"),
        "battery_max_discharge_kw": _var((), battery.max_discharge_kw, "kW", "P_dis^max (Eq. 13)"),
        "ev_soc_min": _var((), ev.soc_min, "1", "driver's minimum EV state of charge SOC_e^min (Eq. 14)"),
        "ev_max_power_kw": _var((), ev.max_power_kw, "kW", "largest charge/discharge power of one EV"),
        "ev_v2x_limit_kw": _var((), ev.v2x_limit_kw, "kW", "site V2X interface limit P^V2X,max (Eq. 15)"),
        "ev_efficiency": _var((), ev.efficiency, "1", "one-way V2G conversion efficiency"),
        "ev_arrival_rate_per_h": _var(
            (), ev.arrivals_per_site / ev.arrival_window_h if ev.enabled else 0.0, "1/h",
            "expected EV arrivals per site and hour (what a controller may know)",
        ),
        "ev_arrival_window_h": _var((), ev.arrival_window_h, "h", "EVs arrive within this time after the outage start (what a controller may know)"),
        "ev_mean_stay_h": _var((), ev.mean_stay_h, "h", "mean parking time of an EV (what a controller may know)"),
        "ev_expected_usable_kwh": _var(
            (), ev.capacity_mean_kwh * max((ev.soc_initial_low + ev.soc_initial_high) / 2 - ev.soc_min, 0.0) * ev.efficiency, "kWh",
            "usable V2G energy an arriving EV brings on average, at the bus (what a controller may know)",
        ),
        "price_base_per_kwh": _var((), scenario.pricing.base_price_per_kwh, "currency/kWh", "rho_base (Eq. 16)"),
        "price_urgency_alpha": _var((), scenario.pricing.urgency_alpha, "1", "alpha_urg (Eq. 16)"),
        "price_urgency_tau_h": _var((), scenario.pricing.urgency_tau_h, "h", "tau (Eq. 16)"),
        "price_cost_reference_per_kwh": _var(
            (), scenario.pricing.cost_reference_per_kwh, "currency/kWh", "price that scales the V2G cost term (Eqs. 18, 27)"
        ),
        "power_scale": _var((), scenario.power.scale, "1", "calibration factor on site power"),
        "power_deep_sleep_kw": _var((), scenario.power.deep_sleep_kw, "kW", "P_sleep (Eq. 4)"),
        "sectors_per_site": _var((), scenario.network.sectors_per_site, "1", "sectors per site (Eq. 4)"),
        "uplink_ratio": _var((), scenario.traffic.uplink_ratio, "1", "uplink traffic per unit of downlink traffic"),
        "load_factor": _var((), scenario.traffic.load, "1", "demand multiplier (light 0.5, medium 1.0, heavy 1.8)"),
        "helping_overhead": _var((), coop.helping_overhead, "1", "lambda_loss (Eq. 9)"),
        "kappa_min": _var((), coop.kappa_min, "1", "kappa_min (Eq. 21)"),
        "max_links": _var((), coop.max_links, "1", "K_max (Eq. 22)"),
        "sinr_min_db": _var((), scenario.radio.sinr_min_db, "dB", "Gamma_min (Eq. 6)"),
        "time_step_s": _var((), controller.stage2_interval_s, "s", "Stage-2 step Delta t"),
        "stage1_interval_s": _var((), controller.stage1_interval_min * 60.0, "s", "Stage-1 interval (the results sample per-user SINR and rate at it)"),
    }
    coords = {
        "site": xr.Variable("site", np.array(names, dtype=object), attrs={"long_name": "base-station site"}),
        "band": xr.Variable("band", np.array([b.name for b in scenario.bands.table], dtype=object), attrs={"long_name": "carrier band"}),
        "class": xr.Variable("class", np.array(class_names, dtype=object), attrs={"long_name": "service class"}),
        "user": xr.Variable("user", np.arange(len(users["demand_mbps"])), attrs={"long_name": "user index"}),
        "pair": xr.Variable("pair", np.arange(len(pair_site)), attrs={"long_name": "feasible user-site pair index"}),
        "edge": xr.Variable("edge", np.arange(len(edges["kappa"])), attrs={"long_name": "cooperation arc index"}),
        "site_rank": xr.Variable("site_rank", np.arange(channel["ranked_site"].shape[1]), attrs={"long_name": "rank of a site at a user by received power (0 = strongest)"}),
        "ev": xr.Variable("ev", np.arange(len(evs["ev_site"])), attrs={"long_name": "EV index"}),
        "time": xr.Variable("time", time_s, attrs={"units": "s", "long_name": "time since the outage start"}),
    }
    attrs = {
        "title": f"msrc inputs: {scenario.name}",
        "msrc_version": msrc_version(),
        "scenario_name": scenario.name,
        "seed": scenario.seed,
        "trial": trial,
        "scenario_yaml": scenario_to_yaml(scenario),
    }
    dataset = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    _require_finite(dataset)
    return dataset


#: Inputs that may hold -inf: the dBm of a zero power (no interferer beyond the ranked sites).
MAY_BE_MINUS_INF = frozenset({"residual_interference_dbm"})


def _require_finite(dataset: xr.Dataset) -> None:
    """Refuse a scenario whose valid but extreme values overflow into NaN or infinity.

    Validation keeps every key finite; a product of large keys (a wide
    log-normal demand, a huge capacity times a long horizon) can still
    overflow. The first such variable is named, with what it is.
    """
    for name, variable in dataset.variables.items():
        if variable.dtype.kind != "f":
            continue
        values = np.asarray(variable.values)
        bad = np.isnan(values) | (np.isinf(values) if name not in MAY_BE_MINUS_INF else np.isposinf(values))
        if bad.any():
            what = variable.attrs.get("long_name", name)
            raise ScenarioError(Issue(
                "", "", f"the scenario's values overflow: input {name} ({what}) has {int(bad.sum())} non-finite "
                "value(s); bring the extreme keys that produce it back to a physical range"
            ))
