"""Energy accounting of the outage simulator against numbers worked out by hand.

Every expected value below is derived in the test from the inputs it sets
(efficiencies, limits, arrival times, power coefficients of
``data/power_model.csv`` and ``data/bands.csv``), never read back from the
code under test. The worlds are tiny: two sites, a handful of users and EVs,
six 30-s steps.

Most tests run the simulator (:func:`run_outage`) with a scripted strategy on
a hand-made copy of the inputs: every user hears site A at an SINR of 255
(8 bit/s/Hz, so every carrier is capacity-bound) and site B at -300 dBm (or
the reverse), with 1 mW noise, so rates, shares and power are known exactly.
The last test runs the three real strategies and checks, from the results
Dataset alone, that no energy appears or vanishes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, DARK, HELPING, NORMAL, SLEEP
from msrc_model.simulation.outage import run_outage
from msrc_model.simulation.simulator import Decision, SolverEvent, State, World

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"

STEP_S = 30.0
DT_H = STEP_S / 3600.0  # one Stage-2 step in hours, 1/120
N_STEPS = 6  # 0.05 h of outage
OVERRIDES = (
    "network.layout=table",
    "network.sites=[{name: A, x_m: 0, y_m: 0}, {name: B, x_m: 500, y_m: 0}]",
    "traffic.users=4",
    "controller.max_duration_h=0.05",
    # a short Stage-1 horizon keeps the msrc run of the conservation test quick
    "controller.stage1_horizon_h=0.5",
    "controller.stage1_block_h=0.25",
)

# bands in the order of data/bands.csv: L800, L1800, L2600, N3700
ALL = (1, 1, 1, 1)
L800 = (1, 0, 0, 0)
L800_L1800 = (1, 1, 0, 0)
L800_N3700 = (1, 0, 0, 1)
NONE = (0, 0, 0, 0)

# class indices in the order of models/msrc.yaml (weights 1000, 100, 10, 1)
EMERGENCY, VOICE, ESSENTIAL, BEST_EFFORT = range(4)

# --- Eqs. 2-4 by hand from data/power_model.csv and data/bands.csv (3 sectors, uplink ratio 0.1)
TX_LTE_W = 10 ** (46 / 10) / 1000  # 46 dBm per LTE carrier = 39.81 W
TX_NR_W = 10 ** (53 / 10) / 1000  # 53 dBm on N3700 = 199.53 W
# an active carrier: S (static + tx_power_kw_per_w x P_TX + feeder_loss_kw_per_db x 3 dB)
ACTIVE_LTE_KW = 3 * (0.18 + 0.002 * TX_LTE_W + 0.001 * 3)  # 0.78786 kW
ACTIVE_NR_KW = 3 * (0.20 + 0.001 * TX_NR_W + 0.001 * 3)  # 1.20758 kW
STANDBY_KW = (0.15, 0.15, 0.15, 0.30)  # per switched-off carrier at an awake site
DEEP_SLEEP_KW = 0.1  # power.deep_sleep_kw of models/msrc.yaml
UTILISATION_LTE_KW = 3 * (0.12 + 0.1 * 0.01)  # S (dl + u ul) per unit RB utilisation = 0.363 kW
TRAFFIC_L800_KW = 0.0014 + 0.1 * 0.0005  # kW per Mbit/s on L800
TRAFFIC_L1800_KW = 0.0007 + 0.1 * 0.0005  # kW per Mbit/s on L1800

# the hand radio map: 1 mW noise, the serving site received at 255 mW (SINR 255, log2(256) = 8 bit/s/Hz)
NEAR_DBM = 10 * math.log10(255.0)
FAR_DBM = -300.0
FULL_SHARE_MBPS = (80.0, 160.0, 160.0, 800.0)  # 8 bit/s/Hz x 10, 20, 20, 100 MHz: above every capacity


# ----------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SMALL, OVERRIDES).scenario


@pytest.fixture(scope="module")
def base(scenario) -> xr.Dataset:
    inputs = build_inputs(scenario)
    assert inputs.sizes["site"] == 2 and inputs.sizes["band"] == 4 and inputs.sizes["time"] == N_STEPS + 1
    assert float(inputs.time_step_s) == STEP_S
    # the hand numbers above are the data files' numbers
    np.testing.assert_allclose(inputs.capacity_mbps.values, [50.0, 100.0, 120.0, 500.0])
    np.testing.assert_allclose(inputs.bandwidth_mhz.values, [10.0, 20.0, 20.0, 100.0])
    np.testing.assert_allclose(inputs.power_standby_kw.values, STANDBY_KW)
    assert float(inputs.power_deep_sleep_kw) == DEEP_SLEEP_KW and float(inputs.power_scale) == 1.0
    assert list(inputs["class"].values) == ["emergency", "voice", "essential", "best_effort"]
    assert float(inputs.sectors_per_site) == 3 and float(inputs.uplink_ratio) == 0.1
    assert ACTIVE_LTE_KW == pytest.approx(0.7878643, abs=1e-6) and ACTIVE_NR_KW == pytest.approx(1.2075787, abs=1e-6)
    return inputs


def ev(site: int, arrival_s: float = 0.0, departure_s: float = 1e6, capacity_kwh: float = 60.0, soc: float = 0.8) -> dict:
    return {"site": site, "arrival_s": arrival_s, "departure_s": departure_s, "capacity_kwh": capacity_kwh, "soc": soc}


def with_evs(inputs: xr.Dataset, evs: list[dict]) -> xr.Dataset:
    """The inputs with their EVs replaced by the given ones."""
    ds = inputs.drop_dims("ev")
    n = len(evs)
    arrival = np.array([e["arrival_s"] for e in evs], dtype=float)
    departure = np.array([e["departure_s"] for e in evs], dtype=float)
    t = inputs.time.values
    ds = ds.assign_coords(ev=np.arange(n))
    ds["ev_site"] = ("ev", np.array([e["site"] for e in evs], dtype=np.int64))
    ds["ev_arrival_s"] = ("ev", arrival)
    ds["ev_departure_s"] = ("ev", departure)
    ds["ev_capacity_kwh"] = ("ev", np.array([e["capacity_kwh"] for e in evs], dtype=float))
    ds["ev_soc_initial"] = ("ev", np.array([e["soc"] for e in evs], dtype=float))
    ds["ev_present"] = (("ev", "time"), (arrival[:, None] <= t[None, :]) & (t[None, :] < departure[:, None]))
    return ds


def set_hand_users(ds: xr.Dataset, base: xr.Dataset, demand, user_class, ranked, rx) -> None:
    """Set the per-user fields of hand inputs: demand (Mbit/s) and class, the class's SLA rate and weight,
    the ranked sites with their received power (dBm), noise 0 dBm (1 mW), no residual interference."""
    n = len(demand)
    ds["noise_dbm"] = ("band", np.zeros(4))
    ds["demand_mbps"] = ("user", demand)
    ds["user_class"] = ("user", user_class)
    ds["min_rate_mbps"] = ("user", demand * base.class_min_rate_fraction.values[user_class])
    ds["user_weight"] = ("user", base.class_weight.values[user_class])
    ds["user_covered"] = ("user", np.ones(n, dtype=bool))
    ds["ranked_site"] = (("user", "site_rank"), ranked)
    ds["ranked_rx_dbm"] = (("user", "site_rank", "band"), rx)
    ds["residual_interference_dbm"] = (("user", "band"), np.full((n, 4), -np.inf))


def hand_inputs(
    base: xr.Dataset,
    users: list[tuple[int, float]] = ((BEST_EFFORT, 1.0),),
    served_by_b: tuple[int, ...] = (),
    evs: list[dict] = (),
    battery_soc: tuple[float, float] = (0.8, 0.8),
    **scalars: float,
) -> xr.Dataset:
    """A copy of the two-site inputs with the hand radio map, the given users (class, demand Mbit/s), EVs,
    battery states of charge and scalar values (efficiencies, limits, P_sleep).

    A user is received at 255 mW by its site (A, or B for the indices in ``served_by_b``) and at 1e-30 mW by
    the other; every band's noise is 1 mW.
    """
    ds = base.drop_dims(["user", "pair", "site_rank"])
    n = len(users)
    user_class = np.array([c for c, _ in users], dtype=np.int64)
    demand = np.array([d for _, d in users], dtype=float)
    strong = np.array([1 if u in served_by_b else 0 for u in range(n)])
    ranked = np.stack([strong, 1 - strong], axis=1)  # (user, rank): strongest site first
    rx = np.empty((n, 2, 4))
    rx[:, 0, :], rx[:, 1, :] = NEAR_DBM, FAR_DBM
    ds = ds.assign_coords(user=np.arange(n), pair=np.arange(2 * n), site_rank=np.arange(2))
    set_hand_users(ds, base, demand, user_class, ranked, rx)
    ds["pair_user"] = ("pair", np.repeat(np.arange(n), 2))
    ds["pair_site"] = ("pair", ranked.ravel())
    ds["pair_rank"] = ("pair", np.tile([0, 1], n))
    ds["pair_in_normal_radius"] = ("pair", np.tile([True, False], n))
    ds["pair_in_assisted_radius"] = ("pair", np.tile([True, False], n))
    ds = with_evs(ds, list(evs))
    ds["battery_soc_initial"] = ("site", np.asarray(battery_soc, dtype=float))
    for name, value in scalars.items():
        assert name in base and base[name].ndim == 0, name
        ds[name] = ((), value)
    return ds


def decision(world: World, mode, bands, user_site=None, request_kw=(0.0, 0.0)) -> Decision:
    return Decision(
        mode=np.asarray(mode),
        band_on=np.asarray(bands, dtype=bool),
        user_site=np.full(world.n_user, -1) if user_site is None else np.asarray(user_site),
        ev_request_kw=np.asarray(request_kw, dtype=float),
        links=np.zeros(world.n_edge, dtype=bool),
    )


class Scripted:
    """A strategy playing one decision per step (the last repeats); it keeps every state it was shown."""

    name = "scripted"

    def __init__(self, *steps: dict) -> None:
        self.steps = steps
        self.events: list[SolverEvent] = []

    def reset(self, world: World) -> None:
        self.world = world
        self.seen: list[State] = []

    def decide(self, state: State) -> Decision:
        self.seen.append(state)
        return decision(self.world, **self.steps[min(state.step, len(self.steps) - 1)])


def run(scenario, inputs: xr.Dataset, *steps: dict) -> tuple[xr.Dataset, Scripted]:
    """One scripted run; the results of the strategy (dims site/ev/class x time) and the strategy."""
    strategy = Scripted(*steps)
    results = run_outage(scenario, inputs, strategies=[strategy])
    return results.sel(strategy="scripted"), strategy


def energy_path(r: xr.Dataset, name: str, dim: str) -> np.ndarray:
    """(dim, time + 1) energies: start of every step, then the end of the run."""
    return np.concatenate([r[name].transpose(dim, "time").values, r[f"{name}_end"].values[:, None]], axis=1)


SLEEPING = {"mode": (SLEEP, SLEEP), "bands": (NONE, NONE)}  # both sites draw exactly P_sleep


# ---------------------------------------------------------------- 1. one step of battery and EV energy


def test_battery_discharge_loses_power_over_eta_dis_and_never_uses_eta_ch(scenario, base):
    """No EV: a battery giving P kW for dt h loses P dt / eta_dis kWh (eta_dis = 0.8, eta_ch = 0.9 apart)."""
    inputs = hand_inputs(
        base, battery_soc=(0.8, 0.5), power_deep_sleep_kw=6.0,
        battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9,
    )
    r, _ = run(scenario, inputs, {**SLEEPING, "request_kw": (np.inf, np.inf)})
    np.testing.assert_allclose(r.site_power.values, 6.0)  # P_sleep at both sites, every step
    np.testing.assert_allclose(r.battery_power.values, 6.0)
    np.testing.assert_allclose(r.ev_power.values, 0.0)
    per_step = 6.0 * DT_H / 0.8  # 0.0625 kWh
    assert per_step == pytest.approx(0.0625)
    expected = np.array([16.0, 10.0])[:, None] - per_step * np.arange(N_STEPS + 1)[None, :]
    np.testing.assert_allclose(energy_path(r, "battery_energy", "site"), expected, rtol=0, atol=1e-12)
    assert not (r["mode"] == DARK).any()


def test_ev_gives_what_is_asked_and_loses_it_over_eta_ev(scenario, base):
    """Load 6 kW at both sites, one EV parked at each; eta_ev = 0.75, eta_dis = 0.8.

    Site A asks 4 kW: the EV loses 4 dt / 0.75, the battery gives 2 kW and loses 2 dt / 0.8.
    Site B asks everything: P_max = 7 kW at the EV battery is 0.75 x 7 = 5.25 kW at the bus (below the
    7-kW V2X limit); the EV loses 5.25 dt / 0.75 = 7 dt and the battery gives 0.75 kW.
    """
    inputs = hand_inputs(
        base, evs=[ev(0, capacity_kwh=60.0, soc=0.8), ev(1, capacity_kwh=50.0, soc=0.9)],
        power_deep_sleep_kw=6.0, battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9, ev_efficiency=0.75,
    )
    r, _ = run(scenario, inputs, {**SLEEPING, "request_kw": (4.0, np.inf)})
    np.testing.assert_allclose(r.ev_power.values, [[4.0] * N_STEPS, [5.25] * N_STEPS], atol=1e-12)
    np.testing.assert_allclose(r.battery_power.values, [[2.0] * N_STEPS, [0.75] * N_STEPS], atol=1e-12)
    steps = np.arange(N_STEPS + 1)
    np.testing.assert_allclose(
        energy_path(r, "ev_energy", "ev"),
        [48.0 - 4.0 * DT_H / 0.75 * steps, 45.0 - 7.0 * DT_H * steps],  # 0.8 x 60 and 0.9 x 50 kWh on arrival
        rtol=0, atol=1e-12,
    )
    np.testing.assert_allclose(
        energy_path(r, "battery_energy", "site"), [16.0 - 2.0 * DT_H / 0.8 * steps, 16.0 - 0.75 * DT_H / 0.8 * steps], rtol=0, atol=1e-12
    )
    assert float(r.ev_energy_taken) == pytest.approx(N_STEPS * DT_H * (4.0 / 0.75 + 7.0), rel=1e-12)


def test_ev_surplus_charges_the_battery_with_eta_ch_within_soc_max(scenario, base):
    """Load 1 kW, each site asks all its EV gives (5.25 kW at the bus); the surplus goes into the battery.

    Site A (16 of 20 kWh, SOC_max 0.9 -> 18 kWh): takes 4.25 kW and stores 0.9 x 4.25 dt per step.
    Site B starts 0.009 kWh below 18 kWh: room for 0.009 / (0.9 dt) = 1.2 kW in the first step, so its EV
    gives 1 + 1.2 = 2.2 kW; afterwards the battery is full and the EV carries just the 1-kW load.
    """
    inputs = hand_inputs(
        base, evs=[ev(0), ev(1)], battery_soc=(0.8, (18.0 - 0.009) / 20.0),
        power_deep_sleep_kw=1.0, battery_soc_max=0.9, battery_discharge_efficiency=0.8,
        battery_charge_efficiency=0.9, ev_efficiency=0.75,
    )
    r, _ = run(scenario, inputs, {**SLEEPING, "request_kw": (np.inf, np.inf)})
    np.testing.assert_allclose(r.site_power.values, 1.0)
    np.testing.assert_allclose(r.ev_power.values, [[5.25] * N_STEPS, [2.2] + [1.0] * (N_STEPS - 1)], atol=1e-9)
    np.testing.assert_allclose(r.battery_power.values, [[-4.25] * N_STEPS, [-1.2] + [0.0] * (N_STEPS - 1)], atol=1e-9)
    steps = np.arange(N_STEPS + 1)
    battery = energy_path(r, "battery_energy", "site")
    np.testing.assert_allclose(battery[0], 16.0 + 0.9 * 4.25 * DT_H * steps, rtol=0, atol=1e-12)
    np.testing.assert_allclose(battery[1], [17.991] + [18.0] * N_STEPS, rtol=0, atol=1e-9)
    ev_energy = energy_path(r, "ev_energy", "ev")
    np.testing.assert_allclose(ev_energy[0], 48.0 - 5.25 / 0.75 * DT_H * steps, rtol=0, atol=1e-12)
    given_b = np.r_[0.0, 2.2, [1.0] * (N_STEPS - 1)] / 0.75 * DT_H
    np.testing.assert_allclose(ev_energy[1], 48.0 - np.cumsum(given_b), rtol=0, atol=1e-9)


def test_charging_is_held_to_p_ch_max(scenario, base):
    """P_ch^max = 2 kW: of the EV's 5.25 kW, the site takes only load + 2 = 3 kW; the battery stores 0.9 x 2 dt."""
    inputs = hand_inputs(
        base, evs=[ev(0)], power_deep_sleep_kw=1.0, battery_max_charge_kw=2.0,
        battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9, ev_efficiency=0.75,
    )
    r, _ = run(scenario, inputs, {**SLEEPING, "request_kw": (np.inf, np.inf)})
    site_a = r.isel(site=0)
    np.testing.assert_allclose(site_a.ev_power.values, 3.0)
    np.testing.assert_allclose(site_a.battery_power.values, -2.0)
    steps = np.arange(N_STEPS + 1)
    np.testing.assert_allclose(energy_path(r, "battery_energy", "site")[0], 16.0 + 0.9 * 2.0 * DT_H * steps, rtol=0, atol=1e-12)
    np.testing.assert_allclose(energy_path(r, "ev_energy", "ev")[0], 48.0 - 3.0 / 0.75 * DT_H * steps, rtol=0, atol=1e-12)
    # site B has no EV: its battery carries the 1-kW load
    np.testing.assert_allclose(r.isel(site=1).battery_power.values, 1.0)


