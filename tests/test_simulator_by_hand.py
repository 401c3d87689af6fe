"""The simulator's step and the metrics' edges, worked out by hand on tiny worlds.

The worlds are copies of the two-site realisation of ``models/small.yaml``
(sites A and B, four bands, 30-s steps, six steps) with a hand radio map:
a user hears its near site at 255 mW over 1 mW of noise (SINR 255, i.e.
24.07 dB and 8 bit/s/Hz, so every carrier is capacity-bound) and a far site
at -300 dBm (below Gamma_min = -6 dB). Scripted strategies play fixed
decisions and keep every state they are shown. Every expected number is
derived in the test from the inputs it sets, never read back from the code.

The metrics tests use the stand-in world of ``tests/test_metrics.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import xarray as xr

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, DARK, NORMAL, SLEEP
from msrc_model.simulation.metrics import outage_metrics
from msrc_model.simulation.simulator import Decision, SolverEvent, State, World, simulate

from conftest import REPO
from test_energy_accounting import set_hand_users
from test_metrics import awake_record, hand_world, main_case

SMALL = REPO / "models" / "small.yaml"
OVERRIDES = (
    "network.layout=table",
    "network.sites=[{name: A, x_m: 0, y_m: 0}, {name: B, x_m: 500, y_m: 0}]",
    "traffic.users=4",
    "controller.max_duration_h=0.05",
)
N_STEPS = 6
DT_H = 30.0 / 3600.0  # one step, h
A, B, NOWHERE = 0, 1, -1

# bands in the order of data/bands.csv: L800 (50 Mbit/s, 10 MHz), L1800 (100, 20), L2600 (120, 20), N3700 (500, 100)
ALL, NONE = (1, 1, 1, 1), (0, 0, 0, 0)
L800, L800_L1800 = (1, 0, 0, 0), (1, 1, 0, 0)
EMERGENCY, VOICE, ESSENTIAL, BEST_EFFORT = range(4)  # class weights 1000, 100, 10, 1
NEAR_DBM, FAR_DBM = 10 * math.log10(255.0), -300.0
SINR_NEAR_DB = 10 * math.log10(255.0)  # 24.065 dB over 1 mW of noise

# Eq. 4 by hand (data/power_model.csv, 3 sectors, uplink ratio 0.1): an active LTE carrier, its standby
ACTIVE_LTE_KW = 3 * (0.18 + 0.002 * 10 ** (46 / 10) / 1000 + 0.001 * 3)
ACTIVE_NR_KW = 3 * (0.20 + 0.001 * 10 ** (53 / 10) / 1000 + 0.001 * 3)
NORMAL_IDLE_KW = 3 * ACTIVE_LTE_KW + ACTIVE_NR_KW  # every carrier on, no traffic: 3.571 kW


@pytest.fixture(scope="module")
def base() -> xr.Dataset:
    inputs = build_inputs(load_scenario(SMALL, OVERRIDES).scenario)
    assert inputs.sizes["site"] == 2 and inputs.sizes["time"] == N_STEPS + 1
    np.testing.assert_array_equal(inputs.edge_helper.values, [A, B])  # edge 0: A helps B, edge 1: B helps A
    np.testing.assert_array_equal(inputs.edge_assisted.values, [B, A])
    assert float(inputs.sinr_min_db) == -6.0 and float(inputs.battery_soc_min) == 0.2
    assert float(inputs.ev_soc_min) == 0.33 and float(inputs.ev_max_power_kw) == 7.0
    return inputs


def user(cls: int, demand: float, near: int | None = A, pairs=(A, B), assisted=None) -> dict:
    """A user of class ``cls`` asking ``demand`` Mbit/s who hears ``near`` (None: no site) at 255 mW and the other at
    -300 dBm; it is a candidate pair of the sites in ``pairs`` only, within the assisted radius of those in ``assisted``
    (default: its near site)."""
    return {"cls": cls, "demand": demand, "near": near, "pairs": pairs, "assisted": (near,) if assisted is None else assisted}


def ev(site: int, arrival_s: float = 0.0, capacity_kwh: float = 60.0, soc: float = 0.8, departure_s: float = 1e6) -> dict:
    return {"site": site, "arrival_s": arrival_s, "capacity_kwh": capacity_kwh, "soc": soc, "departure_s": departure_s}


def hand_inputs(base: xr.Dataset, users: list[dict], evs: list[dict] = (), battery_kwh=(16.0, 16.0), **scalars) -> xr.Dataset:
    """The two-site inputs with the hand radio map, the given users and EVs,
    battery energies (of 20 kWh) and scalar inputs."""
    ds = base.drop_dims(["user", "pair", "site_rank", "ev"])
    n = len(users)
    strong = np.array([B if u["near"] == B else A for u in users])
    ranked = np.stack([strong, 1 - strong], axis=1)
    rx = np.full((n, 2, 4), FAR_DBM)
    for i, u in enumerate(users):
        if u["near"] is not None:
            rx[i, 0, :] = NEAR_DBM
    pair_user, pair_site, pair_rank, assisted = [], [], [], []
    for i, u in enumerate(users):
        for rank, site in enumerate(ranked[i]):
            if site in u["pairs"]:
                pair_user.append(i), pair_site.append(site), pair_rank.append(rank), assisted.append(site in u["assisted"])
    user_class = np.array([u["cls"] for u in users], dtype=np.int64)
    demand = np.array([u["demand"] for u in users], dtype=float)
    ds = ds.assign_coords(user=np.arange(n), pair=np.arange(len(pair_user)), site_rank=np.arange(2), ev=np.arange(len(evs)))
    set_hand_users(ds, base, demand, user_class, ranked, rx)
    ds["pair_user"] = ("pair", np.array(pair_user, dtype=np.int64))
    ds["pair_site"] = ("pair", np.array(pair_site, dtype=np.int64))
    ds["pair_rank"] = ("pair", np.array(pair_rank, dtype=np.int64))
    ds["pair_in_normal_radius"] = ("pair", np.array(pair_rank) == 0)
    ds["pair_in_assisted_radius"] = ("pair", np.array(assisted, dtype=bool))
    arrival = np.array([e["arrival_s"] for e in evs], dtype=float)
    t = base.time.values
    ds["ev_site"] = ("ev", np.array([e["site"] for e in evs], dtype=np.int64))
    ds["ev_arrival_s"] = ("ev", arrival)
    departure = np.array([e["departure_s"] for e in evs], dtype=float)
    ds["ev_departure_s"] = ("ev", departure)
    ds["ev_capacity_kwh"] = ("ev", np.array([e["capacity_kwh"] for e in evs], dtype=float))
    ds["ev_soc_initial"] = ("ev", np.array([e["soc"] for e in evs], dtype=float))
    ds["ev_present"] = (("ev", "time"), (arrival[:, None] <= t[None, :]) & (t[None, :] < departure[:, None]))
    ds["battery_soc_initial"] = ("site", np.asarray(battery_kwh, dtype=float) / 20.0)
    assert np.all(base.battery_capacity_kwh.values == 20.0)
    for name, value in scalars.items():
        assert name in base and base[name].ndim == 0, name
        ds[name] = ((), value)
    return ds


class Scripted:
    """Plays one decision per step (the last repeats), dark sites reported dark; keeps every state it is shown
    and, when asked, spends ``pause_s`` deciding."""

    name = "scripted"

    def __init__(self, *steps: dict, pause_s: float = 0.0) -> None:
        self.steps, self.pause_s = steps, pause_s
        self.events: list[SolverEvent] = []

    def reset(self, world: World) -> None:
        self.world, self.seen = world, []

    def decide(self, state: State) -> Decision:
        self.seen.append(state)
        time.sleep(self.pause_s)
        step = self.steps[min(state.step, len(self.steps) - 1)]
        w = self.world
        mode = np.asarray(step["mode"])
        return Decision(
            mode=np.where(state.dark, DARK, mode) if mode.shape == state.dark.shape else mode,
            band_on=np.asarray(step.get("bands", (NONE, NONE)), dtype=bool),
            user_site=np.asarray(step.get("user_site", np.full(w.n_user, NOWHERE))),
            ev_request_kw=np.asarray(step.get("request_kw", (0.0, 0.0)), dtype=float),
            links=np.asarray(step.get("links", np.zeros(w.n_edge)), dtype=bool),
            band_share=step.get("band_share"),
        )


# ---------------------------------------------------------------------------------------------------- service


def test_a_site_serves_only_the_users_its_mode_covers_and_a_new_decision_is_never_served_from_the_cache(base):
    """World.serve on six users, A on L800 + L1800 (50 + 100 Mbit/s), B on L800.

    u0 best effort 30 near A (pairs A and B; only A's pair in the assisted radius); u1 voice 20 near A with a pair
    to A only; u2 essential 10 near B but a candidate pair of A only (B is beyond its reach: B must not serve it,
    however strong); u3 best effort 40 near A, outside A's assisted radius; u4 emergency 5 near A, on no site;
    u5 best effort 7 hearing no site (named to A: below Gamma_min on every band, so served nothing).
    """
    users = [
        user(BEST_EFFORT, 30.0, pairs=(A, B)),
        user(VOICE, 20.0, pairs=(A,)),
        user(ESSENTIAL, 10.0, near=B, pairs=(A,)),
        user(BEST_EFFORT, 40.0, assisted=()),
        user(EMERGENCY, 5.0),
        user(BEST_EFFORT, 7.0, near=None, assisted=()),
    ]
    world = World(hand_inputs(base, users))
    # u2 (its only pair, A, is heard at -300 dBm) and u5 reach no site even with every site normal
    np.testing.assert_array_equal(world.uncoverable, [False, False, True, False, False, True])
    named = np.array([A, A, B, A, NOWHERE, A])
    bands = np.array([L800_L1800, L800], dtype=bool)

    # normal: voice first (20 on L1800, the larger carrier), then best effort 30 + 40 on L1800: 90 of its 100
    normal = world.serve(np.array([NORMAL, NORMAL]), bands, named)
    np.testing.assert_allclose(normal.rate_mbps, [30.0, 20.0, 0.0, 40.0, 0.0, 0.0], rtol=1e-12)
    np.testing.assert_array_equal(normal.site, [A, A, NOWHERE, A, NOWHERE, NOWHERE])
    np.testing.assert_allclose(normal.sinr_db, [SINR_NEAR_DB, SINR_NEAR_DB, np.nan, SINR_NEAR_DB, np.nan, np.nan], rtol=1e-12)
    np.testing.assert_allclose(normal.band_traffic_mbps, [[0.0, 90.0, 0.0, 0.0], [0.0] * 4], atol=1e-12)
    np.testing.assert_allclose(normal.band_utilisation, [[0.0, 90.0 / 160.0, 0.0, 0.0], [0.0] * 4], atol=1e-12)
    np.testing.assert_array_equal(normal.band_on, [L800_L1800, L800])
    np.testing.assert_allclose(normal.band_rate_mbps[[0, 5]], [[0.0, 30.0, 0.0, 0.0], [0.0] * 4], atol=1e-12)
    np.testing.assert_allclose(normal.band_share[0], [0.0, 30.0 / 160.0, 0.0, 0.0], atol=1e-12)
    assert (normal.band_share[[2, 4, 5]] == 0).all()
    np.testing.assert_allclose(normal.band_sinr_db[1], SINR_NEAR_DB, rtol=1e-12)  # every band of the serving site
    assert (normal.band_sinr_db[[2, 4, 5]] == -np.inf).all()  # unserved, u5 included although named to A

    # the strategy's band shares: u0 is given 0.1 of A's L800 (8 Mbit/s); the scheduler fills the rest on L1800
    share = np.zeros((6, 4))
    share[0, 0] = 0.1
    given = world.serve(np.array([NORMAL, NORMAL]), bands, named, share)
    np.testing.assert_allclose(given.band_traffic_mbps[A], [8.0, 82.0, 0.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(given.band_rate_mbps[0], [8.0, 22.0, 0.0, 0.0], rtol=1e-12)
    share[0, 0] = 0.2  # the same decision but for the shares: 16 on L800
    np.testing.assert_allclose(world.serve(np.array([NORMAL, NORMAL]), bands, named, share).band_traffic_mbps[A], [16.0, 74.0, 0.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(world.serve(np.array([NORMAL, NORMAL]), bands, named).band_traffic_mbps[A], [0.0, 90.0, 0.0, 0.0], atol=1e-12)

    # A assisted, every carrier asked: L800 only (Eq. 25); it covers u0 and u1 (within the reduced radius), not u3
    assisted = world.serve(np.array([ASSISTED, NORMAL]), np.array([ALL, L800], dtype=bool), named)
    np.testing.assert_array_equal(assisted.band_on, [L800, L800])
    np.testing.assert_allclose(assisted.rate_mbps, [30.0, 20.0, 0.0, 0.0, 0.0, 0.0], rtol=1e-12)
    np.testing.assert_array_equal(assisted.site, [A, A, NOWHERE, NOWHERE, NOWHERE, NOWHERE])
    np.testing.assert_allclose(assisted.band_traffic_mbps[A], [50.0, 0.0, 0.0, 0.0], rtol=1e-12)

    # A asleep: it radiates nothing and serves no one
    asleep = world.serve(np.array([SLEEP, NORMAL]), np.array([ALL, L800], dtype=bool), named)
    assert not asleep.band_on[A].any() and (asleep.rate_mbps == 0).all() and (asleep.site == NOWHERE).all()


# ---------------------------------------------------------------------------------------------------- energy step


def test_ev_requests_the_battery_limit_and_a_small_ev_in_one_run(base):
    """A sleeps at P_sleep = 6 kW, B is normal with every carrier on and no user (3.571 kW); P_dis^max = 5 kW,
    eta_dis = 0.8, eta_ev = 0.75, so a full EV offers 0.75 x 7 = 5.25 kW at the bus.

    A (one full EV, 48 kWh) asks 1 kW in step 0: the battery gives exactly its 5-kW limit (not short, not dark);
    4 kW in step 1 (the battery gives 2); nothing from step 2: the battery alone would be 1 kW short, so the EV
    gives all it can, 5.25 kW, and the battery 0.75.
    B (one EV 0.01 kWh above its 3.3-kWh reserve: 0.01 x 0.75 / dt = 0.9 kW) asks nothing in step 0 (the EV gives
    nothing), then everything: 0.9 kW in step 1, which empties the EV to its reserve, nothing after.
    """
    inputs = hand_inputs(
        base, [user(BEST_EFFORT, 1.0)], evs=[ev(A), ev(B, capacity_kwh=10.0, soc=0.331)], power_deep_sleep_kw=6.0,
        battery_max_discharge_kw=5.0, battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9, ev_efficiency=0.75,
    )
    world = World(inputs)
    on = {"mode": (SLEEP, NORMAL), "bands": (NONE, ALL)}
    strategy = Scripted({**on, "request_kw": (1.0, 0.0)}, {**on, "request_kw": (4.0, np.inf)}, {**on, "request_kw": (0.0, np.inf)})
    record = simulate(world, strategy)
    assert (record.mode == [SLEEP, NORMAL]).all()
    np.testing.assert_allclose(record.site_power, [[6.0, NORMAL_IDLE_KW]] * N_STEPS, rtol=1e-12)
    np.testing.assert_allclose(record.ev_power[:, A], [1.0, 4.0] + [5.25] * 4, rtol=1e-12)
    np.testing.assert_allclose(record.battery_power[:, A], [5.0, 2.0] + [0.75] * 4, rtol=1e-12)
    np.testing.assert_allclose(record.ev_power[:, B], [0.0, 0.9, 0.0, 0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(record.battery_power[:, B], NORMAL_IDLE_KW - record.ev_power[:, B], rtol=1e-12)
    # energies: the battery loses P dt / 0.8, the EVs P dt / 0.75
    lost_a = np.array([5.0, 2.0] + [0.75] * 4) * DT_H / 0.8
    np.testing.assert_allclose(record.battery_energy[:, A], 16.0 - np.r_[0.0, np.cumsum(lost_a)], rtol=0, atol=1e-12)
    given_a = np.array([1.0, 4.0] + [5.25] * 4) * DT_H / 0.75
    np.testing.assert_allclose(record.ev_energy[:, 0], 48.0 - np.r_[0.0, np.cumsum(given_a)], rtol=0, atol=1e-12)
    np.testing.assert_allclose(record.ev_energy[:, 1], [3.31, 3.31] + [3.3] * 5, rtol=0, atol=1e-12)
    np.testing.assert_allclose(record.ev_drawn_kwh[:, 1], [0.0, 0.01, 0.0, 0.0, 0.0, 0.0], atol=1e-12)
    # Eq. 16 at A from the battery at the start of the step: 0.5 (1 + 2 exp(-T_rem / 1.5 h)), T_rem = usable / load
    for k in (0, 1):
        t_rem_h = (record.battery_energy[k, A] - 4.0) * 0.8 / 6.0
        assert record.price[k, A] == pytest.approx(0.5 * (1 + 2 * math.exp(-t_rem_h / 1.5)), rel=1e-12)
    assert record.price[0, A] == pytest.approx(0.5 * (1 + 2 * math.exp(-1.6 / 1.5)), rel=1e-12)  # 12 kWh x 0.8 / 6 kW


def test_sites_going_dark_mid_run_what_the_strategy_sees_and_what_is_recorded(base):
    """Both sites asleep at P_sleep = 2.4 kW (P_dis^max 3 kW, eta_dis 0.8: 0.025 kWh a step above SOC_min = 4 kWh).

    B holds 2.5 steps' worth: it carries steps 0 and 1, then 0.0125 kWh above SOC_min give 1.2 kW < 2.4, so it
    goes dark at the start of step 2; A holds 4.5 steps' worth and goes dark in step 4; the run stops before
    step 5. An EV parks at B from t = 90 s, when B is dark: though asked for everything it gives nothing (a dark
    site draws nothing and its battery is not recharged). Every link asked stays on while both ends are awake.
    Each decision takes 5 ms. The strategy sees the EV (and its energy) only from the step it is there.
    """
    inputs = hand_inputs(
        base, [user(BEST_EFFORT, 1.0)], evs=[ev(B, arrival_s=90.0, capacity_kwh=50.0)], battery_kwh=(4.1125, 4.0625),
        power_deep_sleep_kw=2.4, battery_max_discharge_kw=3.0, battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9,
        ev_efficiency=0.75,
    )
    world = World(inputs)
    strategy = Scripted({"mode": (SLEEP, SLEEP), "request_kw": (np.inf, np.inf), "links": (True, True)}, pause_s=0.005)
    done: list[int] = []
    record = simulate(world, strategy, done.append)

    np.testing.assert_array_equal(record.mode, [[SLEEP, SLEEP]] * 2 + [[SLEEP, DARK]] * 2 + [[DARK, DARK]] * 2)
    np.testing.assert_allclose(record.site_power, [[2.4, 2.4]] * 2 + [[2.4, 0.0]] * 2 + [[0.0, 0.0]] * 2, atol=1e-12)
    np.testing.assert_array_equal(record.links, [[True, True]] * 2 + [[False, False]] * 4)
    np.testing.assert_array_equal(record.user_site, NOWHERE)
    battery = [[4.1125, 4.0625], [4.0875, 4.0375], [4.0625, 4.0125], [4.0375, 4.0125]] + [[4.0125, 4.0125]] * 3
    np.testing.assert_allclose(record.battery_energy, battery, rtol=0, atol=1e-12)
    np.testing.assert_allclose(record.ev_energy[:, 0], 40.0, rtol=0, atol=0)  # to the end of the run
    np.testing.assert_array_equal(record.ev_power, 0.0)
    assert done == [1, 2, 3, 4, 5]  # no step 5: every site is dark
    # the record's storage types
    assert record.mode.dtype == np.int8 and record.user_site.dtype == np.int16
    assert record.band_on.dtype == bool and record.links.dtype == bool
    assert record.band_traffic.dtype == np.float32 and record.user_sinr_db.dtype == np.float32 and record.user_rate_mbps.dtype == np.float32

    # what the strategy was shown: each step, and step 2 and step 4 again once a site had gone dark
    seen = strategy.seen
    assert [s.step for s in seen] == [0, 1, 2, 2, 3, 4, 4]
    assert [s.time_s for s in seen] == [0.0, 30.0, 60.0, 60.0, 90.0, 120.0, 120.0]
    dark = [[0, 0], [0, 0], [0, 0], [0, 1], [0, 1], [0, 1], [1, 1]]
    np.testing.assert_array_equal([s.dark for s in seen], np.array(dark, dtype=bool))
    start = [battery[k] for k in (0, 1, 2, 2, 3, 4, 4)]
    np.testing.assert_allclose([s.battery_kwh for s in seen], start, rtol=0, atol=1e-12)
    np.testing.assert_allclose([s.ev_kwh for s in seen], [[0.0]] * 4 + [[40.0]] * 3, rtol=0, atol=0)  # unknown before it comes
    np.testing.assert_array_equal([s.parked for s in seen], [[False]] * 4 + [[True]] * 3)
    drawn_before = [[0.0, 0.0], [2.4, 2.4], [2.4, 2.4], [2.4, 2.4], [2.4, 0.0], [2.4, 0.0], [2.4, 0.0]]
    np.testing.assert_allclose([s.site_power_kw for s in seen], drawn_before, atol=1e-12)
    # decision time: 5 ms a call, two calls in steps 2 and 4, none in step 5
    assert (record.decide_time[:5] >= 0.005).all() and (record.decide_time[[2, 4]] >= 0.01).all()
    assert (record.decide_time < 10.0).all() and record.decide_time[5] == 0.0


def test_samples_every_stage1_interval_strategy_shares_and_the_world_tables(base):
    """Stage-1 interval 60 s = 2 steps: per-user samples at steps 0, 2 and 4. One essential user (30 Mbit/s) on A
    (every carrier) in steps 0, 2 and 5 only, given 0.1 of L800 (8 Mbit/s) in step 0; a voice user never served;
    an emergency user no site reaches. No best-effort user: the class still has its (zero) demand and users.
    An EV at A leaves at 60 s (there at the start of steps 0 and 1), another arrives at 60 s (there from step 2):
    the strategy is shown an EV and its 48 kWh only from the step it is there at the start of."""
    users = [user(ESSENTIAL, 30.0), user(VOICE, 2.0), user(EMERGENCY, 5.0, near=None)]
    inputs = hand_inputs(base, users, evs=[ev(A, departure_s=60.0), ev(A, arrival_s=60.0)], stage1_interval_s=60.0)
    world = World(inputs)
    assert world.sample_every == 2
    np.testing.assert_allclose(world.reference_demand, [5.0, 2.0, 30.0, 0.0])
    np.testing.assert_array_equal(world.class_users, [1, 1, 1, 0])
    assert world.class_names == ["emergency", "voice", "essential", "best_effort"]
    np.testing.assert_array_equal(world.uncoverable, [False, False, True])
    np.testing.assert_allclose(world.times_s, [0.0, 30.0, 60.0, 90.0, 120.0, 150.0])
    assert World(hand_inputs(base, users, stage1_interval_s=30.0)).sample_every == 1
    assert World(hand_inputs(base, users, stage1_interval_s=10.0)).sample_every == 1  # never below one step

    share = np.zeros((3, 4))
    share[0, 0] = 0.1
    on = {"mode": (NORMAL, SLEEP), "bands": (ALL, NONE)}
    served, idle = {**on, "user_site": (A, NOWHERE, NOWHERE)}, {**on, "user_site": (NOWHERE,) * 3}
    strategy = Scripted({**served, "band_share": share}, idle, served, idle, idle, served)
    record = simulate(world, strategy)
    np.testing.assert_array_equal([s.parked for s in strategy.seen], [[True, False]] * 2 + [[False, True]] * 4)
    np.testing.assert_allclose([s.ev_kwh for s in strategy.seen], [[48.0, 0.0]] * 2 + [[48.0, 48.0]] * 4, rtol=1e-12)
    np.testing.assert_array_equal(record.sample_steps, [0, 2, 4])
    np.testing.assert_allclose(record.user_sinr_db[:, 0], [SINR_NEAR_DB, SINR_NEAR_DB, np.nan], rtol=1e-6)
    np.testing.assert_allclose(record.user_rate_mbps[:, 0], [30.0, 30.0, 0.0], rtol=1e-6)
    assert np.isnan(record.user_sinr_db[:, 1:]).all() and (record.user_rate_mbps[:, 1:] == 0).all()
    # step 0: 8 Mbit/s on L800 as the strategy set, the rest on N3700 (the largest carrier); step 2 all on N3700
    np.testing.assert_allclose(record.band_traffic[0, A], [8.0, 0.0, 0.0, 22.0], rtol=1e-6)
    np.testing.assert_allclose(record.band_traffic[2, A], [0.0, 0.0, 0.0, 30.0], rtol=1e-6)
    np.testing.assert_allclose(record.served_class[:, ESSENTIAL], [30.0, 0.0, 30.0, 0.0, 0.0, 30.0], rtol=1e-12)
    np.testing.assert_allclose(record.served_site[:, A], [30.0, 0.0, 30.0, 0.0, 0.0, 30.0], rtol=1e-12)


# ---------------------------------------------------------------------------------------------------- refused decisions


class Nameless(Scripted):
    """The scripted strategy without a ``name``: errors name its class."""

    name = property(lambda self: (_ for _ in ()).throw(AttributeError("name")))


def test_refused_decisions_name_the_strategy_even_on_a_second_decision(base):
    """Mode code 5 or one code too many is refused at once; so is darkening a site with energy left, also when the
    strategy decides a step again after a site went dark (B starts at SOC_min: dark at once)."""
    inputs = hand_inputs(base, [user(BEST_EFFORT, 1.0)], battery_kwh=(16.0, 4.0))
    world = World(inputs)
    with pytest.raises(ValueError, match=r"^strategy scripted: modes must be one code 0-4 per site, got \[0, 5\]$"):
        simulate(world, Scripted({"mode": (NORMAL, 5)}))
    with pytest.raises(ValueError, match=r"^strategy Nameless: modes must be one code 0-4 per site, got \[0, 0, 0\]$"):
        simulate(world, Nameless({"mode": (NORMAL, NORMAL, NORMAL)}))

    class DarkensA(Scripted):
        def decide(self, state: State) -> Decision:
            decision = super().decide(state)
            if state.dark[B]:  # the second decision of step 0
                decision.mode = np.array([DARK, DARK])
            return decision

    message = r"site\(s\) \[0\] set dark with energy left \(a strategy may sleep a site, not darken it\)$"
    with pytest.raises(ValueError, match=r"^strategy scripted: " + message):
        simulate(world, DarkensA({"mode": (NORMAL, NORMAL), "bands": (ALL, ALL)}))
    with pytest.raises(ValueError, match=r"^strategy Nameless: " + message):
        simulate(world, Nameless({"mode": (DARK, NORMAL), "bands": (ALL, ALL)}))


# ---------------------------------------------------------------------------------------------------- metrics


def test_shares_are_capped_at_one_and_tiny_demands_and_weights_are_not_floored():
    """Two users asking 0.25 Mbit/s each (emergency, voice), class weights 0.25 and 0.1 (sum of weight x users 0.35).

    Served a hair above demand (rounding): every share is exactly 1. Half served: 0.5 each, total 0.5, weighted 0.5.
    Nothing served: 0. The small totals (0.5 Mbit/s, weight 0.35) are divided by as they are.
    """
    world = hand_world(user_class=(EMERGENCY, VOICE), demand_mbps=(0.25, 0.25), n_steps=3)
    world.inputs["class_weight"] = ("class", np.array([0.25, 0.1, 1.0, 1.0]))
    record = awake_record(world)
    record.served_class[0, :2] = 0.25 * (1 + 1e-9)
    record.served_class[1, :2] = 0.125
    ds = outage_metrics(record)
    share = ds.served_share.transpose("time", "class").values
    assert (share[0, :2] == 1.0).all() and (share[1, :2] == 0.5).all() and (share[2, :2] == 0.0).all()
    assert np.isnan(share[:, 2:]).all()
    assert ds.served_share_total.values.tolist() == [1.0, 0.5, 0.0]
    np.testing.assert_allclose(ds.served_share_weighted.values, [1.0, 0.5, 0.0], rtol=1e-12)
    assert float(ds.service_continuity) == pytest.approx(0.5, rel=1e-12)
    assert float(ds.critical_service_time) == pytest.approx(0.25, abs=1e-12)  # step 1: emergency at 0.5 < 1


def test_ev_utilisation_of_less_than_a_kwh_and_no_critical_class_to_watch():
    """Only EV 0 can give anything: 0.5 kWh above its reserve, parked 1 h (7 kWh at P_max): 0.5 kWh offered;
    it gives 0.25 -> 0.5. Users in essential only: no critical class to watch, critical_service_time NaN."""
    world = hand_world(user_class=(ESSENTIAL, ESSENTIAL), demand_mbps=(1.0, 1.0), ev_initial_kwh=(20.5, 20.0, 20.0, 40.0),
                       ev_reserve_kwh=(20.0, 20.0, 20.0, 39.8))
    record = awake_record(world)
    record.ev_drawn_kwh[0, 0] = 0.25
    ds = outage_metrics(record)
    assert float(ds.ev_utilisation) == pytest.approx(0.5, rel=1e-12)
    assert np.isnan(float(ds.critical_service_time))


METADATA = {  # variable: (dims, units, long_name)
    "mode": (("site", "time"), "1", "cooperation mode"),
    "band_active": (("site", "band", "time"), "1", "carrier switched on (z, Eq. 24)"),
    "band_traffic": (("site", "band", "time"), "Mbit/s", "traffic each carrier serves (nu, Eq. 11), float32"),
    "link_active": (("edge", "time"), "1", "cooperation link helper -> assisted in use (y, Eq. 23)"),
    "site_power": (("site", "time"), "kW", "power drawn by the site (Eqs. 2-4)"),
    "battery_power": (("site", "time"), "kW", "power the battery gives at the site bus (negative: recharging from EVs)"),
    "ev_power": (("site", "time"), "kW", "V2G power parked EVs give at the site bus"),
    "battery_energy": (("site", "time"), "kWh", "battery energy at the start of the step"),
    "battery_energy_end": (("site",), "kWh", "battery energy at the end of the run"),
    "ev_energy": (("ev", "time"), "kWh", "EV battery energy at the start of the step"),
    "ev_energy_end": (("ev",), "kWh", "EV battery energy at the end of the run"),
    "user_site": (("user", "time"), "1", "index of the site serving the user, -1 for none"),
    "served_share": (("class", "time"), "1", "served share of the class's demand (all its users; NaN: the class has no users)"),
    "served_share_total": (("time",), "1", "served share of all users' demand"),
    "user_sinr": (("user", "sample_time"), "dB", "Eq. 7 SINR of the band carrying most of the user's rate (NaN: not served)"),
    "user_rate": (("user", "sample_time"), "Mbit/s", "rate served to the user (Eq. 8)"),
    "uncoverable_users": ((), "1", "users no site reaches at Gamma_min even with every site normal (counted in every share)"),
    "uncoverable_demand_share": ((), "1", "share of all demand the uncoverable users request"),
    "served_mbps": (("site", "time"), "Mbit/s", "traffic the site serves"),
    "v2g_price": (("site", "time"), "currency/kWh", "V2G price rho(t) of Eq. 16 from the measured remaining time"),
    "decide_time": (("time",), "s", "wall time the strategy took to decide the step"),
    "survival_time": ((), "h", "T_surv: first time a site goes dark (the run length if none does)"),
    "survival_censored": ((), "1", "no site went dark within the run: survival_time is a lower bound"),
    "site_dark_time": (("site",), "h", "time the site goes dark (NaN: never within the run)"),
    "all_dark_time": ((), "h", "time every site is dark (NaN: not within the run)"),
    "critical_service_time": ((), "h", "first time a critical class falls below its QoS target (NaN: never)"),
    "served_share_table3": (("class",), "1", "served share of each class at t = 2.5 h, or the last step of a shorter run (Table III)"),
    "table3_time": ((), "h", "time of served_share_table3"),
    "service_continuity": ((), "1", "weighted satisfaction (Eq. 18 service term, class weights) averaged over the run window (Table IV)"),
    "served_share_weighted": (("time",), "1", "served shares of the classes weighted by class weight x users (Eq. 18 service term)"),
    "ev_utilisation": ((), "1", "energy taken from EVs / energy parked EVs could have given (Table IV)"),
    "ev_energy_taken": ((), "kWh", "energy taken from EV batteries"),
    "handovers_per_user": ((), "1", "changes of serving site per user (Table IV)"),
    "mode_switches_per_site": ((), "1", "mode changes per site while awake (Table IV)"),
    "v2g_cost": ((), "currency", "V2G energy bought at the Eq. 16 price"),
}


def test_every_result_variable_carries_its_dims_unit_and_description():
    """The results file's metadata, as readers of the netCDF see it: per variable its dims, units and long_name;
    the mode's flag values and meanings; the time coordinates' units and descriptions."""
    ds = outage_metrics(main_case()[1])
    assert set(ds.data_vars) == set(METADATA)
    for name, (dims, units, long_name) in METADATA.items():
        assert ds[name].dims == dims, name
        flags = {"flag_values": [0, 1, 2, 3, 4], "flag_meanings": "normal helping assisted sleep dark"} if name == "mode" else {}
        assert ds[name].attrs == {"units": units, "long_name": long_name, **flags}, name
    assert ds.time.attrs == {"units": "s", "long_name": "start of the Stage-2 step since the outage start"}
    assert ds.sample_time.attrs == {"units": "s", "long_name": "time of the per-user samples (every Stage-1 interval)"}
    assert set(ds.coords) == {"time", "site", "band", "class", "edge", "user", "ev", "sample_time"}
    assert ds.sample_time.dims == ("sample_time",) and ds.time.dims == ("time",)
