"""The service physics (Eqs. 7-9): SINR with interference, Shannon rates, the band scheduler.

The first tests work numbers out by hand. The property tests run the
simulator on random small realisations and check every step's service
against a reference SINR written here with plain loops, independent of the
vectorised code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, HELPING, NORMAL, SLEEP, RadioChannel, schedule_rates, transmitting_carriers
from msrc_model.simulation.controller import MSRCController
from msrc_model.simulation.simulator import World, simulate
from msrc_model.simulation.strategies import Independent, Static

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"


def hand_channel() -> RadioChannel:
    """3 sites, 2 users, 2 bands (10 and 20 MHz); powers in units of the noise (noise = 1 mW on both bands)."""
    # user 0: site 0 strongest; user 1: site 1 strongest
    ranked_site = np.array([[0, 1, 2], [1, 0, 2]])
    rx = np.array(
        [
            [[100.0, 60.0], [10.0, 20.0], [9.0, 4.0]],  # user 0 from sites 0, 1, 2 on bands 0, 1
            [[30.0, 15.0], [5.0, 5.0], [1.0, 1.0]],  # user 1 from sites 1, 0, 2
        ]
    )
    return RadioChannel(
        ranked_site=ranked_site,
        ranked_rx_mw=rx,
        residual_mw=np.zeros((2, 2)),
        noise_mw=np.array([1.0, 1.0]),
        bandwidth_mhz=np.array([10.0, 20.0]),
        capacity_mbps=np.array([50.0, 100.0]),
        sinr_min_db=-6.0,
        n_site=3,
    )


def test_sinr_counts_every_transmitting_site_and_not_a_sleeping_one():
    channel = hand_channel()
    every = np.ones((3, 2), dtype=bool)
    sinr = channel.sinr_db(np.array([0, 1]), np.array([0, 1]), every)
    # user 0 on site 0: band 0 100 / (1 + 10 + 9) = 5, band 1 60 / (1 + 20 + 4) = 2.4
    # user 1 on site 1: band 0 30 / (1 + 5 + 1) = 30/7, band 1 15 / (1 + 5 + 1) = 15/7
    np.testing.assert_allclose(sinr, 10 * np.log10([[5.0, 2.4], [30 / 7, 15 / 7]]), rtol=1e-12)

    # site 2 asleep: it no longer interferes
    asleep = transmitting_carriers(np.array([NORMAL, NORMAL, SLEEP]), every)
    sinr = channel.sinr_db(np.array([0, 1]), np.array([0, 1]), asleep)
    np.testing.assert_allclose(sinr, 10 * np.log10([[100 / 11, 60 / 21], [30 / 6, 15 / 6]]), rtol=1e-12)

    # site 1 switches band 1 off: user 0's band 1 loses that interferer; user 1 still hears site 0 there
    band_off = every.copy()
    band_off[1, 1] = False
    sinr = channel.sinr_db(np.array([0, 1]), np.array([0, 1]), band_off)
    assert sinr[0, 1] == pytest.approx(10 * math.log10(60 / 5), rel=1e-12)
    assert sinr[1, 1] == pytest.approx(10 * math.log10(15 / 7), rel=1e-12)

    # the same with site 2 named silent for the row: as if it slept
    sinr = channel.sinr_db(np.array([0, 1]), np.array([0, 1]), every, silent=np.array([2, 2]))
    np.testing.assert_allclose(sinr, 10 * np.log10([[100 / 11, 60 / 21], [30 / 6, 15 / 6]]), rtol=1e-12)

    # user 0 served by site 1 (a helper): site 0 now interferes at 100 on band 0
    sinr = channel.sinr_db(np.array([0]), np.array([1]), every)
    assert sinr[0, 0] == pytest.approx(10 * math.log10(10 / (1 + 100 + 9)), rel=1e-12)
    assert channel.spectral_efficiency(sinr)[0, 0] == 0.0  # -10.4 dB is below Gamma_min = -6 dB


def test_shannon_rate_and_the_scheduler_by_hand():
    """Two users on site 0, band budgets binding; priority class first, then proportional to demand."""
    efficiency = np.array([[math.log2(1 + 5.0), math.log2(1 + 2.4)], [math.log2(1 + 3.0), 0.0]])  # user 1 cannot use band 1
    assert efficiency[0, 0] == pytest.approx(2.584962500721156)
    bandwidth = np.array([10.0, 20.0])
    capacity = np.array([[50.0, 100.0], [0.0, 0.0], [0.0, 0.0]])
    # user 1 is the priority class (class 0) and asks 10 Mbit/s; user 0 (class 1) asks 100
    rate, share = schedule_rates(
        np.array([0, 0]), efficiency, bandwidth, capacity, np.array([100.0, 10.0]), np.array([1, 0]), np.array([0, 1])
    )
    # bands are filled largest capacity first: user 1 cannot use band 1, so it takes 10 / (10 log2 4) = 0.5 of band 0
    assert rate[1, 0] == pytest.approx(10.0) and rate[1, 1] == 0.0
    assert share[1, 0] == pytest.approx(0.5)
    # user 0 then gets all of band 1: 20 x log2(3.4) = 35.31 Mbit/s, and the other half of band 0: 0.5 x 10 x log2 6
    assert rate[0, 1] == pytest.approx(20 * math.log2(3.4))
    assert rate[0, 0] == pytest.approx(0.5 * 10 * math.log2(6.0))
    np.testing.assert_allclose(share.sum(axis=0), [1.0, 1.0])

    # a capacity of 20 Mbit/s on band 1 binds before its share budget
    capped = capacity.copy()
    capped[0, 1] = 20.0
    rate, share = schedule_rates(
        np.array([0, 0]), efficiency, bandwidth, capped, np.array([100.0, 10.0]), np.array([1, 0]), np.array([0, 1])
    )
    assert rate[0, 1] == pytest.approx(20.0) and share[0, 1] == pytest.approx(20.0 / (20 * math.log2(3.4)))

    # two users of one class, demands 30 and 10, both only on band 0 (10 MHz x 2 bit/s/Hz = 20 Mbit/s for a whole band):
    # together they need 2 bands' worth; each gets the same fraction, 1/2, of its demand
    rate, share = schedule_rates(
        np.array([0, 0]), np.array([[2.0, 0.0], [2.0, 0.0]]), bandwidth, capacity, np.array([30.0, 10.0]), np.array([0, 0]), np.array([0])
    )
    np.testing.assert_allclose(rate[:, 0], [15.0, 5.0])

    # shares a strategy gives are honoured, then the rest is filled: user 0 asked 0.25 of band 0
    rate, share = schedule_rates(
        np.array([0, 0]), np.array([[2.0, 0.0], [2.0, 0.0]]), bandwidth, capacity, np.array([30.0, 10.0]), np.array([0, 0]), np.array([0]),
        initial_share=np.array([[0.25, 0.0], [0.0, 0.0]]),
    )
    # user 0: 5 Mbit/s from its share, then 0.75 of the band (15 Mbit/s) is split 25 : 10 over what they still lack
    np.testing.assert_allclose(rate[:, 0], [5.0 + 15.0 * 25 / 35, 15.0 * 10 / 35])


def test_users_below_gamma_min_on_every_band_get_nothing_and_helping_pays_lambda():
    efficiency = np.array([[0.0, 0.0], [1.0, 1.0]])
    capacity = np.array([[50.0, 100.0]]) * (1 - 0.05)  # a helping site
    rate, _ = schedule_rates(np.array([0, 0]), efficiency, np.array([10.0, 20.0]), capacity, np.array([5.0, 1000.0]), np.array([0, 0]), np.array([0]))
    assert rate[0].sum() == 0.0
    assert rate[1, 0] == pytest.approx(10.0) and rate[1, 1] == pytest.approx(20.0)  # Shannon-bound, below 47.5 / 95


# ----------------------------------------------------------------------- property tests on the simulator


def reference_sinr_db(inputs, user: int, site: int, transmitting: np.ndarray) -> np.ndarray:
    """Eq. 7 for one user and site, with plain loops over the ranked sites (the reference for the vectorised code)."""
    ranked = inputs.ranked_site.values[user]
    rx = 10 ** (inputs.ranked_rx_dbm.values[user].astype(float) / 10)
    noise = 10 ** (inputs.noise_dbm.values / 10)
    residual = 10 ** (inputs.residual_interference_dbm.values[user].astype(float) / 10)
    out = np.empty(inputs.sizes["band"])
    for b in range(inputs.sizes["band"]):
        signal, interference = 0.0, residual[b]
        for r, j in enumerate(ranked):
            if j == site:
                signal = rx[r, b]
            elif transmitting[j, b]:
                interference += rx[r, b]
        out[b] = 10 * math.log10(signal / (noise[b] + interference)) if signal > 0 else -math.inf
    return out


class CheckedWorld(World):
    """A World that checks every service it computes against the rules of Eqs. 6-9."""

    def serve(self, mode, band_on, user_site, band_share=None):
        service = super().serve(mode, band_on, user_site, band_share)
        if service is getattr(self, "_checked", None):
            return service  # the same decision as the step before: checked then
        self._checked = service
        self.checked_services = getattr(self, "checked_services", 0) + 1
        mode = np.asarray(mode)
        rate = service.band_rate_mbps
        assert (rate >= 0).all() and (service.band_share >= -1e-12).all()
        # never above demand
        assert (rate.sum(axis=1) <= self.demand * (1 + 1e-9) + 1e-12).all()
        served = np.flatnonzero(rate.sum(axis=1) > 0)
        tx = service.band_on
        gamma_min = float(self.inputs.sinr_min_db)
        for u in served[:: max(len(served) // 40, 1)]:  # a sample of users, by the loop reference
            site = service.site[u]
            assert site >= 0 and mode[site] in (NORMAL, HELPING, ASSISTED)
            sinr = reference_sinr_db(self.inputs, u, site, tx)
            np.testing.assert_allclose(service.band_sinr_db[u], sinr, rtol=1e-9, atol=1e-9)
            on = rate[u] > 0
            # no band below Gamma_min, none switched off, never above share x Shannon rate
            assert (sinr[on] >= gamma_min - 1e-12).all() and tx[site, on].all()
            shannon = service.band_share[u] * self.bandwidth * np.log2(1 + 10 ** (sinr / 10))
            assert (rate[u] <= shannon * (1 + 1e-9) + 1e-12).all()
        # Eq. 8 budget and Eq. 9 capacity per site and band
        site = np.maximum(service.site, 0)
        for s in np.unique(site[served]):
            mine = served[site[served] == s]
            assert (service.band_share[mine].sum(axis=0) <= 1 + 1e-9).all()
            cap = self.capacity * tx[s] * (1 - self.helping_overhead if mode[s] == HELPING else 1.0)
            assert (rate[mine].sum(axis=0) <= cap * (1 + 1e-9) + 1e-9).all()
        return service


def energy_is_conserved(world: World, record) -> None:
    step_h = world.step_h
    np.testing.assert_allclose(record.site_power, record.battery_power + record.ev_power, atol=1e-9)
    bp = record.battery_power
    lost = np.where(bp >= 0, bp / world.battery.discharge_efficiency, bp * world.battery.charge_efficiency) * step_h
    np.testing.assert_allclose(record.battery_energy[:-1] - record.battery_energy[1:], lost, atol=1e-9)
    drawn = record.ev_power * step_h / world.evs.efficiency
    per_site = np.stack([np.bincount(world.evs.site, weights=row, minlength=world.n_site) for row in record.ev_drawn_kwh])
    np.testing.assert_allclose(per_site, drawn, atol=1e-9)
    np.testing.assert_allclose(record.ev_energy[:-1] - record.ev_energy[1:], record.ev_drawn_kwh, atol=1e-9)


def tiny(load: str, users: int, minutes: int):
    overrides = (f"traffic.users={users}", f"controller.max_duration_h={minutes / 60}", "battery.soc_initial=0.3")
    return load_scenario(SMALL, overrides, variant=load).scenario


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(trial=st.integers(0, 10_000), load=st.sampled_from(["light", "medium", "heavy"]), users=st.integers(20, 150))
def test_baselines_serve_within_physics_and_conserve_energy(trial, load, users):
    scenario = tiny(load, users, 45)
    world = CheckedWorld(build_inputs(scenario, trial=trial))
    for strategy in (Independent(), Static(), Static("busiest-third")):
        record = simulate(world, strategy)
        energy_is_conserved(world, record)


@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(trial=st.integers(0, 10_000), load=st.sampled_from(["medium", "heavy"]))
def test_msrc_serves_within_physics_and_conserves_energy(trial, load):
    scenario = tiny(load, 60, 20)
    world = CheckedWorld(build_inputs(scenario, trial=trial))
    record = simulate(world, MSRCController(scenario))
    energy_is_conserved(world, record)
    assert record.user_rate_mbps.max() > 0


def test_every_share_is_against_all_users_and_uncoverable_users_are_counted():
    scenario = load_scenario(SMALL, ("traffic.area_side_m=5000", "controller.max_duration_h=0.25")).scenario
    inputs = build_inputs(scenario)
    world = World(inputs)
    np.testing.assert_allclose(world.reference_demand.sum(), inputs.demand_mbps.values.sum())
    assert world.uncoverable.sum() > 10  # users far outside the cluster
    record = simulate(world, Independent())
    assert (record.user_rate_mbps[:, world.uncoverable] == 0).all()
    # the best server clears Gamma_min and is a site the user has a candidate pair with
    best = world.best_server[~world.uncoverable]
    assert (world.pair_of[np.flatnonzero(~world.uncoverable), best] >= 0).all()
    assert (world.best_sinr_db[~world.uncoverable] >= float(inputs.sinr_min_db)).all()