def test_v2x_limit_and_split_over_the_parked_evs(scenario, base):
    """Site A has three EVs: two full ones that each offer 5.25 kW at the bus and one 0.04 kWh above its
    reserve, which offers 0.04 x 0.75 / dt = 3.6 kW. Together 14.1 kW, held to the 7-kW V2X limit and split
    in proportion to the offers. Load 10 kW, eta_ev = 0.75."""
    low = ev(0, capacity_kwh=10.0, soc=0.334)  # 3.34 kWh, reserve 0.33 x 10 = 3.3 kWh
    inputs = hand_inputs(
        base, evs=[ev(0), ev(0, capacity_kwh=40.0, soc=0.7), low], power_deep_sleep_kw=10.0,
        battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9, ev_efficiency=0.75,
    )
    r, _ = run(scenario, inputs, {**SLEEPING, "request_kw": (np.inf, 0.0)})
    ev_power = r.isel(site=0).ev_power.values
    assert ev_power[0] == pytest.approx(7.0, rel=1e-12)
    offers = np.array([5.25, 5.25, 3.6])
    first = 7.0 * offers / offers.sum()  # kW at the bus of each EV in the first step
    ev_energy = energy_path(r, "ev_energy", "ev")
    np.testing.assert_allclose(ev_energy[:, 0] - ev_energy[:, 1], first * DT_H / 0.75, rtol=1e-12)
    # the low EV gave 7 x 3.6 / 14.1 kW for one step; what it has left above its reserve it offers next
    low_left = 0.04 - first[2] * DT_H / 0.75
    offers = np.array([5.25, 5.25, low_left * 0.75 / DT_H])
    second = 7.0 * offers / offers.sum()
    np.testing.assert_allclose(ev_energy[:, 1] - ev_energy[:, 2], second * DT_H / 0.75, rtol=1e-9)
    np.testing.assert_allclose(r.isel(site=0).battery_power.values[:2], 3.0)
    # never below the reserve, and the site's V2G power never above the V2X limit
    assert ev_energy[2].min() >= 3.3 - 1e-12
    assert (ev_power <= 7.0 + 1e-12).all()


