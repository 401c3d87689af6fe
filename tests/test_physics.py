"""The physics layer against numbers worked out by hand on a two-site, two-band cluster.

Each expected value below is computed in the comment beside it, so a slip in
a formula (a dropped standby or deep-sleep term, an inverted efficiency, the
wrong reserve) changes a number that is written out here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from msrc_model.physics import (
    ASSISTED,
    DARK,
    HELPING,
    MODE_NAMES,
    MODES,
    NORMAL,
    SLEEP,
    BatteryLimits,
    EVLimits,
    ev_bus_limits_kw,
    awake,
    battery_initial_kwh,
    ev_arrival_kwh,
    band_power_coefficients,
    band_traffic_mbps,
    battery_floor_kwh,
    ev_reserve_kwh,
    home_site,
    needs_helper,
    pair_mode_coverage,
    peak_supply_kw,
    reference_site_power_kw,
    remaining_time_h,
    site_power_kw,
    v2g_price_per_kwh,
)


@pytest.fixture
def cluster() -> xr.Dataset:
    """Two sites, two bands, three users, three EVs: every number the physics reads."""
    band = {"band": ["low", "high"]}
    return xr.Dataset(
        {
            "sectors_per_site": 3.0,
            "uplink_ratio": 0.5,
            "power_static_kw": ("band", [0.1, 0.2]),
            "power_tx_power_kw_per_w": ("band", [0.01, 0.02]),
            "tx_power_w": ("band", [10.0, 20.0]),
            "power_feeder_loss_kw_per_db": ("band", [0.001, 0.002]),
            "feeder_loss_db": ("band", [2.0, 3.0]),
            "power_dl_utilisation_kw": ("band", [0.05, 0.1]),
            "power_ul_utilisation_kw": ("band", [0.02, 0.04]),
            "power_dl_traffic_kw_per_mbps": ("band", [0.001, 0.002]),
            "power_ul_traffic_kw_per_mbps": ("band", [0.0004, 0.0008]),
            "capacity_mbps": ("band", [100.0, 300.0]),
            "power_standby_kw": ("band", [0.05, 0.07]),
            "power_deep_sleep_kw": 0.03,
            "power_scale": 2.0,
            "battery_capacity_kwh": ("site", [10.0, 20.0]),
            "battery_soc_initial": ("site", [0.8, 0.8]),
            "battery_soc_min": 0.2,
            "battery_soc_max": 0.9,
            "battery_charge_efficiency": 0.95,
            "battery_max_charge_kw": 2.0,
            "battery_discharge_efficiency": 0.9,
            "battery_max_discharge_kw": 3.0,
            "ev_site": ("ev", [0, 0, 1]),
            "ev_capacity_kwh": ("ev", [50.0, 50.0, 40.0]),
            "ev_soc_initial": ("ev", [0.5, 0.1, 0.6]),
            "ev_soc_min": 0.2,
            "ev_efficiency": 0.8,
            "ev_max_power_kw": 7.0,
            "ev_v2x_limit_kw": 5.0,
            "price_base_per_kwh": 0.2,
            "price_urgency_alpha": 2.0,
            "price_urgency_tau_h": 1.0,
            "demand_mbps": ("user", [40.0, 20.0, 5.0]),
            "pair_user": ("pair", [0, 0, 1, 2]),
            "pair_site": ("pair", [1, 0, 1, 0]),
            "pair_rank": ("pair", [1, 0, 0, 1]),
            "pair_in_normal_radius": ("pair", [False, True, True, False]),
            "pair_in_assisted_radius": ("pair", [False, True, False, False]),
        },
        coords={**band, "site": ["A", "B"], "user": [0, 1, 2], "ev": [0, 1, 2], "pair": [0, 1, 2, 3]},
    )


def test_mode_codes_are_the_paper_modes_then_dark():
    assert MODES == ("normal", "helping", "assisted", "sleep")
    assert [NORMAL, HELPING, ASSISTED, SLEEP, DARK] == [0, 1, 2, 3, 4]
    assert MODE_NAMES[DARK] == "dark"
    modes = np.array([NORMAL, HELPING, ASSISTED, SLEEP, DARK])
    assert awake(modes).tolist() == [True, True, True, False, False]
    assert needs_helper(modes).tolist() == [False, False, True, True, False]


def test_band_power_coefficients_by_hand(cluster):
    active, utilisation, traffic = band_power_coefficients(cluster)
    # active: 3 (0.1 + 0.01 x 10 + 0.001 x 2) = 0.606; 3 (0.2 + 0.02 x 20 + 0.002 x 3) = 1.818
    np.testing.assert_allclose(active, [0.606, 1.818])
    # utilisation: 3 (0.05 + 0.5 x 0.02) = 0.18; 3 (0.1 + 0.5 x 0.04) = 0.36
    np.testing.assert_allclose(utilisation, [0.18, 0.36])
    # traffic: 0.001 + 0.5 x 0.0004 = 0.0012; 0.002 + 0.5 x 0.0008 = 0.0024
    np.testing.assert_allclose(traffic, [0.0012, 0.0024])
    assert active.attrs["units"] == "kW" and traffic.attrs["units"] == "kW/(Mbit/s)"


def test_site_power_counts_standby_sleep_and_dark(cluster):
    band_on = np.array([[True, False], [True, True]])
    traffic = np.array([[50.0, 0.0], [0.0, 0.0]])
    no = np.array([False, False])
    power = site_power_kw(cluster, band_on, traffic, asleep=no, dark=no)
    # site A: low band on at half load + the high band on standby: 2 (0.606 + 0.18 x 0.5 + 0.0012 x 50 + 0.07) = 1.652
    # site B: both bands on, idle: 2 (0.606 + 1.818) = 4.848
    np.testing.assert_allclose(power, [1.652, 4.848])
    # deep sleep draws P_sleep only, scaled: 2 x 0.03; a dark site draws nothing
    asleep = site_power_kw(cluster, band_on, traffic, asleep=np.array([True, False]), dark=np.array([False, True]))
    np.testing.assert_allclose(asleep, [0.06, 0.0])


def test_utilisation_saturates_at_one_but_traffic_power_does_not(cluster):
    band_on = np.array([[True, False], [False, False]])
    traffic = np.array([[150.0, 0.0], [0.0, 0.0]])
    no = np.array([False, False])
    power = site_power_kw(cluster, band_on, traffic, asleep=no, dark=no)
    # 2 (0.606 + 0.18 x 1 + 0.0012 x 150 + 0.07) = 2.072; site B awake with every band off: standby 2 (0.05 + 0.07)
    np.testing.assert_allclose(power, [2.072, 0.24])


def test_traffic_splits_over_active_carriers_by_capacity():
    split = band_traffic_mbps(np.array([40.0, 40.0, 40.0]), np.array([[True, True], [False, True], [False, False]]), np.array([100.0, 300.0]))
    np.testing.assert_allclose(split, [[10.0, 30.0], [0.0, 40.0], [0.0, 0.0]])


def test_home_site_and_coverage_per_mode(cluster):
    # user 0: site A at rank 0 (pair 1); user 1: site B only; user 2: site A at rank 1, still its strongest feasible
    assert home_site(cluster).tolist() == [0, 1, 0]
    coverage = pair_mode_coverage(cluster)
    assert coverage.shape == (4, len(MODE_NAMES))
    # normal mode: the SINR decides, the nominal radius excludes no candidate pair
    assert coverage[:, NORMAL].all()
    assert coverage[:, HELPING].all()
    assert coverage[:, ASSISTED].tolist() == [False, True, False, False]
    assert not coverage[:, SLEEP].any() and not coverage[:, DARK].any()
    empty = cluster.isel(pair=[])
    assert home_site(empty).tolist() == [-1, -1, -1]


def test_reference_site_power_serves_home_users_with_every_band(cluster):
    power = reference_site_power_kw(cluster)
    # site A serves users 0 and 2 (45 Mbit/s): 11.25 on low, 33.75 on high
    #   2 (0.606 + 0.18 x 0.1125 + 0.0012 x 11.25 + 1.818 + 0.36 x 0.1125 + 0.0024 x 33.75) = 2 x 2.57925 = 5.1585
    # site B serves user 1 (20 Mbit/s): 5 on low, 15 on high
    #   2 (0.606 + 0.18 x 0.05 + 0.0012 x 5 + 1.818 + 0.36 x 0.05 + 0.0024 x 15) = 4.986
    np.testing.assert_allclose(power, [5.1585, 4.986])
    assert power.attrs["units"] == "kW"


def test_battery_limits_by_hand(cluster):
    np.testing.assert_allclose(battery_floor_kwh(cluster), [2.0, 4.0])  # 0.2 x 10, 0.2 x 20
    battery = BatteryLimits.from_data(cluster)
    np.testing.assert_allclose(battery.initial_kwh, [8.0, 16.0])
    energy = np.array([8.0, 5.0])
    np.testing.assert_allclose(battery.usable_kwh(energy), [5.4, 0.9])  # (8 - 2) 0.9, (5 - 4) 0.9
    np.testing.assert_allclose(battery.usable_kwh(np.array([1.0, 4.0])), [0.0, 0.0])  # never below the floor
    np.testing.assert_allclose(battery.available_kw(energy, 0.5), [3.0, 1.8])  # min(3, 10.8), min(3, 1.8)
    # giving 3 kW and 1.8 kW at the bus for half an hour costs 1.5 / 0.9 and 0.9 / 0.9 kWh
    np.testing.assert_allclose(battery.energy_after(energy, np.array([3.0, 1.8]), 0.5), [8.0 - 1.5 / 0.9, 4.0])


def test_battery_recharge_by_hand(cluster):
    battery = BatteryLimits.from_data(cluster)
    np.testing.assert_allclose(battery.ceiling_kwh, [9.0, 18.0])  # 0.9 x 10, 0.9 x 20
    # room below SOC_max over half an hour: 1 kWh / (0.95 x 0.5) = 2.105 -> P_ch^max 2 kW; 0.5 / 0.475 = 1.0526
    np.testing.assert_allclose(battery.charge_room_kw(np.array([8.0, 17.5]), 0.5), [2.0, 0.5 / 0.475])
    np.testing.assert_allclose(battery.charge_room_kw(np.array([9.0, 19.0]), 0.5), [0.0, 0.0])  # full, or above
    # taking 2 kW for half an hour stores 2 x 0.5 x 0.95; giving 1.8 kW costs 0.9 / 0.9
    np.testing.assert_allclose(battery.energy_after(np.array([8.0, 5.0]), np.array([-2.0, 1.8]), 0.5), [8.95, 4.0])


def test_initial_energies(cluster):
    np.testing.assert_allclose(battery_initial_kwh(cluster), [8.0, 16.0])  # 0.8 x 10, 0.8 x 20
    np.testing.assert_allclose(ev_arrival_kwh(cluster), [25.0, 5.0, 24.0])  # 0.5 x 50, 0.1 x 50, 0.6 x 40


def test_ev_reserve_is_the_lower_of_the_drivers_and_the_arrival_energy(cluster):
    # 0.2 x 50; arrived at 0.1 < 0.2: 0.1 x 50; 0.2 x 40
    np.testing.assert_allclose(ev_reserve_kwh(cluster), [10.0, 5.0, 8.0])


def test_ev_limits_by_hand(cluster):
    evs = EVLimits.from_data(cluster)
    energy = np.array([25.0, 5.0, 20.0])
    np.testing.assert_allclose(evs.usable_kwh(energy), [12.0, 0.0, 9.6])  # (25 - 10) 0.8, 0, (20 - 8) 0.8
    per_ev, per_site = evs.available_kw(energy, np.array([True, True, False]), step_h=1.0)
    # 7 kW at the EV battery is 7 x 0.8 = 5.6 kW at the bus; EV 1 has nothing; EV 2 is not parked
    np.testing.assert_allclose(per_ev, [5.6, 0.0, 0.0])
    assert ev_bus_limits_kw(7.0, 0.8) == pytest.approx((5.6, 8.75))  # charging: 8.75 kW at the bus stores 7 kW
    np.testing.assert_allclose(per_site, [5.0, 0.0])  # the V2X limit of 5 kW per site
    per_ev, _ = evs.available_kw(energy, np.array([True, True, True]), step_h=4.0)
    np.testing.assert_allclose(per_ev, [3.0, 0.0, 2.4])  # 12 kWh over 4 h, 9.6 kWh over 4 h
    np.testing.assert_allclose(evs.energy_drawn_kwh(np.array([5.0]), 1.0), [6.25])  # 5 kWh at the bus costs 5 / 0.8


def test_v2g_price_and_remaining_time(cluster):
    assert remaining_time_h(6.0, 2.0) == pytest.approx(3.0)
    assert remaining_time_h(6.0, 0.0) == pytest.approx(6000.0)  # the load is taken as at least 1 W
    np.testing.assert_allclose(v2g_price_per_kwh(cluster, np.array([0.0, 1.0])), [0.6, 0.2 * (1.0 + 2.0 * math.exp(-1.0))])
    assert v2g_price_per_kwh(cluster, 100.0) == pytest.approx(0.2)  # a long way from empty: the base price


def test_peak_supply(cluster):
    assert peak_supply_kw(cluster) == pytest.approx(16.0)  # (3 + 5) x 2 sites
