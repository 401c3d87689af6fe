"""Tests of msrc_model.inputs.radio against hand-computed values (TR 38.901 UMa)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from msrc_model.inputs.radio import (
    SPEED_OF_LIGHT_M_PER_S,
    db_to_linear,
    dbm_to_mw,
    link_budget_reach_m,
    linear_to_db,
    mw_to_dbm,
    shannon_spectral_efficiency,
    thermal_noise_dbm,
    uma_breakpoint_distance_m,
    uma_los_probability,
    uma_path_loss_los_db,
    uma_path_loss_nlos_db,
)

BS_HEIGHT_M = 25.0
UE_HEIGHT_M = 1.5
BANDS_GHZ = (0.8, 1.8, 2.6, 3.7)


# Independent scalar reference of TR 38.901 Table 7.4.1-1 (UMa), h_E = 1 m.
def reference_breakpoint_m(f_ghz: float, h_bs: float, h_ut: float) -> float:
    # d'_BP = 4 (h_BS - 1)(h_UT - 1) f_c[Hz] / c
    return 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * f_ghz * 1e9 / 299_792_458.0


def reference_los_db(d_2d: float, f_ghz: float, h_bs: float = 25.0, h_ut: float = 1.5) -> float:
    d_2d = max(d_2d, 10.0)
    d_3d = math.sqrt(d_2d**2 + (h_bs - h_ut) ** 2)
    d_bp = reference_breakpoint_m(f_ghz, h_bs, h_ut)
    if d_2d <= d_bp:
        return 28.0 + 22.0 * math.log10(d_3d) + 20.0 * math.log10(f_ghz)
    return (
        28.0
        + 40.0 * math.log10(d_3d)
        + 20.0 * math.log10(f_ghz)
        - 9.0 * math.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    )


def reference_nlos_db(d_2d: float, f_ghz: float, h_bs: float = 25.0, h_ut: float = 1.5) -> float:
    d_3d = math.sqrt(max(d_2d, 10.0) ** 2 + (h_bs - h_ut) ** 2)
    nlos_only = 13.54 + 39.08 * math.log10(d_3d) + 20.0 * math.log10(f_ghz) - 0.6 * (h_ut - 1.5)
    return max(reference_los_db(d_2d, f_ghz, h_bs, h_ut), nlos_only)


# ---------------------------------------------------------------------------
# breakpoint and path loss
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency_ghz", "expected_m"),
    [
        # 4 * 24 * 0.5 * f / c = 48 * f / c
        (0.8, 128.088613),
        (1.8, 288.199378),
        (2.6, 416.287991),
        (3.7, 592.409833),
    ],
)
def test_breakpoint_distance(frequency_ghz: float, expected_m: float) -> None:
    actual = float(uma_breakpoint_distance_m(frequency_ghz, BS_HEIGHT_M, UE_HEIGHT_M))
    assert actual == pytest.approx(expected_m, rel=1e-8)
    assert actual == pytest.approx(reference_breakpoint_m(frequency_ghz, BS_HEIGHT_M, UE_HEIGHT_M), rel=1e-12)


def test_breakpoint_uses_environment_height() -> None:
    # h_E = 0: 4 * 25 * 1.5 * 3.5e9 / c = 1751.2115 m
    actual = float(uma_breakpoint_distance_m(3.5, 25.0, 1.5, environment_height_m=0.0))
    assert actual == pytest.approx(4 * 25.0 * 1.5 * 3.5e9 / SPEED_OF_LIGHT_M_PER_S, rel=1e-12)
    assert actual == pytest.approx(1751.2115, rel=1e-6)


# (frequency GHz, 2-D distance m, PL_LOS dB, PL_NLOS dB) for h_BS = 25 m, h_UT = 1.5 m.
# d'_BP: 128.1 m (0.8 GHz), 288.2 m (1.8), 416.3 m (2.6), 592.4 m (3.7), so
# 50 m is always before the breakpoint (PL1), 800 m always after (PL2), and
# 300 m is after it at 0.8 and 1.8 GHz but before it at 2.6 and 3.7 GHz.
# Example 0.8 GHz, 50 m: d_3D = sqrt(50^2 + 23.5^2) = 55.247 m,
#   PL1 = 28 + 22 log10(55.247) + 20 log10(0.8) = 28 + 38.330 - 1.938 = 64.3926 dB,
#   NLOS' = 13.54 + 39.08 log10(55.247) - 1.938 = 79.6913 dB.
# Example 0.8 GHz, 800 m: d_3D = 800.345 m,
#   PL2 = 28 + 40 log10(800.345) - 1.938 - 9 log10(128.0886^2 + 23.5^2) = 104.1283 dB.
PATH_LOSS_TABLE = [
    (0.8, 50.0, 64.392621, 79.691277),
    (0.8, 300.0, 87.135196, 108.459611),
    (0.8, 800.0, 104.128302, 125.061876),
    (1.8, 50.0, 71.436271, 86.734927),
    (1.8, 300.0, 87.943058, 115.503261),
    (1.8, 800.0, 104.936164, 132.105526),
    (2.6, 50.0, 74.630288, 89.928944),
    (2.6, 300.0, 90.825359, 118.697278),
    (2.6, 800.0, 105.269032, 135.299543),
    (3.7, 50.0, 77.694856, 92.993511),
    (3.7, 300.0, 93.889926, 121.761846),
    (3.7, 800.0, 105.581779, 138.364111),
]


@pytest.mark.parametrize(("frequency_ghz", "distance_m", "los_db", "nlos_db"), PATH_LOSS_TABLE)
def test_path_loss_literal_values(
    frequency_ghz: float, distance_m: float, los_db: float, nlos_db: float
) -> None:
    actual_los = float(uma_path_loss_los_db(distance_m, frequency_ghz, BS_HEIGHT_M, UE_HEIGHT_M))
    actual_nlos = float(uma_path_loss_nlos_db(distance_m, frequency_ghz, BS_HEIGHT_M, UE_HEIGHT_M))
    assert actual_los == pytest.approx(los_db, abs=1e-5)
    assert actual_nlos == pytest.approx(nlos_db, abs=1e-5)
    assert actual_los == pytest.approx(reference_los_db(distance_m, frequency_ghz), abs=1e-9)
    assert actual_nlos == pytest.approx(reference_nlos_db(distance_m, frequency_ghz), abs=1e-9)


def test_path_loss_hand_arithmetic_for_one_point() -> None:
    d_3d = math.sqrt(50.0**2 + 23.5**2)  # 55.2472 m
    assert d_3d == pytest.approx(55.2472, abs=1e-4)
    expected_los = 28.0 + 22.0 * math.log10(d_3d) + 20.0 * math.log10(0.8)
    assert expected_los == pytest.approx(64.392621, abs=1e-6)
    assert float(uma_path_loss_los_db(50.0, 0.8, 25.0, 1.5)) == pytest.approx(expected_los, abs=1e-9)


def test_path_loss_vectorised_over_bands_and_distances() -> None:
    frequencies = np.array(BANDS_GHZ)[:, None]
    distances_m = np.array([50.0, 300.0, 800.0])[None, :]
    los = uma_path_loss_los_db(distances_m, frequencies, BS_HEIGHT_M, UE_HEIGHT_M)
    nlos = uma_path_loss_nlos_db(distances_m, frequencies, BS_HEIGHT_M, UE_HEIGHT_M)
    assert los.shape == nlos.shape == (4, 3)
    expected_los = np.array([row[2] for row in PATH_LOSS_TABLE]).reshape(4, 3)
    expected_nlos = np.array([row[3] for row in PATH_LOSS_TABLE]).reshape(4, 3)
    np.testing.assert_allclose(los, expected_los, atol=1e-5)
    np.testing.assert_allclose(nlos, expected_nlos, atol=1e-5)


def test_path_loss_keeps_float32_distance_matrices_in_float32() -> None:
    rng = np.random.default_rng(3)
    distances_64 = rng.uniform(0.0, 3000.0, size=(200, 7))
    distances_32 = distances_64.astype(np.float32)
    for path_loss in (uma_path_loss_los_db, uma_path_loss_nlos_db):
        result_32 = path_loss(distances_32, 2.6, BS_HEIGHT_M, UE_HEIGHT_M)
        result_64 = path_loss(distances_32.astype(np.float64), 2.6, BS_HEIGHT_M, UE_HEIGHT_M)
        assert result_32.dtype == np.float32
        assert result_64.dtype == np.float64
        np.testing.assert_allclose(result_32, result_64, atol=1e-3)


def test_path_loss_continuous_at_breakpoint_and_monotonic() -> None:
    for frequency_ghz in BANDS_GHZ:
        d_bp = float(uma_breakpoint_distance_m(frequency_ghz, BS_HEIGHT_M, UE_HEIGHT_M))
        just_before = float(uma_path_loss_los_db(d_bp * (1 - 1e-9), frequency_ghz, 25.0, 1.5))
        just_after = float(uma_path_loss_los_db(d_bp * (1 + 1e-9), frequency_ghz, 25.0, 1.5))
        assert just_after == pytest.approx(just_before, abs=1e-6)
    distances_m = np.geomspace(10.0, 5000.0, 400)
    nlos = uma_path_loss_nlos_db(distances_m, 3.7, BS_HEIGHT_M, UE_HEIGHT_M)
    assert np.all(np.diff(nlos) > 0.0)
    assert np.all(nlos >= uma_path_loss_los_db(distances_m, 3.7, BS_HEIGHT_M, UE_HEIGHT_M))


def test_path_loss_clamps_short_distances_to_ten_metres() -> None:
    at_ten = float(uma_path_loss_los_db(10.0, 1.8, BS_HEIGHT_M, UE_HEIGHT_M))
    np.testing.assert_allclose(uma_path_loss_los_db([0.0, 5.0], 1.8, BS_HEIGHT_M, UE_HEIGHT_M), at_ten)
    # d_3D = sqrt(10^2 + 23.5^2) = 25.539 m: 28 + 22 log10(25.539) + 20 log10(1.8) = 64.0640 dB
    assert at_ten == pytest.approx(64.064005, abs=1e-5)


def test_path_loss_rejects_non_positive_frequency() -> None:
    with pytest.raises(ValueError):
        uma_path_loss_nlos_db(100.0, 0.0, BS_HEIGHT_M, UE_HEIGHT_M)


# ---------------------------------------------------------------------------
# LOS probability, noise, conversions, Shannon
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance_m", "expected"),
    [
        (10.0, 1.0),
        (18.0, 1.0),
        # 18/100 + exp(-100/63) (1 - 18/100) = 0.18 + 0.204477 * 0.82 = 0.347671
        (100.0, 0.347671),
        # 18/500 + exp(-500/63) (1 - 18/500) = 0.036 + 0.000357 * 0.964 = 0.036345
        (500.0, 0.036345),
    ],
)
def test_los_probability(distance_m: float, expected: float) -> None:
    assert float(uma_los_probability(distance_m)) == pytest.approx(expected, abs=1e-6)


def test_los_probability_vectorised_and_bounded() -> None:
    distances_m = np.array([0.0, 10.0, 18.0, 18.001, 100.0, 500.0, 5000.0])
    probability = uma_los_probability(distances_m)
    assert probability.shape == distances_m.shape
    assert np.all((probability > 0.0) & (probability <= 1.0))
    assert np.all(np.diff(probability) <= 0.0)


def test_thermal_noise() -> None:
    # -174 dBm/Hz + 10 log10(10e6 Hz) + 9 dB = -174 + 70 + 9 = -95 dBm
    assert float(thermal_noise_dbm(10.0)) == pytest.approx(-95.0, abs=1e-12)
    # 20 MHz, NF 7 dB: -174 + 73.0103 + 7 = -93.9897 dBm
    assert float(thermal_noise_dbm(20.0, noise_figure_db=7.0)) == pytest.approx(-93.9897, abs=1e-4)
    np.testing.assert_allclose(thermal_noise_dbm(np.array([1.0, 100.0])), [-105.0, -85.0])


def test_decibel_conversions() -> None:
    np.testing.assert_allclose(db_to_linear([0.0, 10.0, -3.0]), [1.0, 10.0, 0.501187], rtol=1e-6)
    np.testing.assert_allclose(linear_to_db([1.0, 100.0, 2.0]), [0.0, 20.0, 3.010300], rtol=1e-6)
    # 30 dBm = 1000 mW, 1 mW = 0 dBm
    assert float(dbm_to_mw(30.0)) == pytest.approx(1000.0)
    assert float(mw_to_dbm(1.0)) == pytest.approx(0.0)
    values_db = np.linspace(-50.0, 50.0, 11)
    np.testing.assert_allclose(linear_to_db(db_to_linear(values_db)), values_db, atol=1e-12)


def test_linear_to_db_of_zero_is_minus_inf_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = linear_to_db(np.array([0.0, 1.0]))
        zero_mw = mw_to_dbm(0.0)
    assert result[0] == -np.inf
    assert float(zero_mw) == -np.inf


def test_shannon_spectral_efficiency() -> None:
    # log2(1 + 1) = 1 bit/s/Hz at 0 dB; log2(1 + 10) = 3.459432 at 10 dB
    assert float(shannon_spectral_efficiency(0.0)) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(
        shannon_spectral_efficiency([10.0, 20.0, -10.0]),
        [math.log2(11.0), math.log2(101.0), math.log2(1.1)],
        rtol=1e-12,
    )
    assert float(shannon_spectral_efficiency(10.0)) == pytest.approx(3.459432, abs=1e-6)
    assert float(shannon_spectral_efficiency(-np.inf)) == 0.0


# ---------------------------------------------------------------------------
# link-budget reach
# ---------------------------------------------------------------------------

EIRP_DBM = 61.0
NOISE_DBM = -95.0  # 10 MHz
SINR_MIN_DB = -5.0


def test_reach_returns_the_snr_boundary_for_each_band() -> None:
    frequencies = np.array(BANDS_GHZ)
    reach_m = link_budget_reach_m(EIRP_DBM, frequencies, NOISE_DBM, SINR_MIN_DB, BS_HEIGHT_M, UE_HEIGHT_M)
    assert reach_m.shape == (4,)
    assert np.all((reach_m > 10.0) & (reach_m < 50_000.0))

    snr_at_reach = EIRP_DBM - uma_path_loss_nlos_db(reach_m, frequencies, BS_HEIGHT_M, UE_HEIGHT_M) - NOISE_DBM
    np.testing.assert_allclose(snr_at_reach, SINR_MIN_DB, atol=0.01)
    assert np.all(snr_at_reach >= SINR_MIN_DB)
    # 1 cm further the link no longer closes
    snr_beyond = EIRP_DBM - uma_path_loss_nlos_db(reach_m + 0.01, frequencies, BS_HEIGHT_M, UE_HEIGHT_M) - NOISE_DBM
    assert np.all(snr_beyond < SINR_MIN_DB)

    # same EIRP: higher carrier frequency, shorter reach
    assert np.all(np.diff(reach_m) < 0.0)


def test_reach_hand_value_in_nlos_regime() -> None:
    # Allowed PL = 61 + 95 + 5 = 161 dB. At 1.8 GHz the NLOS' term dominates:
    # 13.54 + 39.08 log10(d_3D) + 20 log10(1.8) = 161
    # -> log10(d_3D) = (161 - 13.54 - 5.105450) / 39.08 = 3.642645, d_3D = 4391.82 m
    # -> d_2D = sqrt(4391.82^2 - 23.5^2) = 4391.76 m
    d_3d = 10 ** ((161.0 - 13.54 - 20.0 * math.log10(1.8)) / 39.08)
    expected_d_2d = math.sqrt(d_3d**2 - 23.5**2)
    assert expected_d_2d == pytest.approx(4391.76, abs=0.01)
    reach_m = float(link_budget_reach_m(EIRP_DBM, 1.8, NOISE_DBM, SINR_MIN_DB, BS_HEIGHT_M, UE_HEIGHT_M))
    assert reach_m == pytest.approx(expected_d_2d, abs=0.01)


def test_reach_limits() -> None:
    # so much power that 50 km still closes -> max_distance_m
    assert float(link_budget_reach_m(300.0, 1.8, NOISE_DBM, 0.0, BS_HEIGHT_M, UE_HEIGHT_M)) == 50_000.0
    assert float(
        link_budget_reach_m(300.0, 1.8, NOISE_DBM, 0.0, BS_HEIGHT_M, UE_HEIGHT_M, max_distance_m=2000.0)
    ) == 2000.0
    # so little power that even 10 m fails -> 0
    assert float(link_budget_reach_m(-60.0, 1.8, NOISE_DBM, 0.0, BS_HEIGHT_M, UE_HEIGHT_M)) == 0.0


def test_reach_broadcasts_over_bands_and_powers() -> None:
    eirp = np.array([40.0, 50.0, 60.0])[:, None]
    frequencies = np.array(BANDS_GHZ)[None, :]
    noise = thermal_noise_dbm(np.array([10.0, 20.0, 20.0, 40.0]))[None, :]
    reach_m = link_budget_reach_m(eirp, frequencies, noise, SINR_MIN_DB, BS_HEIGHT_M, UE_HEIGHT_M)
    assert reach_m.shape == (3, 4)
    assert np.all(np.diff(reach_m, axis=0) > 0.0)  # more power, more reach
    snr = eirp - uma_path_loss_nlos_db(reach_m, frequencies, BS_HEIGHT_M, UE_HEIGHT_M) - noise
    np.testing.assert_allclose(snr, SINR_MIN_DB, atol=0.01)