def test_ev_reserve_is_kept_and_an_ev_below_it_gives_nothing(scenario, base):
    """One EV 0.04 kWh above its reserve gives 0.04 x 0.75 / dt = 3.6 kW for one step, then nothing;
    one that arrives below the driver's reserve (SOC 0.2 < 0.33) gives nothing at all."""
    inputs = hand_inputs(
        base, evs=[ev(0, capacity_kwh=10.0, soc=0.334), ev(1, capacity_kwh=50.0, soc=0.2)], power_deep_sleep_kw=5.0,
        battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9, ev_efficiency=0.75,
    )
    r, _ = run(scenario, inputs, {**SLEEPING, "request_kw": (np.inf, np.inf)})
    np.testing.assert_allclose(r.ev_power.values, [[3.6] + [0.0] * (N_STEPS - 1), [0.0] * N_STEPS], atol=1e-9)
    np.testing.assert_allclose(r.battery_power.values, [[1.4] + [5.0] * (N_STEPS - 1), [5.0] * N_STEPS], atol=1e-9)
    np.testing.assert_allclose(energy_path(r, "ev_energy", "ev"), [[3.34] + [3.3] * N_STEPS, [10.0] * (N_STEPS + 1)], rtol=0, atol=1e-9)


def test_battery_floor_and_discharge_limit_decide_when_a_site_goes_dark(scenario, base):
    """P_dis^max = 3 kW, eta_dis = 0.8, no EV.

    Site A sleeps at P_sleep = 2.4 kW, losing 2.4 dt / 0.8 = 0.025 kWh a step, with 2.9 steps' worth above
    SOC_min (4 kWh): it carries steps 0 and 1 and is dark from t = 60 s, at 4.0225 kWh. The 0.0225 kWh left
    above SOC_min would give 0.0225 x 0.8 / dt = 2.16 kW at the bus, short of 2.4 (not counting eta_dis it
    would seem to give 2.7 kW, and with eta_dis inverted the battery would lose 0.016 kWh a step and last longer).
    Site B is normal with every carrier on and no user: 3 x 0.788 + 1.208 = 3.571 kW > 3 kW, dark at once.
    """
    inputs = hand_inputs(
        base, battery_soc=((4.0 + 2.9 * 0.025) / 20.0, 0.8), power_deep_sleep_kw=2.4, battery_max_discharge_kw=3.0,
        battery_discharge_efficiency=0.8, battery_charge_efficiency=0.9,
    )
    r, _ = run(scenario, inputs, {"mode": (SLEEP, NORMAL), "bands": (NONE, ALL)})
    mode = r["mode"].transpose("site", "time").values
    np.testing.assert_array_equal(mode[0], [SLEEP, SLEEP] + [DARK] * (N_STEPS - 2))
    np.testing.assert_array_equal(mode[1], [DARK] * N_STEPS)
    np.testing.assert_allclose(r.site_power.values, [[2.4, 2.4] + [0.0] * (N_STEPS - 2), [0.0] * N_STEPS], atol=1e-12)
    np.testing.assert_allclose(
        energy_path(r, "battery_energy", "site"), [[4.0725, 4.0475] + [4.0225] * (N_STEPS - 1), [16.0] * (N_STEPS + 1)], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(r.site_dark_time.values * 3600.0, [60.0, 0.0])
    assert float(r.survival_time) == 0.0


# ---------------------------------------------------------------- 2. when an EV counts as parked


def test_an_ev_is_parked_only_for_steps_it_is_there_from_start_to_end(scenario, base):
    """Steps of 30 s from t = 0 (steps 0..5); an EV is parked for a step if it arrives at or before the step's
    start and leaves at or after its end. Each parked EV gives P_max = 7 kW at its battery (eta_ev x 7 at the
    bus, the V2X limit raised to 100 kW), so it loses exactly 7 dt in a parked step and nothing otherwise."""
    cases = [  # (arrival, departure) -> steps parked
        ((0.0, 1e6), {0, 1, 2, 3, 4, 5}),
        ((60.0, 1e6), {2, 3, 4, 5}),  # arrives exactly at the start of step 2
        ((61.0, 1e6), {3, 4, 5}),  # just after it: not step 2
        ((0.0, 90.0), {0, 1, 2}),  # leaves exactly at the end of step 2
        ((0.0, 89.0), {0, 1}),  # leaves just before it: not step 2
        ((31.0, 150.0), {2, 3, 4}),
        ((30.0, 60.0), {1}),  # exactly one step
        ((30.0, 59.0), set()),  # less than a whole step
        ((200.0, 1e6), set()),  # after the run
    ]
    evs = [ev(0, arrival_s=a, departure_s=d) for (a, d), _ in cases]
    inputs = hand_inputs(
        base, evs=evs, power_deep_sleep_kw=40.0, battery_max_discharge_kw=50.0, ev_v2x_limit_kw=100.0, ev_efficiency=0.75
    )
    r, strategy = run(scenario, inputs, {**SLEEPING, "request_kw": (np.inf, 0.0)})
    expected = np.array([[k in steps for k in range(N_STEPS)] for _, steps in cases])
    # what the strategy is told at the start of each step: the EVs there at that instant (arrival <= t < departure),
    # not whether they stay the whole step (that would be a look at the future)
    there = np.array([[a <= 30.0 * k < d for k in range(N_STEPS)] for (a, d), _ in cases])
    told = {state.step: state.parked for state in strategy.seen}
    np.testing.assert_array_equal(np.stack([told[k] for k in range(N_STEPS)], axis=1), there)
    # what the EVs give: 7 kW at the battery while parked
    ev_energy = energy_path(r, "ev_energy", "ev")
    np.testing.assert_allclose(ev_energy[:, :-1] - ev_energy[:, 1:], np.where(expected, 7.0 * DT_H, 0.0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.isel(site=0).ev_power.values, 0.75 * 7.0 * expected.sum(axis=0), atol=1e-9)


# ---------------------------------------------------------------- 3. site power in the simulator's step


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_site_power_counts_standby_deep_sleep_and_dark_in_the_simulator(scenario, base, scale):
    """Site A plays one configuration per step; site B starts at SOC_min and no EV, so it is dark (0 kW).

    Eq. 4 at site A, times the calibration factor:
      0 normal, every carrier, no user:   3 x 0.788 + 1.208
      1 normal, L800 + N3700, no user:    0.788 + 1.208 + standby 0.15 + 0.15
      2 normal, L800 only, no user:       0.788 + standby 0.15 + 0.15 + 0.30
      3 assisted, L800:                   the same as step 2
      4 deep sleep:                       P_sleep = 0.1 (no standby)
      5 normal, L800 + L1800, one best-effort user asking 130 Mbit/s: L1800 (the larger band) carries
        100 Mbit/s (its capacity) on 100/160 of the band, L800 the remaining 30 Mbit/s on 30/80 of it;
        Eq. 2 adds 0.363 rho + (beta_3 + u beta_4) nu on each, standby for L2600 and N3700.
    """
    inputs = hand_inputs(base, users=[(BEST_EFFORT, 130.0)], battery_soc=(0.8, 0.2), power_scale=scale)
    steps = [
        {"mode": (NORMAL, NORMAL), "bands": (ALL, ALL)},
        {"mode": (NORMAL, NORMAL), "bands": (L800_N3700, ALL)},
        {"mode": (NORMAL, NORMAL), "bands": (L800, ALL)},
        {"mode": (ASSISTED, NORMAL), "bands": (L800, ALL)},
        {"mode": (SLEEP, NORMAL), "bands": (NONE, ALL)},
        {"mode": (NORMAL, NORMAL), "bands": (L800_L1800, ALL), "user_site": (0,)},
    ]
    r, _ = run(scenario, inputs, *steps)
    served_part = (
        UTILISATION_LTE_KW * (100 / 160) + TRAFFIC_L1800_KW * 100.0 + UTILISATION_LTE_KW * (30 / 80) + TRAFFIC_L800_KW * 30.0
    )
    expected_a = scale * np.array(
        [
            3 * ACTIVE_LTE_KW + ACTIVE_NR_KW,
            ACTIVE_LTE_KW + ACTIVE_NR_KW + 0.15 + 0.15,
            ACTIVE_LTE_KW + 0.15 + 0.15 + 0.30,
            ACTIVE_LTE_KW + 0.15 + 0.15 + 0.30,
            DEEP_SLEEP_KW,
            2 * ACTIVE_LTE_KW + 0.15 + 0.30 + served_part,
        ]
    )
    site_power = r.site_power.transpose("site", "time").values
    np.testing.assert_allclose(site_power[0], expected_a, rtol=1e-12)
    np.testing.assert_array_equal(site_power[1], 0.0)
    np.testing.assert_array_equal(r["mode"].isel(site=1).values, DARK)
    np.testing.assert_array_equal(r["mode"].isel(site=0).values, [NORMAL, NORMAL, NORMAL, ASSISTED, SLEEP, NORMAL])
    # the served traffic behind step 5, and the battery carrying it all
    traffic = r.band_traffic.isel(site=0, time=5).values
    np.testing.assert_allclose(traffic, [30.0, 100.0, 0.0, 0.0], rtol=1e-9)
    np.testing.assert_allclose(r.battery_power.isel(site=0).values, expected_a, rtol=1e-12)


# ---------------------------------------------------------------- 4. served rates: class priority and lambda_loss


def test_classes_are_served_in_priority_order_and_a_helper_loses_lambda(scenario, base):
    """Site A on L800 + L1800 (50 + 100 Mbit/s; a whole band would carry 80 and 160 at 8 bit/s/Hz, so the
    capacities bind) serves four users listed lowest class first, asking 40 (best effort), 50 (essential),
    60 (voice) and 30 Mbit/s (emergency). Site B serves one best-effort user asking 100 Mbit/s on L800.

    Normal (150 Mbit/s at A): emergency 30, voice 60, essential 50 (the 180 asked exceed it), best effort
    the last 10. Helping (A's capacity x 0.95 = 142.5): best effort gets 2.5. B is not helping: 50 both times.
    """
    users = [(BEST_EFFORT, 40.0), (ESSENTIAL, 50.0), (VOICE, 60.0), (EMERGENCY, 30.0), (BEST_EFFORT, 100.0)]
    inputs = hand_inputs(base, users=users, served_by_b=(4,), power_deep_sleep_kw=0.1)
    assert float(inputs.helping_overhead) == 0.05
    on = {"bands": (L800_L1800, L800), "user_site": (0, 0, 0, 0, 1)}
    r, _ = run(scenario, inputs, {"mode": (NORMAL, NORMAL), **on}, {"mode": (HELPING, NORMAL), **on})
    served = r.served_mbps.transpose("site", "time").values
    np.testing.assert_allclose(served[:, 0], [150.0, 50.0], rtol=1e-9)
    np.testing.assert_allclose(served[:, 1:], [[142.5] * (N_STEPS - 1), [50.0] * (N_STEPS - 1)], rtol=1e-9)
    # served share per class (one user per class besides B's best-effort user; shares against all demand)
    share = r.served_share.transpose("class", "time").values
    np.testing.assert_allclose(share[:, 0], [1.0, 1.0, 1.0, (10.0 + 50.0) / 140.0], rtol=1e-9)
    np.testing.assert_allclose(share[:, 1], [1.0, 1.0, 1.0, (2.5 + 50.0) / 140.0], rtol=1e-9)
    # per user, at the sample taken at t = 0 (normal)
    np.testing.assert_allclose(r.user_rate.isel(sample_time=0).values, [10.0, 50.0, 60.0, 30.0, 50.0], rtol=1e-6)
    # the helper's bands: L1800 first (the larger capacity), 95 Mbit/s, then L800, 47.5
    np.testing.assert_allclose(r.band_traffic.isel(site=0, time=1).values, [47.5, 95.0, 0.0, 0.0], rtol=1e-6)


def test_capacity_short_within_a_class_after_a_higher_one(scenario, base):
    """Site A on L800 only (50 Mbit/s): the voice user (30) first, then two essential users asking 30 and 10
    share the 20 left in proportion to demand: 15 and 5. When helping (47.5): 17.5 left, 13.125 and 4.375."""
    users = [(ESSENTIAL, 30.0), (VOICE, 30.0), (ESSENTIAL, 10.0)]
    inputs = hand_inputs(base, users=users)
    on = {"bands": (L800, NONE), "user_site": (0, 0, 0)}
    world = World(inputs)
    normal = world.serve(np.array([NORMAL, SLEEP]), np.array([L800, NONE], dtype=bool), np.array([0, 0, 0]))
    helping = world.serve(np.array([HELPING, SLEEP]), np.array([L800, NONE], dtype=bool), np.array([0, 0, 0]))
    np.testing.assert_allclose(normal.rate_mbps, [15.0, 30.0, 5.0], rtol=1e-9)
    np.testing.assert_allclose(helping.rate_mbps, [13.125, 30.0, 4.375], rtol=1e-9)
    # shares of the band: rate / 80 Mbit/s per whole band
    np.testing.assert_allclose(normal.band_share[:, 0], np.array([15.0, 30.0, 5.0]) / 80.0, rtol=1e-9)
    # and the same through a run
    r, _ = run(scenario, inputs, {"mode": (HELPING, SLEEP), **on})
    np.testing.assert_allclose(r.served_mbps.isel(site=0).values, 47.5, rtol=1e-9)
    np.testing.assert_allclose(r.served_share.sel({"class": "essential"}).values, (13.125 + 4.375) / 40.0, rtol=1e-9)


# ---------------------------------------------------------------- 5. conservation for every strategy, from the results


def test_every_strategy_conserves_energy_from_the_recorded_powers(scenario, base):
    """independent, static and msrc on the two-site realisation with EVs set by hand. From the results
    Dataset and the inputs only: site power = battery + EV power (no grid in an outage); each battery
    ends at SOC_0 E_SB minus the recorded battery powers x dt / eta_dis (or plus eta_ch x dt when
    charging); each site's EVs end at their arrival energy minus the recorded V2G power x dt / eta_ev;
    an EV loses energy only in steps it is parked for, at most P_max dt, never below its reserve."""
    evs = [
        ev(0, arrival_s=0.0, departure_s=1e6, capacity_kwh=60.0, soc=0.7),
        ev(0, arrival_s=45.0, departure_s=1e6, capacity_kwh=40.0, soc=0.6),  # parked from step 2
        ev(1, arrival_s=0.0, departure_s=75.0, capacity_kwh=50.0, soc=0.5),  # parked in steps 0 and 1
        ev(1, arrival_s=0.0, departure_s=1e6, capacity_kwh=50.0, soc=0.3),  # below the reserve: gives nothing
    ]
    inputs = with_evs(base, evs)
    inputs["battery_soc_initial"] = ("site", np.array([0.8, 0.201]))  # B has 0.02 kWh above SOC_min
    results = run_outage(scenario, inputs)
    assert list(results.strategy.values) == ["independent", "static", "msrc"]

    capacity = np.array([20.0, 20.0])  # battery.capacity_kwh of models/msrc.yaml
    eta_dis, eta_ch, eta_ev = 0.95, 0.95, 0.93
    battery_start = np.array([0.8, 0.201]) * capacity
    ev_start = np.array([0.7 * 60.0, 0.6 * 40.0, 0.5 * 50.0, 0.3 * 50.0])
    ev_reserve = np.array([0.33 * 60.0, 0.33 * 40.0, 0.33 * 50.0, 0.3 * 50.0])  # the lower of the reserve and the arrival energy
    ev_site = np.array([0, 0, 1, 1])
    start = np.arange(N_STEPS) * STEP_S
    parked = np.array([(e["arrival_s"] <= start) & (e["departure_s"] >= start + STEP_S) for e in evs])
    assert parked.tolist() == [[True] * 6, [False, False, True, True, True, True], [True, True, False, False, False, False], [True] * 6]
    charged = False
    for name in results.strategy.values:
        r = results.sel(strategy=name)
        site_power = r.site_power.transpose("site", "time").values
        battery_power = r.battery_power.transpose("site", "time").values
        ev_power = r.ev_power.transpose("site", "time").values
        np.testing.assert_allclose(site_power, battery_power + ev_power, rtol=0, atol=1e-9, err_msg=name)

        battery = energy_path(r, "battery_energy", "site")
        np.testing.assert_allclose(battery[:, 0], battery_start, rtol=0, atol=1e-12, err_msg=name)
        lost = np.where(battery_power > 0, battery_power / eta_dis, battery_power * eta_ch) * DT_H
        np.testing.assert_allclose(battery[:, 1:], battery_start[:, None] - np.cumsum(lost, axis=1), rtol=0, atol=1e-9, err_msg=name)
        assert (battery >= 0.2 * capacity[:, None] - 1e-9).all() and (battery <= capacity[:, None] + 1e-9).all(), name
        assert (battery_power <= 10.0 + 1e-9).all() and (battery_power >= -10.0 - 1e-9).all(), name
        charged |= bool((battery_power < -1e-9).any())

        energy = energy_path(r, "ev_energy", "ev")
        np.testing.assert_allclose(energy[:, 0], ev_start, rtol=0, atol=1e-12, err_msg=name)
        given = energy[:, :-1] - energy[:, 1:]  # (ev, time) kWh each EV lost
        per_site = np.stack([given[ev_site == s].sum(axis=0) for s in range(2)])
        np.testing.assert_allclose(per_site, ev_power * DT_H / eta_ev, rtol=0, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(
            [ev_start[ev_site == s].sum() - energy[ev_site == s, -1].sum() for s in range(2)],
            ev_power.sum(axis=1) * DT_H / eta_ev, rtol=0, atol=1e-9, err_msg=name,
        )
        assert (given >= -1e-12).all(), name  # V2G only: no EV is charged
        assert (given[~parked] == 0).all(), name
        assert (given <= 7.0 * DT_H + 1e-12).all() and (energy >= ev_reserve[:, None] - 1e-9).all(), name
        assert (ev_power <= 7.0 + 1e-9).all(), name
        assert float(r.ev_energy_taken) == pytest.approx((ev_start - energy[:, -1]).sum(), abs=1e-9), name
        assert float(r.ev_energy_taken) > 0, name  # the EVs were used: the checks above are not vacuous
        # Table IV's EV utilisation: taken / what the parked EVs could give (above the reserve, at most P_max x parked time)
        offered = np.minimum(np.maximum(ev_start - ev_reserve, 0.0), 7.0 * parked.sum(axis=1) * DT_H)  # 0.35, 0.233, 0.117, 0 kWh
        assert float(r.ev_utilisation) == pytest.approx(float(r.ev_energy_taken) / offered.sum(), rel=1e-9), name
        # nothing drawn at a dark site; a battery charges only from its EVs' surplus over the load
        dark = r["mode"].transpose("site", "time").values == DARK
        assert (site_power[dark] == 0).all() and (ev_power[dark] == 0).all(), name
        charging = battery_power < -1e-9
        assert (ev_power[charging] >= site_power[charging] - 1e-9).all(), name
        if name == "independent":
            # it asks all its EVs can give: every EV parked with energy above its reserve at an awake site gives some
            can_give = parked & (energy[:, :-1] > ev_reserve[:, None] + 1e-9) & ~dark[ev_site]
            assert can_give.sum() >= 10 and (given[can_give] > 0).all(), name
    assert charged, "no strategy recharged a battery from EV surplus"


# ---------------------------------------------------------------- 6. what a strategy cannot decide


def test_an_assisted_site_radiates_and_draws_only_its_low_band_whatever_the_strategy_asks(scenario, base):
    """Eq. 25 in the simulator: an assisted site asking for every carrier gets L800 only (power as step 3 above)."""
    inputs = hand_inputs(base, users=[(BEST_EFFORT, 130.0)], battery_soc=(0.8, 0.8))
    r, _ = run(scenario, inputs, {"mode": (ASSISTED, NORMAL), "bands": (ALL, ALL)})
    np.testing.assert_array_equal(r.band_active.isel(site=0).transpose("time", "band").values, np.broadcast_to(L800, (6, 4)))
    np.testing.assert_allclose(r.site_power.isel(site=0).values, ACTIVE_LTE_KW + 0.15 + 0.15 + 0.30, rtol=1e-12)


def test_a_strategy_cannot_switch_a_site_dark(scenario, base):
    """Dark means out of energy: a decision that darkens a site with energy left (0 kW for free) is refused."""
    inputs = hand_inputs(base, users=[(BEST_EFFORT, 1.0)], battery_soc=(0.8, 0.8))
    with pytest.raises(ValueError, match=r"site\(s\) \[1\] set dark with energy left"):
        run(scenario, inputs, {"mode": (NORMAL, DARK), "bands": (ALL, NONE)})
    with pytest.raises(ValueError, match="one code 0-4 per site"):
        run(scenario, inputs, {"mode": (NORMAL, 7), "bands": (ALL, NONE)})
