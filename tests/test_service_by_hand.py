"""The service physics (Eqs. 7-9) against numbers worked out by hand.

Every expected value is derived in the comment beside it from the given
powers (mW), noise, bandwidths, capacities and demands, so a slip in the SINR,
the Shannon rate, the Gamma_min threshold, the best-server pick or the
scheduler's priority, scaling and filling changes a number written out here.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr

from msrc_model.physics import (
    ASSISTED,
    DARK,
    HELPING,
    NORMAL,
    SLEEP,
    RadioChannel,
    best_servers,
    carrier_totals,
    schedule_rates,
    shannon_spectral_efficiency,
    transmitting_carriers,
)
from msrc_model.physics.service import deliver


def db(ratio: float) -> float:
    return 10 * math.log10(ratio)


def four_site_channel() -> RadioChannel:
    """4 sites, 3 users, 2 bands; each user hears 3 ranked sites; noise 1 and 0.5 mW."""
    return RadioChannel(
        ranked_site=np.array([[0, 1, 2], [1, 2, 3], [3, 0, 1]]),
        ranked_rx_mw=np.array(
            [
                [[40.0, 12.0], [8.0, 3.0], [4.0, 0.5]],  # user 0 from sites 0, 1, 2
                [[30.0, 6.0], [10.0, 2.0], [5.0, 1.0]],  # user 1 from sites 1, 2, 3
                [[0.6, 0.3], [0.2, 0.1], [0.05, 0.02]],  # user 2 from sites 3, 0, 1 (a weak, noise-limited user)
            ]
        ),
        residual_mw=np.array([[1.0, 0.5], [2.0, 1.0], [0.1, 0.05]]),
        noise_mw=np.array([1.0, 0.5]),
        bandwidth_mhz=np.array([10.0, 20.0]),
        capacity_mbps=np.array([50.0, 100.0]),
        sinr_min_db=-6.0,
        n_site=4,
    )


# site 0 both bands, site 1 band 0 only, sites 2 and 3 band 1 only
MIXED = np.array([[True, True], [True, False], [False, True], [False, True]])


def test_a_weak_interference_under_a_strong_server_keeps_its_digits():
    """Eq. 7's interference is added up from the other sites, not taken as a total less the server's power.

    A server received at 1e9 mW over interference of 3e-6 mW and noise of 1e-6 mW: the SINR is 2.5e14
    (143.98 dB). As ``(1e9 + 3e-6) - 1e9`` the interference comes out as a whole number of 1.2e-7 mW
    steps (2.98e-6, 0.7 % off), and a last-bit difference in the total moves it by a whole step.
    """
    channel = RadioChannel(
        ranked_site=np.array([[0, 1, 2]]),
        ranked_rx_mw=np.array([[[1e9], [2e-6], [1e-6]]]),
        residual_mw=np.zeros((1, 1)),
        noise_mw=np.array([1e-6]),
        bandwidth_mhz=np.array([10.0]),
        capacity_mbps=np.array([50.0]),
        sinr_min_db=-6.0,
        n_site=3,
    )
    every = np.ones((3, 1), dtype=bool)
    np.testing.assert_allclose(channel.interference_at_mw(np.array([0]), np.array([0]), every), [[3e-6]], rtol=1e-14)
    np.testing.assert_allclose(channel.sinr_db(np.array([0]), np.array([0]), every), [[db(1e9 / 4e-6)]], rtol=1e-14)
    # one silent neighbour: only the other one is left
    sinr = channel.sinr_db(np.array([0]), np.array([0]), every, silent=np.array([1]))
    np.testing.assert_allclose(sinr, [[db(1e9 / 2e-6)]], rtol=1e-14)


def test_interference_signal_and_sinr_by_hand():
    channel = four_site_channel()
    # every transmitting ranked site plus the residual:
    # user 0: band 0 40 + 8 + 1 = 49 (site 2 off), band 1 12 + 0.5 + 0.5 = 13 (site 1 off)
    # user 1: band 0 30 + 2 = 32 (sites 2, 3 off), band 1 2 + 1 + 1 = 4 (site 1 off)
    # user 2: band 0 0.2 + 0.05 + 0.1 = 0.35 (site 3 off), band 1 0.3 + 0.1 + 0.05 = 0.45 (site 1 off)
    np.testing.assert_allclose(channel.interference_mw(MIXED), [[49, 13], [32, 4], [0.35, 0.45]], rtol=1e-12)

    # the signal from a ranked site at any rank; nothing from an unranked site or from -1
    signal = channel.signal_mw(np.array([0, 1, 2, 0, 1]), np.array([2, 3, 0, 3, -1]))
    np.testing.assert_allclose(signal, [[4, 0.5], [5, 1], [0.2, 0.1], [0, 0], [0, 0]], rtol=1e-12)

    sinr = channel.sinr_db(np.array([0, 1, 2]), np.array([0, 2, 3]), MIXED)
    # user 0 on site 0: band 0 40 / (1 + 49 - 40) = 4, band 1 12 / (0.5 + 13 - 12) = 8
    # user 1 on site 2, whose band 0 is off (not in the total, so nothing to remove): 10 / (1 + 32) and 2 / (0.5 + 4 - 2)
    # user 2 on site 3 (band 0 off): 0.6 / (1 + 0.35), band 1 0.3 / (0.5 + 0.45 - 0.3); interference below 1 mW
    expected = [[4.0, 8.0], [10 / 33, 2 / 2.5], [0.6 / 1.35, 0.3 / 0.65]]
    np.testing.assert_allclose(sinr, [[db(x) for x in row] for row in expected], rtol=1e-12)

    # one more silent site per row (a neighbour asleep): it stops interfering where it transmits
    sinr = channel.sinr_db(
        np.array([0, 0, 1, 2, 1, 0]), np.array([0, 0, 2, 3, 2, 0]), MIXED, silent=np.array([1, 0, 3, 0, -1, 3])
    )
    expected = [
        [40 / (1 + 9 - 8), 12 / (0.5 + 1)],  # site 1 silent: it only transmitted band 0
        [4.0, 8.0],  # the server itself named silent: nothing more removed
        [10 / 33, 2 / (0.5 + 2 - 1)],  # site 3 silent: it only transmitted band 1
        [0.6 / (1 + 0.35 - 0.2), 0.3 / (0.5 + 0.15 - 0.1)],  # site 0 silent: both bands
        [10 / 33, 2 / 2.5],  # -1: none
        [4.0, 8.0],  # site 3 is not among user 0's ranked sites: nothing to remove
    ]
    np.testing.assert_allclose(sinr, [[db(x) for x in row] for row in expected], rtol=1e-12)

    # interference seen by a user is the transmitting sites other than its server, whatever else transmits
    every = np.ones((4, 2), dtype=bool)
    np.testing.assert_allclose(channel.interference_mw(every)[0], [40 + 8 + 4 + 1, 12 + 3 + 0.5 + 0.5])
    np.testing.assert_allclose(channel.interference_at_mw(np.array([0]), np.array([0]), every), [[8 + 4 + 1, 3 + 0.5 + 0.5]], rtol=1e-12)
    sinr = channel.sinr_db(np.array([0]), np.array([0]), every)
    np.testing.assert_allclose(sinr, [[db(40 / (1 + 13)), db(12 / (0.5 + 4))]], rtol=1e-12)

    # a site the user does not hear, or none: -inf, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sinr = channel.sinr_db(np.array([0, 1]), np.array([3, -1]), MIXED)
    assert (sinr == -np.inf).all()

    # empty selections (plain lists) give empty (0, band) answers
    assert channel.signal_mw([], []).shape == (0, 2)
    assert channel.sinr_db([], [], MIXED).shape == (0, 2)
    assert channel.sinr_db([], [], MIXED, silent=[]).shape == (0, 2)


def test_channel_from_data_converts_float32_dbm_in_double_precision():
    dbm = np.array([[[13.0, 20.0], [7.0, -3.0]], [[0.0, 10.0], [-13.0, 3.0]]], dtype=np.float32)
    data = xr.Dataset(
        {
            "ranked_site": (("user", "site_rank"), np.array([[2, 0], [1, 2]], dtype=np.int32)),
            "ranked_rx_dbm": (("user", "site_rank", "band"), dbm),
            "residual_interference_dbm": (("user", "band"), np.array([[-10.0, -20.0], [-7.0, 1.0]], dtype=np.float32)),
            "noise_dbm": (("band",), np.array([-97.0, -94.0], dtype=np.float32)),
            "bandwidth_mhz": (("band",), np.array([10, 20])),
            "capacity_mbps": (("band",), np.array([50, 100])),
            "sinr_min_db": -6.0,
        },
        coords={"site": [10, 11, 12]},
    )
    channel = RadioChannel.from_data(data)
    # mW = 10^(dBm / 10): 13 dBm = 19.9526 mW, 20 dBm = 100 mW, 0 dBm = 1 mW, -3 dBm = 0.501 mW
    expected_rx = [[[10**1.3, 100.0], [10**0.7, 10**-0.3]], [[1.0, 10.0], [10**-1.3, 10**0.3]]]
    np.testing.assert_allclose(channel.ranked_rx_mw, expected_rx, rtol=1e-13)
    np.testing.assert_allclose(channel.residual_mw, [[0.1, 0.01], [10**-0.7, 10**0.1]], rtol=1e-13)
    np.testing.assert_allclose(channel.noise_mw, [10**-9.7, 10**-9.4], rtol=1e-13)
    assert channel.ranked_site.dtype == np.int64 and channel.ranked_site.tolist() == [[2, 0], [1, 2]]
    assert channel.bandwidth_mhz.dtype == float and channel.bandwidth_mhz.tolist() == [10.0, 20.0]
    assert channel.capacity_mbps.dtype == float and channel.capacity_mbps.tolist() == [50.0, 100.0]
    assert channel.sinr_min_db == -6.0 and channel.n_site == 3 and channel.n_user == 2


def test_shannon_efficiency_and_the_gamma_min_threshold():
    # log2(1 + SINR): 0 dB -> 1, SINR 3 -> 2, SINR 7 -> 3; far below: ~0 (never negative); far above: no overflow
    eff = shannon_spectral_efficiency([0.0, db(3.0), db(7.0), -400.0, 4000.0])
    np.testing.assert_allclose(eff[:3], [1.0, 2.0, 3.0], rtol=1e-12)
    assert 0.0 <= eff[3] < 1e-39
    assert eff[4] == pytest.approx(4000 * math.log2(10) / 10, rel=1e-12)
    # float32 dB (as the inputs store them) is evaluated in double precision: x dB -> log2(1 + 10^(x / 10))
    sinr32 = np.array([3.0, -4.5, 17.25, -1.0, 7.0], dtype=np.float32)  # all exact in float32
    expected = [math.log2(1 + 10 ** (x / 10)) for x in (3.0, -4.5, 17.25, -1.0, 7.0)]
    np.testing.assert_allclose(shannon_spectral_efficiency(sinr32), expected, rtol=1e-13)

    channel = four_site_channel()  # Gamma_min = -6 dB
    sinr = np.array([[-6.0, np.nextafter(-6.0, -np.inf)], [-np.inf, 0.0]])
    # exactly at Gamma_min decodes (>=): log2(1 + 10^-0.6); just below and -inf: nothing
    np.testing.assert_allclose(channel.spectral_efficiency(sinr), [[math.log2(1 + 10**-0.6), 0.0], [0.0, 1.0]], rtol=1e-12)


def test_transmitting_carriers_and_carrier_totals():
    mode = np.array([NORMAL, HELPING, ASSISTED, SLEEP, DARK])
    band_on = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])  # 0/1 floats (e.g. read from a file)
    radiating = transmitting_carriers(mode, band_on)
    assert radiating.dtype == bool
    assert radiating.tolist() == [[True, False], [True, True], [False, True], [False, False], [False, False]]

    # per (site, band) sums over the users' sites; a user on -1 counts nothing; sites without users are 0
    values = np.array([[1.0, 2.0], [100.0, 200.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(carrier_totals(np.array([2, -1, 0, 2]), values, 4), [[3, 4], [0, 0], [6, 8], [0, 0]])
    np.testing.assert_array_equal(carrier_totals([], np.zeros((0, 2)), 3), np.zeros((3, 2)))


def five_user_channel() -> RadioChannel:
    """3 sites, 5 users, 2 bands, noise 1 mW, no residual, Gamma_min 0 dB (SINR 1), B = 100 and 200 MHz."""
    return RadioChannel(
        ranked_site=np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0], [0, 2, 1], [1, 2, 0]]),
        ranked_rx_mw=np.array(
            [
                [[4.0, 1.0], [2.0, 1.0], [1.0, 0.0]],  # user 0 from sites 0, 1, 2
                [[8.0, 2.0], [2.0, 8.0], [1.0, 1.0]],  # user 1 from sites 1, 0, 2
                [[6.0, 6.0], [2.0, 2.0], [0.5, 0.5]],  # user 2 from sites 2, 1, 0
                [[0.5, 0.5], [0.25, 0.25], [0.1, 0.1]],  # user 3 from sites 0, 2, 1
                [[1.0, 1.0], [3.0, 3.0], [1.0, 1.0]],  # user 4 from sites 1, 2, 0
            ]
        ),
        residual_mw=np.zeros((5, 2)),
        noise_mw=np.array([1.0, 1.0]),
        bandwidth_mhz=np.array([100.0, 200.0]),
        capacity_mbps=np.array([50.0, 100.0]),
        sinr_min_db=0.0,
        n_site=3,
    )


def test_best_servers_by_hand():
    channel = five_user_channel()
    every = np.ones((3, 2), dtype=bool)
    pair_user = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    pair_site = np.array([0, 1, 1, 0, 2, 1, 0, 2])
    site, sinr = best_servers(channel, pair_user, pair_site, every)
    # user 0: site 0 band 0 4 / (1 + 2 + 1) = 1 (0 dB: exactly Gamma_min, kept), band 1 1 / (1 + 1) = 0.5;
    #         site 1 at most 1 / (1 + 1) = 0.5 -> site 0 at 0 dB
    # user 1: site 1 band 0 8 / (1 + 3) = 2; site 0 band 1 8 / (1 + 3) = 2 -> a tie: the first pair (site 1) wins
    # user 2: site 2 6 / (1 + 2.5) = 12/7; site 1 2 / (1 + 6.5) -> site 2
    # user 3: site 0 0.5 / (1 + 0.35) < 1 -> below Gamma_min: none; user 4 has no candidate pair
    assert site.tolist() == [0, 1, 2, -1, -1]
    np.testing.assert_allclose(sinr, [0.0, db(2.0), db(12 / 7), -np.inf, -np.inf], rtol=1e-12, atol=1e-12)

    # site 2 asleep: its pairs drop out and it no longer interferes
    asleep = every.copy()
    asleep[2] = False
    site, sinr = best_servers(channel, pair_user, pair_site, asleep)
    # user 0: 4 / (1 + 2) = 4/3; user 1: site 1 8 / (1 + 2) = 8/3 ties site 0 band 1 8 / (1 + 2): site 1 again
    # user 2: site 1 2 / (1 + 0.5) = 4/3; user 3: site 0 0.5 / 1.1 < 1
    assert site.tolist() == [0, 1, 1, -1, -1]
    np.testing.assert_allclose(sinr, [db(4 / 3), db(8 / 3), db(4 / 3), -np.inf, -np.inf], rtol=1e-12)

    # site 1's band 0 off: for user 1 site 1 counts on band 1 only, 2 / (1 + 8 + 1) = 0.2, while site 0 gets
    # 2 / (1 + 1) = 1 on band 0 and 8 / (1 + 2 + 1) = 2 on band 1 -> site 0
    band_off = every.copy()
    band_off[1, 0] = False
    site, sinr = best_servers(channel, np.array([1, 1]), np.array([1, 0]), band_off)
    assert site.tolist() == [-1, 0, -1, -1, -1]
    assert sinr[1] == pytest.approx(db(2.0), rel=1e-12)

    # a single candidate pair, and none at all
    site, sinr = best_servers(channel, np.array([2]), np.array([2]), every)
    assert site.tolist() == [-1, -1, 2, -1, -1] and sinr[2] == pytest.approx(db(12 / 7), rel=1e-12)
    site, sinr = best_servers(channel, np.array([], dtype=int), np.array([], dtype=int), every)
    assert site.shape == (5,) and site.tolist() == [-1] * 5
    assert sinr.shape == (5,) and (sinr == -np.inf).all()


def test_deliver_by_hand():
    channel = five_user_channel()
    every = np.ones((3, 2), dtype=bool)
    carriers_on = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])  # site 0 may not serve on band 1 (it still interferes)
    helping = 0.05
    capacity = np.array([[50.0, 100.0], [50.0, 100.0], [50.0, 100.0]]) * np.array([[1 - helping], [1.0], [1.0]])
    site = np.array([0, 0, -1, -1, 2])
    demand = np.array([100.0, 100.0, 100.0, 100.0, 120.0])
    user_class = np.array([1, 0, 0, 0, 0])
    order = np.array([0, 1])
    sinr, rate, share = deliver(channel, site, carriers_on, every, capacity, demand, user_class, order)
    # user 0 on site 0: SINR 4 / 4 = 1 (0 dB) and 1 / 2; user 1 on site 0: 2 / (1 + 9) and 8 / (1 + 3) = 2
    # user 4 on site 2: 3 / (1 + 1 + 1) = 1 on both bands; users 2 and 3 on no site: -inf
    expected = [[0.0, db(0.5)], [db(0.2), db(2.0)], [-np.inf] * 2, [-np.inf] * 2, [0.0, 0.0]]
    np.testing.assert_allclose(sinr, expected, rtol=1e-12, atol=1e-12)
    # user 0: band 0 at log2(2) = 1 bit/s/Hz x 100 MHz = 100 Mbit/s per share, bound by the helping
    # capacity 50 (1 - 0.05) = 47.5 -> share 0.475; band 1 below Gamma_min
    # user 1: band 1 decodes, but site 0 may not serve on it -> nothing
    # user 4 (site 2 normal): band 1 first (capacity 100 > 50): 120 Mbit/s wanted at 200 per share, capacity 100
    #   -> 100, share 0.5; then band 0: the 20 left at 100 per share -> share 0.2
    np.testing.assert_allclose(rate, [[47.5, 0], [0, 0], [0, 0], [0, 0], [20, 100]], rtol=1e-12)
    np.testing.assert_allclose(share, [[0.475, 0], [0, 0], [0, 0], [0, 0], [0.2, 0.5]], rtol=1e-12)

    # a strategy share of 0.3 of band 0 for user 4: 30 Mbit/s there first, the 90 left then from band 1 (share 0.45)
    wanted = np.zeros((5, 2))
    wanted[4, 0] = 0.3
    _, rate, share = deliver(channel, site.astype(float), carriers_on, every, capacity, demand, user_class, order, wanted)
    np.testing.assert_allclose(rate[4], [30.0, 90.0], rtol=1e-12)
    np.testing.assert_allclose(share[4], [0.3, 0.45], rtol=1e-12)
    np.testing.assert_allclose(rate[0], [47.5, 0.0], rtol=1e-12)  # site indices given as floats work the same


def test_scheduler_priority_spill_and_exhausted_carriers_by_hand():
    """Fill only (no strategy shares): priority classes, spill to the next band, what is left for the next class."""
    bandwidth = np.array([10.0, 20.0])
    capacity = np.array([[30, 50], [40, 0], [0, 0]])  # whole Mbit/s; site 1's band 1 and site 2 are off
    site = np.array([0, 0, -1, 1, 1, 2])
    efficiency = np.array([[2.0, 4.0], [5.0, 2.0], [3.0, 3.0], [1.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
    demand = np.array([60.5, 40.0, 100.0, 5.0, 10.0, 10.0])
    user_class = np.array([2, 0, 2, 2, 0, 0])
    order = np.array([3, 2, 0, 1])  # class 3 has no one; 2 is served first
    rate, share = schedule_rates(site, efficiency, bandwidth, capacity, demand, user_class, order)
    # bands by largest capacity anywhere: band 1 (50) then band 0 (40)
    # class 2: user 0 (site 0) Mbit/s per share [20, 80], user 3 (site 1) [10, 20]; user 2 is on no site
    #   band 1: user 0 asks 60.5 (share 0.75625): capacity 50 binds -> 50, share 0.625; user 3: site 1's band 1 is off
    #   band 0: user 0 still lacks 10.5 (share 0.525) -> granted; user 3 asks 5 (share 0.5) -> granted
    #   left on site 0: band 0 30 - 10.5 = 19.5 Mbit/s and 0.475 of the band, band 1 nothing and 0.375
    # class 0: user 1 (site 0) [50, 40] asks 40: band 1 has no capacity left -> 0; band 0: 40 (share 0.8) against
    #   19.5 Mbit/s and 0.475 share -> fraction min(19.5 / 40, 0.475 / 0.8) = 0.4875 -> 19.5, share 0.39
    #   user 4 only on band 1 of site 1 (off), user 5 on site 2 (off): nothing
    np.testing.assert_allclose(
        rate, [[10.5, 50.0], [19.5, 0.0], [0.0, 0.0], [5.0, 0.0], [0.0, 0.0], [0.0, 0.0]], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        share, [[0.525, 0.625], [0.39, 0.0], [0.0, 0.0], [0.5, 0.0], [0.0, 0.0], [0.0, 0.0]], rtol=1e-12, atol=1e-12
    )
    # the same with the sites as a float array
    rate_f, _ = schedule_rates(site.astype(float), efficiency, bandwidth, capacity, demand, user_class, order)
    np.testing.assert_allclose(rate_f, rate, rtol=1e-12)


def test_scheduler_small_rates_band_order_and_ties_by_hand():
    # one site, two 10 MHz bands of 0.2 and 0.5 Mbit/s; user 0 (class 0) gets 0.05 bit/s/Hz -> 0.5 Mbit/s per share
    # user 1 (class 1) 0.02 bit/s/Hz -> 0.2 Mbit/s per share
    bandwidth = np.array([10.0, 10.0])
    capacity = np.array([[0.2, 0.5]])
    efficiency = np.array([[0.05, 0.05], [0.02, 0.02]])
    rate, share = schedule_rates(
        np.array([0, 0]), efficiency, bandwidth, capacity, np.array([0.3, 0.1]), np.array([0, 1]), np.array([0, 1])
    )
    # band 1 (0.5 Mbit/s) first: user 0's 0.3 fits (share 0.6) -> left 0.2 Mbit/s and 0.4 of band 1
    # user 1 asks 0.1 on band 1 (share 0.5): share binds, fraction min(0.2 / 0.1, 0.4 / 0.5) = 0.8 -> 0.08, share 0.4
    #   then band 0: the 0.02 it lacks (share 0.1) fits
    np.testing.assert_allclose(rate, [[0.0, 0.3], [0.02, 0.08]], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(share, [[0.0, 0.6], [0.1, 0.4]], rtol=1e-12, atol=1e-15)

    # eight 10 MHz bands, capacities 5 and 10 Mbit/s alternating; 1 bit/s/Hz -> 10 Mbit/s per share
    # 25 Mbit/s wanted: bands of 10 first, equal ones in index order: bands 1 and 3 in full, then half of band 5
    capacity = np.array([[5.0, 10.0] * 4])
    rate, share = schedule_rates(
        np.array([0]), np.ones((1, 8)), np.full(8, 10.0), capacity, np.array([25.0]), np.array([0]), np.array([0])
    )
    np.testing.assert_allclose(rate[0], [0, 10, 0, 10, 0, 5, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(share[0], [0, 1, 0, 1, 0, 0.5, 0, 0], rtol=1e-12)

    # no sites and no users at all
    rate, share = schedule_rates(
        np.zeros(0, dtype=int), np.zeros((0, 2)), bandwidth, np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=int), np.array([0])
    )
    assert rate.shape == (0, 2) and share.shape == (0, 2)


def test_scheduler_honours_strategy_shares_by_hand():
    """Strategy shares: clipped to [0, 1], only on usable bands, scaled into the share, capacity and demand left."""
    bandwidth = np.array([10.0, 20.0])
    capacity = np.array([[1000.0, 900.0], [1000.0, 900.0]])  # band 0 is filled first
    site = np.array([0, 0, 0, 1, 1])
    efficiency = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # 10 and 20 Mbit/s per share
    demand = np.array([100.0, 100.0, 1.0, 5.0, 20.0])
    wanted = np.array([[1.5, 0.7], [0.5, 0.8], [-0.4, 0.1], [0.0, 0.9], [0.0, 0.6]])
    one = np.zeros(5, dtype=int)
    rate, share = schedule_rates(site, efficiency, bandwidth, capacity, demand, one, np.array([0]), wanted)
    # site 0: clipped and usable shares: user 0 [1, 0] (band 1 unusable), user 1 [0.5, 0.8], user 2 [0, 0.1]
    #   band 0 asks 1.5 -> each scaled by 2/3: user 0 2/3, user 1 1/3; band 1 asks 0.9 <= 1: kept
    #   user 2 then gets 0.1 x 20 = 2 Mbit/s, twice its demand of 1 -> halved to 0.05
    #   left: band 0 nothing, band 1 1 - 0.8 - 0.05 = 0.15; the fill: user 1 takes it on band 1 (+3 Mbit/s)
    # site 1: user 3 [0, 0] (band 1 unusable), user 4 [0, 0.6] -> 12 Mbit/s; left 1 of band 0 and 0.4 of band 1
    #   the fill, band 0 first: user 3 lacks 5 (share 0.5), user 4 lacks 8 (share 0.8): 1.3 > 1 -> each x 1/1.3
    #   band 1: user 4 still lacks 8 - 80/13 = 24/13 (share 6/65) -> granted
    expected_rate = [
        [20 / 3, 0.0],
        [10 / 3, 16.0 + 3.0],
        [0.0, 1.0],
        [50 / 13, 0.0],
        [80 / 13, 12 + 24 / 13],
    ]
    expected_share = [
        [2 / 3, 0.0],
        [1 / 3, 0.8 + 0.15],
        [0.0, 0.05],
        [5 / 13, 0.0],
        [8 / 13, 0.6 + 6 / 65],
    ]
    np.testing.assert_allclose(rate, expected_rate, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(share, expected_share, rtol=1e-12, atol=1e-12)


def test_strategy_shares_meet_capacity_and_leave_the_rest_to_the_next_class():
    bandwidth = np.array([10.0, 10.0])
    capacity = np.array([[8.0, 0.3], [1000.0, 1001.0]])  # band 1 is filled first
    site = np.array([0, 0, 1, 1, 1, 0])
    # Mbit/s per share: user 0 [20, 1], user 1 [10, 10], user 2 [10, 10], user 3 [0.1, 0.1], user 4 [10, 10],
    # user 5 [0, 10]
    efficiency = np.array([[2.0, 0.1], [1.0, 1.0], [1.0, 1.0], [0.01, 0.01], [1.0, 1.0], [0.0, 1.0]])
    demand = np.array([100.0, 100.0, 8.0, 0.02, 6.0, 50.0])
    user_class = np.array([0, 1, 0, 0, 1, 0])
    wanted = np.array([[0.5, 0.6], [0.5, 0.9], [0.4, 0.4], [0.5, 0.0], [0.8, 0.3], [0.0, 0.0]])
    rate, share = schedule_rates(site, efficiency, bandwidth, capacity, demand, user_class, np.array([0, 1]), wanted)
    # class 0, site 0: user 0 asks [10, 0.6] Mbit/s against capacities [8, 0.3] -> shares x [0.8, 0.5] = [0.4, 0.3]
    #   nothing left on site 0: the fill has nothing for user 5 (no strategy share) nor more for user 0
    # class 0, site 1: user 2 [0.4, 0.4] -> 8 Mbit/s, its demand; user 3 0.5 of band 0 -> 0.05 Mbit/s, 2.5 times its
    #   demand of 0.02 -> share 0.2 (and it lacks nothing, so the fill gives it no band 1)
    #   left: band 0 1 - 0.4 - 0.2 = 0.4, band 1 0.6
    # class 1, site 0: user 1 asks [0.5, 0.9] of bands with no capacity left -> nothing
    # class 1, site 1: user 4 asks 0.8 of the 0.4 left of band 0 -> 0.4; 0.3 of band 1 -> [4, 3] Mbit/s,
    #   more than its 6: x 6/7 -> shares [2.4/7, 1.8/7]
    expected_rate = [[8.0, 0.3], [0.0, 0.0], [4.0, 4.0], [0.02, 0.0], [24 / 7, 18 / 7], [0.0, 0.0]]
    expected_share = [[0.4, 0.3], [0.0, 0.0], [0.4, 0.4], [0.2, 0.0], [2.4 / 7, 1.8 / 7], [0.0, 0.0]]
    np.testing.assert_allclose(rate, expected_rate, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(share, expected_share, rtol=1e-12, atol=1e-12)
