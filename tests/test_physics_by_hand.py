"""The physics functions called directly on small hand-made arrays, every expected value worked out by hand.

The power numbers are those of ``data/power_model.csv`` and ``data/bands.csv``
(three sectors, uplink ratio 0.1, 46 dBm per LTE carrier, 53 dBm on N3700,
3 dB feeder loss), scaled by a power scale of 1.25 so that a forgotten scale
shows. The storage, price and coverage numbers are chosen so that no two
formulas give the same result by accident (no efficiency, step or time
constant is 1).
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
    NORMAL,
    SLEEP,
    BatteryLimits,
    EVLimits,
    SitePowerModel,
    awake,
    band_power_coefficients,
    band_traffic_mbps,
    battery_floor_kwh,
    battery_initial_kwh,
    ev_arrival_kwh,
    ev_bus_limits_kw,
    ev_reserve_kwh,
    home_site,
    needs_helper,
    pair_mode_coverage,
    peak_supply_kw,
    reference_site_power_kw,
    remaining_time_h,
    site_power_ceiling_kw,
    site_power_kw,
    usable_energy_kwh,
    v2g_price_per_kwh,
)

# --- Eq. 2 by hand from data/power_model.csv and data/bands.csv; bands L800, L1800, L2600, N3700
TX_LTE_W = 10 ** (46 / 10) / 1000  # 46 dBm = 39.81 W
TX_NR_W = 10 ** (53 / 10) / 1000  # 53 dBm = 199.53 W
SCALE = 1.25
# an active carrier over 3 sectors: 3 (static + tx_power_kw_per_w P_TX + feeder_loss_kw_per_db 3 dB)
ACTIVE_LTE_KW = 3 * (0.18 + 0.002 * TX_LTE_W + 0.001 * 3)  # 0.78786 kW
ACTIVE_NR_KW = 3 * (0.20 + 0.001 * TX_NR_W + 0.001 * 3)  # 1.20758 kW
ACTIVE_KW = (ACTIVE_LTE_KW, ACTIVE_LTE_KW, ACTIVE_LTE_KW, ACTIVE_NR_KW)
# per unit RB utilisation: 3 (dl + 0.1 ul)
UTILISATION_KW = (3 * (0.12 + 0.1 * 0.01),) * 3 + (3 * (0.50 + 0.1 * 0.02),)  # 0.363, 0.363, 0.363, 1.506
# per Mbit/s: dl + 0.1 ul
TRAFFIC_KW = (0.0014 + 0.00005, 0.0007 + 0.00005, 0.00058 + 0.00005, 0.0006 + 0.00005)  # 0.00145, 0.00075, 0.00063, 0.00065
CAPACITY_MBPS = (50.0, 100.0, 120.0, 500.0)
STANDBY_KW = (0.15, 0.15, 0.15, 0.30)
DEEP_SLEEP_KW = 0.1


@pytest.fixture
def world() -> xr.Dataset:
    """Three sites (the third with no home user and no EV), the four bands of the data files, four users, three EVs."""
    band = ["L800", "L1800", "L2600", "N3700"]
    return xr.Dataset(
        {
            "sectors_per_site": 3,
            "uplink_ratio": 0.1,
            "power_static_kw": ("band", [0.18, 0.18, 0.18, 0.20]),
            "power_dl_utilisation_kw": ("band", [0.12, 0.12, 0.12, 0.50]),
            "power_ul_utilisation_kw": ("band", [0.01, 0.01, 0.01, 0.02]),
            "power_dl_traffic_kw_per_mbps": ("band", [0.0014, 0.0007, 0.00058, 0.0006]),
            "power_ul_traffic_kw_per_mbps": ("band", [0.0005] * 4),
            "power_tx_power_kw_per_w": ("band", [0.002, 0.002, 0.002, 0.001]),
            "power_feeder_loss_kw_per_db": ("band", [0.001] * 4),
            "tx_power_w": ("band", [TX_LTE_W, TX_LTE_W, TX_LTE_W, TX_NR_W]),
            "feeder_loss_db": ("band", [3.0] * 4),
            "capacity_mbps": ("band", np.array([50, 100, 120, 500])),  # integers, as a table may give them
            "power_standby_kw": ("band", np.array(STANDBY_KW)),
            "power_deep_sleep_kw": DEEP_SLEEP_KW,
            "power_scale": SCALE,
            # storage
            "battery_capacity_kwh": ("site", [10.0, 20.0, 40.0]),
            "battery_soc_initial": ("site", [0.5, 0.75, 0.9]),
            "battery_soc_min": 0.2,
            "battery_soc_max": 0.8,
            "battery_discharge_efficiency": 0.9,
            "battery_charge_efficiency": 0.8,
            "battery_max_discharge_kw": 4.0,
            "battery_max_charge_kw": 2.5,
            "ev_site": ("ev", np.array([0, 0, 1])),
            "ev_capacity_kwh": ("ev", [50.0, 40.0, 60.0]),
            "ev_soc_initial": ("ev", [0.6, 0.1, 0.5]),
            "ev_soc_min": 0.3,
            "ev_efficiency": 0.75,
            "ev_max_power_kw": 8.0,
            "ev_v2x_limit_kw": 10.0,
            # Eq. 16
            "price_base_per_kwh": 0.3,
            "price_urgency_alpha": 1.5,
            "price_urgency_tau_h": 2.0,
            # users and candidate pairs, listed out of order on purpose
            "demand_mbps": ("user", [30.0, 12.0, 7.0, 100.0]),
            "pair_user": ("pair", [1, 0, 2, 0, 2, 1]),
            "pair_site": ("pair", [0, 1, 1, 0, 0, 2]),
            "pair_rank": ("pair", [0, 1, 0, 0, 1, 1]),
            "pair_in_assisted_radius": ("pair", np.array([1, 0, 0, 1, 0, 1])),  # 0/1, as a file may hold it
        },
        coords={"band": band, "site": ["A", "B", "C"], "user": [0, 1, 2, 3], "ev": [0, 1, 2], "pair": np.arange(6)},
    )


# ------------------------------------------------------------------------------------------ power


def test_band_coefficients_and_the_site_ceiling_from_the_data_tables(world):
    active, utilisation, traffic = band_power_coefficients(world)
    np.testing.assert_allclose(active, ACTIVE_KW, rtol=1e-12)
    assert ACTIVE_LTE_KW == pytest.approx(0.7878643, abs=1e-6) and ACTIVE_NR_KW == pytest.approx(1.2075787, abs=1e-6)
    np.testing.assert_allclose(utilisation, [0.363, 0.363, 0.363, 1.506], rtol=1e-12)
    np.testing.assert_allclose(traffic, [0.00145, 0.00075, 0.00063, 0.00065], rtol=1e-12)
    assert [a.dims for a in (active, utilisation, traffic)] == [("band",)] * 3
    assert active.attrs == {"units": "kW", "long_name": "power of an active carrier over the site's sectors (Eq. 2)"}
    assert utilisation.attrs == {"units": "kW", "long_name": "power per unit RB utilisation (Eq. 2)"}
    assert traffic.attrs == {"units": "kW/(Mbit/s)", "long_name": "power per Mbit/s carried (Eq. 2)"}

    # the ceiling: every carrier on, fully used, at capacity, times the scale
    #   active 3 x 0.78786 + 1.20758 = 3.57117; utilisation 3 x 0.363 + 1.506 = 2.595
    #   traffic 0.00145 x 50 + 0.00075 x 100 + 0.00063 x 120 + 0.00065 x 500 = 0.5481
    ceiling = SCALE * (3 * ACTIVE_LTE_KW + ACTIVE_NR_KW + 2.595 + 0.5481)
    assert ceiling == pytest.approx(8.3928395, abs=1e-6)
    assert site_power_ceiling_kw(world) == pytest.approx(ceiling, rel=1e-12)
    assert isinstance(site_power_ceiling_kw(world), float)


def test_site_power_per_state_with_standby_sleep_dark_and_the_scale(world):
    model = SitePowerModel.from_data(world)
    np.testing.assert_allclose(model.capacity_mbps, CAPACITY_MBPS)
    assert model.capacity_mbps.dtype == float and model.standby_kw.dtype == float
    assert (model.deep_sleep_kw, model.scale) == (DEEP_SLEEP_KW, SCALE)

    # five sites; the carrier mask as 0/1 integers, as a table or a sum may give it
    band_on = np.array(
        [
            [1, 0, 0, 1],  # awake, L800 at 25 of 50 Mbit/s, N3700 idle, L1800 and L2600 on standby
            [0, 0, 0, 0],  # awake with every carrier off: standby only
            [1, 1, 1, 1],  # asleep: P_sleep only, whatever its carriers
            [1, 1, 1, 1],  # dark
            [1, 1, 1, 1],  # asleep and dark: dark wins, nothing
        ]
    )
    traffic = np.zeros((5, 4))
    traffic[0, 0] = 25.0
    traffic[2:, :] = 10.0
    asleep = np.array([False, False, True, False, True])
    dark = np.array([False, False, False, True, True])
    # site 0: 1.25 (0.78786 + 0.363 x 0.5 + 0.00145 x 25 + 1.20758 + 0.15 + 0.15) = 1.25 x 2.51170
    site0 = SCALE * (ACTIVE_LTE_KW + 0.363 * 0.5 + 0.00145 * 25 + ACTIVE_NR_KW + 0.15 + 0.15)
    site1 = SCALE * (0.15 + 0.15 + 0.15 + 0.30)  # 0.9375
    site2 = SCALE * DEEP_SLEEP_KW  # 0.125
    expected = [site0, site1, site2, 0.0, 0.0]
    np.testing.assert_allclose(model.site_kw(band_on, traffic, asleep, dark), expected, rtol=1e-12)
    np.testing.assert_allclose(site_power_kw(world, band_on, traffic, asleep, dark), expected, rtol=1e-12)

    # an explicit RB utilisation (Eq. 11) replaces nu / C: 0.8 of L800 while carrying 25 Mbit/s
    used = np.zeros((5, 4))
    used[0, 0] = 0.8
    site0_used = SCALE * (ACTIVE_LTE_KW + 0.363 * 0.8 + 0.00145 * 25 + ACTIVE_NR_KW + 0.15 + 0.15)
    np.testing.assert_allclose(site_power_kw(world, band_on, traffic, asleep, dark, used)[:2], [site0_used, site1], rtol=1e-12)

    # above capacity the utilisation saturates at 1 but the traffic term keeps growing: 120 Mbit/s on L800
    over = np.zeros((1, 4))
    over[0, 0] = 120.0
    one = np.array([False])
    expected_over = SCALE * (ACTIVE_LTE_KW + 0.363 * 1.0 + 0.00145 * 120 + 0.15 + 0.15 + 0.30)
    np.testing.assert_allclose(model.site_kw(np.array([[1, 0, 0, 0]]), over, one, one), [expected_over], rtol=1e-12)


def test_traffic_split_by_capacity_reads_the_mask_as_on_or_off():
    capacity = np.array([0.25, 0.5, 2.0])  # below 1 Mbit/s: the split still divides by the capacity on
    # counts: 2 is as on as 1
    band_on = np.array([[2, 1, 0], [0, 0, 0], [0, 3, 0], [1, 1, 1]])
    split = band_traffic_mbps(np.array([3.0, 5.0, 0.4, 11.0]), band_on, capacity)
    # site 0: 3 Mbit/s over 0.25 + 0.5: 1 and 2; site 1: nothing on, nothing carried; site 2: all 0.4 on the second
    # site 3: 11 over 2.75: 1, 2, 8
    np.testing.assert_allclose(split, [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.4, 0.0], [1.0, 2.0, 8.0]], rtol=1e-12)


def test_reference_power_serves_each_users_home_with_every_band(world):
    # homes (rank 0): user 0 -> A (pair 3), user 1 -> A (pair 0), user 2 -> B (pair 2), user 3 has no pair
    assert home_site(world).tolist() == [0, 0, 1, -1]
    power = reference_site_power_kw(world)
    assert power.dims == ("site",) and power.site.values.tolist() == ["A", "B", "C"]
    assert power.attrs == {"units": "kW", "long_name": "reference site power"}
    idle = 3 * ACTIVE_LTE_KW + ACTIVE_NR_KW
    # A: 42 Mbit/s over 770 Mbit/s of capacity, 42/770 = 0.054545 of every carrier
    #    traffic 50, 100, 120, 500 x 0.054545 = 2.7273, 5.4545, 6.5455, 27.273 Mbit/s
    share_a = 42.0 / 770.0
    site_a = idle + share_a * (3 * 0.363 + 1.506) + share_a * (0.00145 * 50 + 0.00075 * 100 + 0.00063 * 120 + 0.00065 * 500)
    share_b = 7.0 / 770.0
    site_b = idle + share_b * (3 * 0.363 + 1.506) + share_b * 0.5481
    # C serves no one (user 3 belongs to no site): every carrier on and idle
    np.testing.assert_allclose(power, [SCALE * site_a, SCALE * site_b, SCALE * idle], rtol=1e-12)


# ---------------------------------------------------------------------------------------- storage


def test_battery_limits_with_both_efficiencies_and_the_soc_window(world):
    np.testing.assert_allclose(battery_initial_kwh(world), [5.0, 15.0, 36.0])  # 0.5 x 10, 0.75 x 20, 0.9 x 40
    np.testing.assert_allclose(battery_floor_kwh(world), [2.0, 4.0, 8.0])  # 0.2 x 10, 20, 40
    assert battery_initial_kwh(world).attrs == {"units": "kWh", "long_name": "battery energy at the outage start"}
    assert battery_floor_kwh(world).attrs == {"units": "kWh", "long_name": "battery energy floor SOC_min E_SB"}

    battery = BatteryLimits.from_data(world)
    np.testing.assert_allclose(battery.capacity_kwh, [10.0, 20.0, 40.0])
    np.testing.assert_allclose(battery.initial_kwh, [5.0, 15.0, 36.0])
    np.testing.assert_allclose(battery.floor_kwh, [2.0, 4.0, 8.0])
    np.testing.assert_allclose(battery.ceiling_kwh, [8.0, 16.0, 32.0])  # 0.8 x 10, 20, 40
    assert (battery.discharge_efficiency, battery.charge_efficiency) == (0.9, 0.8)
    assert (battery.max_discharge_kw, battery.max_charge_kw) == (4.0, 2.5)

    energy = np.array([5.0, 4.5, 1.0])
    # above the floor, at the bus: (5 - 2) 0.9 = 2.7, (4.5 - 4) 0.9 = 0.45, below the floor 0
    np.testing.assert_allclose(battery.usable_kwh(energy), [2.7, 0.45, 0.0])
    # for a quarter hour: min(4, 10.8) = 4, min(4, 1.8) = 1.8, 0
    np.testing.assert_allclose(battery.available_kw(energy, 0.25), [4.0, 1.8, 0.0])
    # charging room below SOC_max for a quarter hour, at the bus: (8 - 5) / (0.8 x 0.25) = 15 -> P_ch^max 2.5;
    # (16 - 15.7) / 0.2 = 1.5; above the ceiling: none
    np.testing.assert_allclose(battery.charge_room_kw(np.array([5.0, 15.7, 33.0]), 0.25), [2.5, 1.5, 0.0])
    # Eq. 12 over a quarter hour: giving 1.8 kW costs 0.45 / 0.9 = 0.5 kWh; taking 2 kW stores 0.5 x 0.8 = 0.4; idle
    after = battery.energy_after(np.array([5.0, 15.0, 36.0]), np.array([1.8, -2.0, 0.0]), 0.25)
    np.testing.assert_allclose(after, [4.5, 15.4, 36.0])
    # the same helper for any store: (E - floor)+ eta, elementwise
    np.testing.assert_allclose(usable_energy_kwh(np.array([3.0, 1.0]), np.array([1.0, 2.0]), 0.5), [1.0, 0.0])


def test_ev_limits_with_the_reserve_pmax_at_the_battery_and_the_v2x_limit(world):
    np.testing.assert_allclose(ev_arrival_kwh(world), [30.0, 4.0, 30.0])  # 0.6 x 50, 0.1 x 40, 0.5 x 60
    # the driver's reserve 0.3 E_nom, or the arrival energy when lower: 15, 4 (arrived at 0.1), 18
    np.testing.assert_allclose(ev_reserve_kwh(world), [15.0, 4.0, 18.0])
    assert ev_arrival_kwh(world).attrs == {"units": "kWh", "long_name": "EV energy on arrival"}
    assert ev_reserve_kwh(world).attrs == {"units": "kWh", "long_name": "EV energy kept for the driver"}

    evs = EVLimits.from_data(world)
    assert evs.site.tolist() == [0, 0, 1] and evs.n_site == 3
    np.testing.assert_allclose(evs.initial_kwh, [30.0, 4.0, 30.0])
    np.testing.assert_allclose(evs.reserve_kwh, [15.0, 4.0, 18.0])
    assert (evs.efficiency, evs.max_power_kw, evs.v2x_limit_kw) == (0.75, 8.0, 10.0)
    # P_max at the EV battery: the bus gets 8 x 0.75 = 6 kW discharging, gives 8 / 0.75 charging
    assert evs.max_bus_kw == pytest.approx(6.0)
    assert ev_bus_limits_kw(8.0, 0.75) == pytest.approx((6.0, 32.0 / 3.0))
    discharge_kw, charge_kw = ev_bus_limits_kw(8.0, 0.0)  # no efficiency: no V2G, and no division by zero
    assert discharge_kw == 0.0 and math.isfinite(charge_kw)

    energy = np.array([30.0, 4.0, 20.0])
    # usable at the bus: (30 - 15) 0.75 = 11.25, 0, (20 - 18) 0.75 = 1.5
    np.testing.assert_allclose(evs.usable_kwh(energy), [11.25, 0.0, 1.5])
    # half-hour step: EV 0 min(6, 22.5) = 6; EV 1 nothing above its reserve; EV 2 min(6, 3) = 3
    per_ev, per_site = evs.available_kw(energy, np.array([True, True, True]), step_h=0.5)
    np.testing.assert_allclose(per_ev, [6.0, 0.0, 3.0])
    np.testing.assert_allclose(per_site, [6.0, 3.0, 0.0])  # site C has no EV
    # two full EVs at site A exceed the V2X limit of 10 kW; EV 2 is not parked
    per_ev, per_site = evs.available_kw(np.array([50.0, 40.0, 60.0]), np.array([True, True, False]), step_h=0.5)
    np.testing.assert_allclose(per_ev, [6.0, 6.0, 0.0])
    np.testing.assert_allclose(per_site, [10.0, 0.0, 0.0])
    # giving 6 kW at the bus for half an hour costs 3 / 0.75 = 4 kWh
    np.testing.assert_allclose(evs.energy_drawn_kwh(np.array([6.0, 0.0]), 0.5), [4.0, 0.0])

    # every battery at P_dis^max and every site's V2X limit: (4 + 10) x 3 sites
    assert peak_supply_kw(world) == pytest.approx(42.0)


# ------------------------------------------------------------------------------------ price, coverage, modes


def test_price_rises_as_the_remaining_battery_time_falls(world):
    # T_rem = usable / load, the load taken as at least 1 W
    np.testing.assert_allclose(remaining_time_h(np.array([6.0, 6.0, 0.0]), np.array([1.5, 0.0, 2.0])), [4.0, 6000.0, 0.0])
    assert remaining_time_h(6.0, 0.0005) == pytest.approx(6000.0)  # 0.5 W counts as 1 W
    assert remaining_time_h(6.0, 0.01, min_load_kw=0.1) == pytest.approx(60.0)
    # Eq. 16: 0.3 (1 + 1.5 exp(-T / 2 h)): empty now 0.75; at 2 h 0.3 (1 + 1.5/e); at 4 h 0.3 (1 + 1.5/e^2)
    price = v2g_price_per_kwh(world, np.array([0.0, 2.0, 4.0, 200.0]))
    np.testing.assert_allclose(price, [0.75, 0.3 * (1 + 1.5 / math.e), 0.3 * (1 + 1.5 / math.e**2), 0.3], rtol=1e-12)


def test_coverage_per_mode_and_the_home_of_each_user(world):
    coverage = pair_mode_coverage(world)
    assert coverage.shape == (6, 5) and coverage.dtype == bool
    assert coverage[:, NORMAL].all() and coverage[:, HELPING].all()  # the SINR decides; R_exp bounds the pairs
    assert coverage[:, ASSISTED].tolist() == [True, False, False, True, False, True]  # the reduced radius only
    assert not coverage[:, SLEEP].any() and not coverage[:, DARK].any()
    # one candidate pair is enough to have a home; a user without one has none
    single = world.isel(pair=[4])  # user 2 at site A, rank 1
    assert home_site(single).tolist() == [-1, -1, 0, -1]
    modes = np.array([DARK, SLEEP, ASSISTED, HELPING, NORMAL])
    assert awake(modes).tolist() == [False, False, True, True, True]
    assert needs_helper(modes).tolist() == [False, True, True, False, False]
