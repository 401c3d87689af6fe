"""The outage metrics (``docs/simulation.md``, section Metrics) worked out by hand.

Most tests build a tiny run record by hand: 3 sites, 4 users in 4 traffic
classes, 4 EVs and 12 steps of 900 s (0.25 h, a 3 h run), with known modes,
serving sites, served rates, EV energies and prices. The world the record
belongs to is a stand-in holding only the plain arrays the metrics read
(demand per user, class weights, EV energies, parked steps, ...); its
derived quantities (demand per class, users per class) are summed here with
plain loops. Every expected value is derived in a comment next to it, never
read back from the code under test.

The last test runs the 7-site scenario for real (two short 2 h runs, about a
second each) and recomputes the metrics from the recorded raw arrays and
the inputs Dataset with plain loops, so the stand-in world cannot drift from
the real one unnoticed.

Units: times in h unless the name says s, rates in Mbit/s, energies in kWh,
powers in kW, prices in currency/kWh.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, DARK, HELPING, NORMAL, SLEEP
from msrc_model.simulation.metrics import outage_metrics
from msrc_model.simulation.simulator import Record, World, simulate
from msrc_model.simulation.strategies import Independent, Static

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"

N, H, A, S, D = NORMAL, HELPING, ASSISTED, SLEEP, DARK  # mode codes 0-4, short for the hand tables
X = -1  # user_site: served by no site

# the four classes of the paper, as in models/msrc.yaml
CLASSES = ("emergency", "voice", "essential", "best_effort")
CLASS_WEIGHT = (1000.0, 100.0, 10.0, 1.0)
CLASS_CRITICAL = (True, True, False, False)
QOS_TARGET = (1.0, 0.95, 0.8, 0.5)  # share of the class's demand

# four users: one emergency (1 Mbit/s), one voice (2 Mbit/s), two essential (4 and 6 Mbit/s), no best effort
USER_CLASS = (0, 1, 2, 2)
DEMAND_MBPS = (1.0, 2.0, 4.0, 6.0)

STEP_S = 900.0  # s: 0.25 h per step
STEP_H = 0.25
N_STEPS = 12  # a 3 h run; steps start at 0, 0.25, ..., 2.75 h


def hand_world(
    *,
    n_steps: int = N_STEPS,
    step_s: float = STEP_S,
    n_site: int = 3,
    user_class=USER_CLASS,
    demand_mbps=DEMAND_MBPS,
    ev_initial_kwh=(30.0, 25.0, 20.0, 40.0),
    ev_reserve_kwh=(20.0, 20.0, 20.0, 10.0),
    parked=None,
    uncoverable=None,
    sample_every: int = 4,
    ev_max_power_kw: float = 7.0,
):
    """A stand-in for :class:`World` with the plain arrays the metrics read.

    Demand per class and users per class are summed here with plain loops, not
    with the simulator's code. ``parked`` is (ev, step) bool, parked for the
    whole step; by default EV 0 is parked for steps 0-3 (1 h), EVs 1 and 2 for
    the whole run and EV 3 never.
    """
    n_user, n_class, n_ev, n_band, n_edge = len(user_class), len(CLASSES), len(ev_initial_kwh), 2, 2
    reference = [0.0] * n_class
    users = [0] * n_class
    for c, d in zip(user_class, demand_mbps):
        reference[c] += d
        users[c] += 1
    if parked is None:
        parked = np.zeros((n_ev, n_steps), dtype=bool)
        parked[0, :4] = True
        parked[1, :] = True
        parked[2, :] = True
    inputs = xr.Dataset(
        {"class_weight": ("class", np.array(CLASS_WEIGHT))},
        coords={
            "site": [f"s{i}" for i in range(n_site)],
            "band": ["low", "high"],
            "class": list(CLASSES),
            "edge": np.arange(n_edge),
            "user": np.arange(n_user),
            "ev": np.arange(n_ev),
        },
    )
    return SimpleNamespace(
        inputs=inputs,
        n_site=n_site,
        n_band=n_band,
        n_user=n_user,
        n_ev=n_ev,
        n_edge=n_edge,
        n_class=n_class,
        n_steps=n_steps,
        step_s=step_s,
        step_h=step_s / 3600.0,
        times_s=np.arange(n_steps) * step_s,
        sample_every=sample_every,
        demand=np.array(demand_mbps, dtype=float),
        user_class=np.array(user_class),
        reference_demand=np.array(reference),
        class_users=np.array(users),
        class_critical=np.array(CLASS_CRITICAL),
        class_qos_target=np.array(QOS_TARGET),
        parked=np.asarray(parked, dtype=bool),
        evs=SimpleNamespace(
            initial_kwh=np.array(ev_initial_kwh, dtype=float),
            reserve_kwh=np.array(ev_reserve_kwh, dtype=float),
            max_power_kw=ev_max_power_kw,
        ),
        uncoverable=np.zeros(n_user, dtype=bool) if uncoverable is None else np.asarray(uncoverable, dtype=bool),
    )


def awake_record(world) -> Record:
    """A record with every site normal at every step, nobody served, no V2G (fill in what a test needs)."""
    record = Record(world)
    record.mode[:] = NORMAL
    return record


# The main hand case: 12 steps of 0.25 h, 3 sites.
#   step:    0  1  2  3  4  5  6  7  8  9 10 11   (start, h = step x 0.25)
MODES = [
    [N, N, H, H, H, H, H, H, D, D, D, D],  # site 0: helps from step 2, dark at step 8 (2.0 h)
    [N, N, A, A, S, S, A, N, N, N, D, D],  # site 1: assisted, asleep, assisted, normal; dark at step 10 (2.5 h)
    [N, N, N, N, N, N, N, N, N, N, N, D],  # site 2: normal; dark at step 11 (2.75 h)
]
USER_SITE = [
    [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, X],  # user 0 (emergency): site 0 -> 1 at step 6, 1 -> 2 at step 8
    [1, 1, 1, 1, X, X, 1, 1, 1, 1, 2, X],  # user 1 (voice): unserved while site 1 sleeps, back on site 1; -> 2 at step 10
    [2, X, 0, 0, 0, 0, 0, 0, X, X, X, X],  # user 2 (essential): site 2, a gap, then site 0
    [X] * 12,  # user 3 (essential): never served (uncoverable)
]
SERVED_CLASS_MBPS = [
    [1.0] * 11 + [0.0],  # emergency (demand 1): fully served until every site is dark
    [2.0, 2.0, 2.0, 1.9, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 1.0, 0.0],  # voice (demand 2)
    [4.0, 0.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0],  # essential (demand 4 + 6 = 10): user 2 only
    [0.0] * 12,  # best effort: no users
]


def main_case():
    """The hand world and record above, with V2G at steps 1, 2 (site 0) and 5 (site 1)."""
    world = hand_world(uncoverable=[False, False, False, True])
    record = Record(world)
    record.mode[:] = np.array(MODES).T
    record.user_site[:] = np.array(USER_SITE).T
    record.served_class[:] = np.array(SERVED_CLASS_MBPS).T
    # V2G: site 0 takes 4 kW at steps 1 and 2 from EV 0 (1 kWh per step at the battery, efficiency 1 here),
    # site 1 takes 2 kW at step 5 from EV 1 (0.5 kWh)
    record.ev_power[1, 0] = record.ev_power[2, 0] = 4.0
    record.ev_power[5, 1] = 2.0
    record.ev_drawn_kwh[1, 0] = record.ev_drawn_kwh[2, 0] = 1.0
    record.ev_drawn_kwh[5, 1] = 0.5
    record.ev_energy[:] = world.evs.initial_kwh
    record.ev_energy[2:, 0] -= 1.0  # after step 1
    record.ev_energy[3:, 0] -= 1.0  # after step 2
    record.ev_energy[6:, 1] -= 0.5  # after step 5
    # Eq. 16 price: 0.5 everywhere but where the V2G power flows
    record.price[:] = 0.5
    record.price[1, 0], record.price[2, 0], record.price[5, 1] = 0.2, 0.3, 1.0
    return world, record


# ---------------------------------------------------------------------------------------------
# survival and darkness


def test_survival_and_dark_times_are_the_start_of_the_step_a_site_goes_dark():
    """survival_time, site_dark_time, all_dark_time, survival_censored on the main case."""
    ds = outage_metrics(main_case()[1])
    # site 0 is dark from step 8 (starts at 8 x 0.25 = 2.0 h), site 1 from step 10 (2.5 h), site 2 from step 11 (2.75 h)
    np.testing.assert_allclose(ds.site_dark_time.values, [2.0, 2.5, 2.75], rtol=0, atol=1e-12)
    # T_surv: the first of them, the start of step 8 (not its end, 2.25 h)
    assert float(ds.survival_time) == pytest.approx(2.0, abs=1e-12)
    assert not bool(ds.survival_censored)
    # every site dark from step 11 on: 2.75 h
    assert float(ds.all_dark_time) == pytest.approx(2.75, abs=1e-12)


def test_survival_is_censored_at_the_run_length_when_no_site_goes_dark():
    """No site dark within 12 steps of 0.25 h: survival_time is the run length 3.0 h (not the last step's start 2.75 h)."""
    world = hand_world()
    record = awake_record(world)
    record.mode[5:, 1] = SLEEP  # asleep is not dark
    ds = outage_metrics(record)
    assert float(ds.survival_time) == pytest.approx(12 * 0.25, abs=1e-12)
    assert bool(ds.survival_censored)
    assert np.isnan(ds.site_dark_time.values).all()
    assert np.isnan(float(ds.all_dark_time))


def test_dark_from_the_first_step_is_time_zero_and_a_surviving_site_is_nan():
    """site_dark_time 0 h for a site dark at step 0, NaN for one never dark; all_dark_time NaN while one site lives."""
    world = hand_world()
    record = awake_record(world)
    record.mode[:, 0] = DARK  # site 0 dark from step 0
    record.mode[3:, 2] = DARK  # site 2 dark from step 3 (0.75 h); site 1 never
    ds = outage_metrics(record)
    dark_h = ds.site_dark_time.values
    assert dark_h[0] == 0.0
    assert np.isnan(dark_h[1])
    assert dark_h[2] == pytest.approx(0.75, abs=1e-12)
    assert float(ds.survival_time) == 0.0  # the first site dark: site 0 at 0 h
    assert not bool(ds.survival_censored)
    assert np.isnan(float(ds.all_dark_time))  # site 1 never goes dark


# ---------------------------------------------------------------------------------------------
# service


def test_served_share_per_class_and_step_and_nan_for_a_class_without_users():
    """served_share (class, time): served Mbit/s / demand of all users of the class; NaN for best effort (no users)."""
    ds = outage_metrics(main_case()[1])
    share = ds.served_share.transpose("class", "time").values
    assert ds.served_share.sel({"class": "emergency"}).dims == ("time",)
    # emergency: 1 / 1 until step 10, 0 at step 11
    np.testing.assert_allclose(share[0], [1.0] * 11 + [0.0], atol=1e-12)
    # voice: 2/2, 1.9/2 = 0.95 at step 3, 0 while site 1 sleeps, 1/2 at step 10
    np.testing.assert_allclose(share[1], [1, 1, 1, 0.95, 0, 0, 1, 1, 1, 1, 0.5, 0], atol=1e-12)
    # essential: user 2's 4 Mbit/s against the class's 4 + 6 = 10 Mbit/s (user 3, never served, still counts)
    np.testing.assert_allclose(share[2], [0.4, 0, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0, 0, 0, 0], atol=1e-12)
    assert np.isnan(share[3]).all()


def test_served_share_total_is_against_the_demand_of_all_users():
    """served_share_total (time): all served Mbit/s / 13 Mbit/s (1 + 2 + 4 + 6), the uncoverable user included."""
    ds = outage_metrics(main_case()[1])
    served = [7, 3, 7, 6.9, 5, 5, 7, 7, 3, 3, 2, 0]  # Mbit/s: column sums of SERVED_CLASS_MBPS
    np.testing.assert_allclose(ds.served_share_total.values, np.array(served) / 13.0, atol=1e-12)


def test_served_share_weighted_and_service_continuity():
    """served_share_weighted: class shares x (class weight x users of the class); service_continuity: its mean over all steps.

    Weights x users: emergency 1000 x 1, voice 100 x 1, essential 10 x 2, best effort 1 x 0 -> 1000, 100, 20, 0;
    sum 1120. Per step: (1000 s_emergency + 100 s_voice + 20 s_essential) / 1120.
    """
    ds = outage_metrics(main_case()[1])
    numerators = [
        1000 + 100 + 8,  # step 0: shares 1, 1, 0.4
        1000 + 100 + 0,  # step 1: essential unserved
        1108,  # step 2
        1000 + 95 + 8,  # step 3: voice 0.95
        1000 + 0 + 8,  # step 4: voice unserved
        1008,  # step 5
        1108,  # step 6
        1108,  # step 7
        1100,  # step 8: essential 0
        1100,  # step 9
        1000 + 50 + 0,  # step 10: voice 0.5
        0,  # step 11: all dark
    ]
    np.testing.assert_allclose(ds.served_share_weighted.values, np.array(numerators) / 1120.0, atol=1e-12)
    # mean over the 12 steps of the run: sum 11901 / (1120 x 12)
    assert sum(numerators) == 11901
    assert float(ds.service_continuity) == pytest.approx(11901 / (1120 * 12), abs=1e-12)


def test_critical_service_time_is_the_first_step_a_critical_class_falls_below_its_target():
    """critical_service_time: voice falls below 0.95 first at step 4 (1.0 h).

    At step 3 voice is at 0.95, exactly its target: not below. Essential is below
    its target (0.8) from step 0 but it is not critical; emergency stays at 1 until step 11.
    """
    ds = outage_metrics(main_case()[1])
    assert float(ds.critical_service_time) == pytest.approx(1.0, abs=1e-12)


def test_critical_service_time_watches_emergency_as_well_as_voice():
    """Emergency at 0.99 of its demand at step 7 (target 1.0): 7 x 0.25 = 1.75 h; voice always fully served."""
    world = hand_world()
    record = awake_record(world)
    record.served_class[:, 0] = 1.0
    record.served_class[:, 1] = 2.0
    record.served_class[7:, 0] = 0.99
    assert float(outage_metrics(record).critical_service_time) == pytest.approx(1.75, abs=1e-12)


def test_critical_service_time_is_nan_when_critical_classes_never_fall_below_target():
    """NaN: emergency and voice are always at their targets (voice exactly at 0.95); essential and best effort do not count."""
    world = hand_world()
    record = awake_record(world)
    record.served_class[:, 0] = 1.0
    record.served_class[:, 1] = 1.9  # 0.95 of 2 Mbit/s: at the target, not below
    record.served_class[:, 2] = 0.0  # essential starved: not critical
    assert np.isnan(float(outage_metrics(record).critical_service_time))


def test_a_critical_class_without_users_neither_triggers_critical_time_nor_gets_a_share():
    """No emergency user (users in voice, voice, essential, essential): emergency share NaN, critical time NaN."""
    world = hand_world(user_class=(1, 1, 2, 2), demand_mbps=(1.0, 1.0, 4.0, 6.0))
    record = awake_record(world)
    record.served_class[:, 1] = 2.0  # voice: 2 of 1 + 1 Mbit/s
    record.served_class[:, 2] = 10.0
    ds = outage_metrics(record)
    assert np.isnan(ds.served_share.sel({"class": "emergency"}).values).all()
    assert np.isnan(float(ds.critical_service_time))
    # and it weighs nothing: weights x users 0, 200, 20, 0, every present class at 1 -> weighted share 1
    np.testing.assert_allclose(ds.served_share_weighted.values, 1.0, atol=1e-12)


@pytest.mark.parametrize(
    "step_s, n_steps, table3_step",
    [
        (900.0, 12, 10),  # 2.5 h / 0.25 h = step 10 of a 3 h run
        (900.0, 6, 5),  # a 1.5 h run: its last step, 5 (starts at 1.25 h)
        (30.0, 400, 300),  # 30 s steps, 3.33 h run: 2.5 h = step 300
        (30.0, 300, 299),  # a run of exactly 2.5 h: its last step starts at 2.5 h - 30 s
    ],
)
def test_served_share_table3_is_at_2_5_h_or_the_last_step_of_a_shorter_run(step_s, n_steps, table3_step):
    """served_share_table3 and table3_time: every step has its own emergency share (k + 1) / (n + 1)."""
    world = hand_world(step_s=step_s, n_steps=n_steps)
    record = awake_record(world)
    k = np.arange(n_steps)
    record.served_class[:, 0] = (k + 1) / (n_steps + 1)  # emergency demand 1 Mbit/s
    record.served_class[:, 1] = 2.0 * (n_steps - k) / n_steps  # voice, demand 2 Mbit/s
    ds = outage_metrics(record)
    assert float(ds.table3_time) == pytest.approx(table3_step * step_s / 3600.0, abs=1e-12)
    share = ds.served_share_table3.values
    assert share[0] == pytest.approx((table3_step + 1) / (n_steps + 1), abs=1e-12)
    assert share[1] == pytest.approx((n_steps - table3_step) / n_steps, abs=1e-12)
    assert share[2] == 0.0  # essential never served
    assert np.isnan(share[3])  # best effort: no users


# ---------------------------------------------------------------------------------------------
# EVs and V2G


def test_ev_utilisation_is_energy_taken_over_what_parked_evs_could_give():
    """ev_utilisation and ev_energy_taken.

    Per EV, what it could give: its energy above the reserve, at most P_max = 7 kW (at its battery) x its parked time.
      EV 0: 30 - 20 = 10 kWh above reserve, parked 4 steps = 1 h -> min(10, 7 x 1) = 7 kWh (power-limited)
      EV 1: 25 - 20 = 5 kWh, parked 3 h -> min(5, 21) = 5 kWh (energy-limited)
      EV 2: at its reserve (20 - 20 = 0) though parked all run -> 0
      EV 3: 30 kWh above reserve but never parked -> 0
    Offered 12 kWh; taken 1 + 1 (EV 0) + 0.5 (EV 1) = 2.5 kWh -> 2.5 / 12.
    """
    ds = outage_metrics(main_case()[1])
    assert float(ds.ev_energy_taken) == pytest.approx(2.5, abs=1e-12)
    assert float(ds.ev_utilisation) == pytest.approx(2.5 / 12.0, abs=1e-12)


def test_ev_utilisation_limit_is_p_max_at_the_battery_times_parked_time_only():
    """An EV with 10 kWh above its reserve parked in steps 0 and 1 (0.5 h): min(10, 7 kW x 0.5 h) = 3.5 kWh.

    It gives 0.7 kWh in each of the two steps (the first step counts too): 1.4 / 3.5 = 0.4.
    The other EVs are never parked and so could give nothing, however much energy they carry.
    """
    parked = np.zeros((4, N_STEPS), dtype=bool)
    parked[0, 0:2] = True
    world = hand_world(parked=parked)
    record = awake_record(world)
    record.ev_drawn_kwh[0, 0] = record.ev_drawn_kwh[1, 0] = 0.7
    assert float(outage_metrics(record).ev_utilisation) == pytest.approx(1.4 / 3.5, abs=1e-12)


def test_v2g_cost_is_price_times_v2g_energy_summed_over_steps_and_sites():
    """v2g_cost: 4 kW x 0.25 h x 0.2 + 4 kW x 0.25 h x 0.3 + 2 kW x 0.25 h x 1.0 = 0.2 + 0.3 + 0.5 = 1.0.

    The price (0.5) where no V2G power flows costs nothing.
    """
    assert float(outage_metrics(main_case()[1]).v2g_cost) == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# control overhead


def test_handovers_per_user_count_site_changes_between_served_steps():
    """handovers_per_user: changes of serving site between served steps, averaged over all 4 users.

    user 0: 0 -> 1 at step 6, 1 -> 2 at step 8; losing service at step 11 is no handover -> 2
    user 1: unserved at steps 4-5 and back on the same site 1 (no handover); 1 -> 2 at step 10 -> 1
    user 2: site 2 at step 0, unserved at step 1, site 0 from step 2: the serving site changed -> 1
    user 3: never served -> 0
    mean 4 / 4 = 1.0 (not 4 / 3: the never-served user counts).
    """
    assert float(outage_metrics(main_case()[1]).handovers_per_user) == pytest.approx(1.0, abs=1e-12)


def test_a_gap_without_service_is_not_a_handover():
    """A user on site 1, unserved, on site 1 again, unserved to the end: 0 handovers; the other user 1 -> 2 once: mean 0.5."""
    world = hand_world(user_class=(0, 1), demand_mbps=(1.0, 2.0))
    record = awake_record(world)
    record.user_site[:, 0] = [1, 1, X, X, X, 1, 1, X, 1, X, X, X]
    record.user_site[:, 1] = [X, X, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    assert float(outage_metrics(record).handovers_per_user) == pytest.approx(0.5, abs=1e-12)


def test_mode_switches_per_site_count_changes_between_awake_steps_only():
    """mode_switches_per_site on the main case.

    site 0: normal -> helping at step 2 (1); going dark at step 8 is no switch -> 1
    site 1: normal -> assisted (step 2), assisted -> deep sleep (4), deep sleep -> assisted (6),
            assisted -> normal (7) -> 4; going dark at step 10 is no switch
    site 2: normal until dark -> 0
    mean 5 / 3. (Deep sleep is one of the four cooperation modes of Sec. II-A: only dark ends a
    site's awake life, so entering and leaving deep sleep are switches.)
    """
    assert float(outage_metrics(main_case()[1]).mode_switches_per_site) == pytest.approx(5 / 3, abs=1e-12)


def test_mode_switches_ignore_steps_after_a_site_goes_dark():
    """A site switching 0 -> 1 -> 0 and then dark: 2 switches; the dark rows (code 4) never count; 2 sites -> 1.0."""
    world = hand_world(n_site=2)
    record = awake_record(world)
    record.mode[:, 0] = [N, H, H, N, D, D, D, D, D, D, D, D]
    record.mode[:, 1] = D  # dark from the start: no switch
    assert float(outage_metrics(record).mode_switches_per_site) == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# coverage, per-user samples and the record itself


def test_uncoverable_users_and_their_demand_share():
    """Users 1 and 3 (2 and 6 Mbit/s) reach no site: 2 users, (2 + 6) / 13 of the demand."""
    world = hand_world(uncoverable=[False, True, False, True])
    ds = outage_metrics(awake_record(world))
    assert int(ds.uncoverable_users) == 2
    assert float(ds.uncoverable_demand_share) == pytest.approx(8.0 / 13.0, abs=1e-12)


def test_user_sinr_and_rate_are_sampled_every_stage1_interval():
    """user_sinr (dB) and user_rate (Mbit/s) per user at steps 0, 4 and 8 (every 4 steps: 0, 3600, 7200 s), float32."""
    world, record = main_case()
    assert list(record.sample_steps) == [0, 4, 8]
    record.user_sinr_db[1, 0] = 12.5  # user 0 at step 4 (3600 s)
    record.user_rate_mbps[1, 0] = 1.0
    record.user_sinr_db[2, 2] = -3.0  # user 2 at step 8 (7200 s)
    record.user_rate_mbps[2, 2] = 0.25
    ds = outage_metrics(record)
    np.testing.assert_array_equal(ds.sample_time.values, [0.0, 3600.0, 7200.0])
    assert ds.user_sinr.dims == ("user", "sample_time") and ds.user_rate.dims == ("user", "sample_time")
    assert ds.user_sinr.dtype == np.float32 and ds.user_rate.dtype == np.float32
    assert float(ds.user_sinr.sel(user=0, sample_time=3600.0)) == 12.5
    assert float(ds.user_rate.sel(user=0, sample_time=3600.0)) == 1.0
    assert float(ds.user_sinr.sel(user=2, sample_time=7200.0)) == -3.0
    assert float(ds.user_rate.sel(user=2, sample_time=7200.0)) == 0.25
    assert np.isnan(float(ds.user_sinr.sel(user=1, sample_time=0.0)))  # never set: unserved
    assert float(ds.user_rate.sel(user=1, sample_time=0.0)) == 0.0


def test_the_record_is_stored_site_first_with_the_end_energies_apart():
    """The per-step record in the results: (site|user|ev|edge, time) layout, energies at the start of each step, *_end after the last."""
    world, record = main_case()
    record.site_power[3, 2] = 7.5  # kW, site 2 at step 3 (2700 s)
    record.battery_power[3, 2] = 3.5
    record.served_site[6, 1] = 9.0  # Mbit/s, site 1 at step 6 (5400 s)
    record.band_on[2, 1, 0] = True  # site 1, band 0 ("low") at step 2 (1800 s)
    record.band_traffic[2, 1, 0] = 4.0
    record.links[2, 1] = True  # edge 1 at step 2
    record.battery_energy[:] = 50.0 - np.arange(N_STEPS + 1)[:, None]  # kWh: 50 at the start, one less each step
    record.decide_time[4] = 0.125  # s
    ds = outage_metrics(record)
    at = dict(time=2700.0)
    assert float(ds.site_power.sel(site="s2", **at)) == 7.5
    assert float(ds.battery_power.sel(site="s2", **at)) == 3.5
    assert float(ds.ev_power.sel(site="s0", time=900.0)) == 4.0  # V2G of the main case at step 1
    assert float(ds.served_mbps.sel(site="s1", time=5400.0)) == 9.0
    assert bool(ds.band_active.sel(site="s1", band="low", time=1800.0))
    assert int(ds.band_active.sum()) == 1
    assert float(ds.band_traffic.sel(site="s1", band="low", time=1800.0)) == 4.0
    assert bool(ds.link_active.sel(edge=1, time=1800.0)) and int(ds.link_active.sum()) == 1
    assert float(ds.v2g_price.sel(site="s1", time=4500.0)) == 1.0  # step 5
    assert int(ds["mode"].sel(site="s1", time=3600.0)) == SLEEP  # step 4
    assert int(ds.user_site.sel(user=2, time=900.0)) == -1  # step 1: the gap
    assert int(ds.user_site.sel(user=0, time=5400.0)) == 1  # step 6: user 0 moved to site 1
    # 12 steps in the record; the 13th energy is the end of the run
    assert ds.battery_energy.sizes["time"] == N_STEPS and ds.ev_energy.sizes["time"] == N_STEPS
    assert float(ds.battery_energy.sel(site="s0", time=0.0)) == 50.0
    assert float(ds.battery_energy.sel(site="s0", time=2.75 * 3600)) == 50.0 - 11
    np.testing.assert_array_equal(ds.battery_energy_end.values, [50.0 - 12] * 3)
    # EV 0 gave 1 kWh in each of steps 1 and 2: 30 at the start of steps 0-1, 29 at step 2, 28 from step 3, 28 at the end
    np.testing.assert_array_equal(ds.ev_energy.sel(ev=0).values[:4], [30.0, 30.0, 29.0, 28.0])
    np.testing.assert_array_equal(ds.ev_energy_end.values, [28.0, 24.5, 20.0, 40.0])
    assert float(ds.decide_time.sel(time=3600.0)) == 0.125
    np.testing.assert_array_equal(ds.time.values, np.arange(N_STEPS) * STEP_S)


UNITS = {
    "survival_time": "h",
    "site_dark_time": "h",
    "all_dark_time": "h",
    "critical_service_time": "h",
    "table3_time": "h",
    "served_share": "1",
    "served_share_total": "1",
    "served_share_table3": "1",
    "served_share_weighted": "1",
    "service_continuity": "1",
    "ev_utilisation": "1",
    "ev_energy_taken": "kWh",
    "handovers_per_user": "1",
    "mode_switches_per_site": "1",
    "v2g_cost": "currency",
    "uncoverable_users": "1",
    "uncoverable_demand_share": "1",
    "survival_censored": "1",
    "user_sinr": "dB",
    "user_rate": "Mbit/s",
    "mode": "1",
    "band_active": "1",
    "band_traffic": "Mbit/s",
    "link_active": "1",
    "site_power": "kW",
    "battery_power": "kW",
    "ev_power": "kW",
    "battery_energy": "kWh",
    "battery_energy_end": "kWh",
    "ev_energy": "kWh",
    "ev_energy_end": "kWh",
    "user_site": "1",
    "served_mbps": "Mbit/s",
    "v2g_price": "currency/kWh",
    "decide_time": "s",
}


def test_every_variable_is_covered_here_and_carries_its_documented_unit():
    """The variables outage_metrics writes are exactly those tested in this file, each with the unit of docs/simulation.md.

    A new metric makes this fail until it has a hand-worked test here.
    """
    ds = outage_metrics(main_case()[1])
    assert set(ds.data_vars) == set(UNITS)
    for name, unit in UNITS.items():
        assert ds[name].attrs["units"] == unit, name


# ---------------------------------------------------------------------------------------------
# a real run, recomputed from its raw arrays


def _first_dark_h(mode: np.ndarray, site: int, step_h: float) -> float:
    for k in range(mode.shape[0]):
        if mode[k, site] == DARK:
            return k * step_h
    return math.nan


@pytest.mark.parametrize(
    "area, strategy",
    [
        ("1200", "static"),  # the small cluster's own area: handovers, mode switches, EVs, some sites dark
        ("2000", "independent"),  # users beyond every site's reach; every site dark but one
    ],
)
def test_a_real_run_agrees_with_metrics_recomputed_from_its_raw_arrays(area, strategy):
    """The 7-site scenario, 2 h on 30 % batteries: every scalar metric recomputed with plain loops from the record and inputs."""
    overrides = ("controller.max_duration_h=2", "battery.soc_initial=0.3", f"traffic.area_side_m={area}")
    scenario = load_scenario(SMALL, overrides).scenario
    inputs = build_inputs(scenario, trial=0)
    world = World(inputs)
    # the stand-in world of the hand tests offers nothing the real one lacks
    stand_in = hand_world()
    for name in vars(stand_in):
        assert hasattr(world, name), name
    for name in vars(stand_in.evs):
        assert hasattr(world.evs, name), name
    record = simulate(world, Static(scenario.run.static_rule) if strategy == "static" else Independent())
    ds = outage_metrics(record)

    step_h = float(inputs.time_step_s) / 3600.0
    n_steps, n_site = record.mode.shape
    n_user = inputs.sizes["user"]
    assert n_steps == round(2.0 / step_h)

    # darkness and survival
    dark_h = [_first_dark_h(record.mode, i, step_h) for i in range(n_site)]
    np.testing.assert_allclose(ds.site_dark_time.values, dark_h, atol=1e-9)
    lit = [t for t in dark_h if not math.isnan(t)]
    assert lit, "the run should see a site go dark"
    assert float(ds.survival_time) == pytest.approx(min(lit), abs=1e-9)
    all_dark = next((k * step_h for k in range(n_steps) if (record.mode[k] == DARK).all()), math.nan)
    assert float(ds.all_dark_time) == pytest.approx(all_dark, abs=1e-9, nan_ok=True)

    # shares against the inputs' demand per class
    demand = inputs.demand_mbps.values
    user_class = inputs.user_class.values
    n_class = inputs.sizes["class"]
    reference = [sum(demand[u] for u in range(n_user) if user_class[u] == c) for c in range(n_class)]
    users = [sum(1 for u in range(n_user) if user_class[u] == c) for c in range(n_class)]
    weight = [float(inputs.class_weight.values[c]) * users[c] for c in range(n_class)]
    weighted = []
    critical_h = math.nan
    for k in range(n_steps):
        shares = [min(record.served_class[k, c] / reference[c], 1.0) if users[c] else math.nan for c in range(n_class)]
        weighted.append(sum(weight[c] * shares[c] for c in range(n_class) if users[c]) / sum(weight))
        for c in range(n_class):
            if users[c] and bool(inputs.class_critical.values[c]) and shares[c] < float(inputs.class_qos_target.values[c]) - 1e-9:
                critical_h = k * step_h if math.isnan(critical_h) else critical_h
        np.testing.assert_allclose(ds.served_share.isel(time=k).values, shares, atol=1e-9)
    np.testing.assert_allclose(ds.served_share_weighted.values, weighted, atol=1e-9)
    assert float(ds.service_continuity) == pytest.approx(sum(weighted) / n_steps, abs=1e-9)
    assert float(ds.critical_service_time) == pytest.approx(critical_h, abs=1e-9, nan_ok=True)
    k3 = min(round(2.5 / step_h), n_steps - 1)  # a 2 h run: its last step
    assert k3 == n_steps - 1
    np.testing.assert_allclose(ds.served_share_table3.values, ds.served_share.isel(time=k3).values, atol=0)

    # EVs: energy lost by the EV batteries over the run / what parked EVs could give
    ev_kwh = record.ev_energy  # (step + 1, ev) kWh at the start of each step, then the end
    cap = inputs.ev_capacity_kwh.values
    soc0 = inputs.ev_soc_initial.values
    soc_min = np.broadcast_to(inputs.ev_soc_min.values, soc0.shape)  # the driver's reserve SOC (one value or per EV)
    arrival, departure = inputs.ev_arrival_s.values, inputs.ev_departure_s.values
    step_s = float(inputs.time_step_s)
    offered = 0.0
    for e in range(inputs.sizes["ev"]):
        above = max(soc0[e] - soc_min[e], 0.0) * cap[e]
        parked_steps = sum(1 for k in range(n_steps) if arrival[e] <= k * step_s and departure[e] >= (k + 1) * step_s)
        offered += min(above, float(inputs.ev_max_power_kw) * parked_steps * step_h)
    taken = float((ev_kwh[0] - ev_kwh[-1]).sum())
    assert float(ds.ev_energy_taken) == pytest.approx(taken, abs=1e-6)
    assert float(ds.ev_utilisation) == pytest.approx(taken / offered, abs=1e-9)
    cost = sum(record.price[k, i] * record.ev_power[k, i] * step_h for k in range(n_steps) for i in range(n_site))
    assert float(ds.v2g_cost) == pytest.approx(cost, rel=1e-9)
    assert taken > 0 and cost > 0

    # handovers and mode switches, with plain loops
    handovers = 0
    for u in range(n_user):
        last = None
        for k in range(n_steps):
            s = int(record.user_site[k, u])
            if s >= 0:
                handovers += last is not None and s != last
                last = s
    assert float(ds.handovers_per_user) == pytest.approx(handovers / n_user, abs=1e-12)
    switches = sum(
        1
        for i in range(n_site)
        for k in range(1, n_steps)
        if record.mode[k, i] != record.mode[k - 1, i] and DARK not in (record.mode[k, i], record.mode[k - 1, i])
    )
    assert float(ds.mode_switches_per_site) == pytest.approx(switches / n_site, abs=1e-12)

    if strategy == "independent":
        # at step 0 every site is normal with every carrier on and each user on its best server:
        # exactly the uncoverable users get nothing
        unserved = [u for u in range(n_user) if record.user_site[0, u] < 0]
        assert unserved, "the wide area should leave users beyond every site"
        assert int(ds.uncoverable_users) == len(unserved)
        assert float(ds.uncoverable_demand_share) == pytest.approx(sum(demand[u] for u in unserved) / demand.sum(), abs=1e-12)
    else:
        assert handovers > 0 and switches > 0
        assert int(ds.uncoverable_users) == 0 and float(ds.uncoverable_demand_share) == 0.0
