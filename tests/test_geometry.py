"""Tests of msrc_model.inputs.geometry against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from msrc_model.inputs.geometry import (
    assistance_potential,
    circle_intersection_area_m2,
    hex_site_positions,
    nearest_neighbour_distance_m,
    pairwise_distances_m,
)

ISD_M = 500.0


# ---------------------------------------------------------------------------
# hex_site_positions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rings", "expected_sites"),
    [(0, 1), (1, 7), (2, 19), (12, 469)],  # 1 + 3 * rings * (rings + 1)
)
def test_hex_site_count(rings: int, expected_sites: int) -> None:
    positions = hex_site_positions(rings, ISD_M)
    assert positions.shape == (expected_sites, 2)


def test_hex_sites_are_distinct() -> None:
    positions = hex_site_positions(12, ISD_M)
    unique_rows = np.unique(np.round(positions, 6), axis=0)
    assert unique_rows.shape[0] == positions.shape[0]


def test_hex_centre_first_and_distances_from_centre_for_two_rings() -> None:
    positions = hex_site_positions(2, ISD_M)
    np.testing.assert_allclose(positions[0], [0.0, 0.0], atol=1e-9)

    distances_m = np.hypot(positions[1:, 0], positions[1:, 1])
    # ring 1: 500 m (6 sites); ring 2: 500 * sqrt(3) = 866.0254 m (6 sites on
    # the diagonals) and 2 * 500 = 1000 m (6 corner sites)
    values, counts = np.unique(np.round(distances_m, 2), return_counts=True)
    np.testing.assert_allclose(values, [500.0, 866.03, 1000.0])
    np.testing.assert_array_equal(counts, [6, 6, 6])


def test_hex_rings_are_in_order_and_counter_clockwise() -> None:
    positions = hex_site_positions(2, ISD_M)
    distances_m = np.hypot(positions[:, 0], positions[:, 1])
    # sites 1..6 are ring 1 (all at 500 m), sites 7..18 ring 2 (>= 866 m)
    np.testing.assert_allclose(distances_m[1:7], 500.0)
    assert np.all(distances_m[7:] > 866.0)

    # ring 1 starts on the +x axis and turns counter-clockwise in 60 degree steps
    expected_ring_1 = [
        [500.0 * math.cos(math.radians(angle)), 500.0 * math.sin(math.radians(angle))]
        for angle in (0, 60, 120, 180, 240, 300)
    ]
    np.testing.assert_allclose(positions[1:7], expected_ring_1, atol=1e-9)

    # ring 2 also starts on the +x axis, at (1000, 0), then (750, 433.01)
    # = 500 * (1 + 1/2, sqrt(3)/2 * 1) ... with increasing angle
    np.testing.assert_allclose(positions[7], [1000.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(positions[8], [750.0, 433.0127], atol=1e-4)
    ring_2_angles = np.mod(np.arctan2(positions[7:, 1], positions[7:, 0]), 2 * np.pi)
    assert np.all(np.diff(ring_2_angles) > 0.0)


def test_hex_scales_with_isd() -> None:
    np.testing.assert_allclose(hex_site_positions(3, 1000.0), 2.0 * hex_site_positions(3, 500.0))


@pytest.mark.parametrize("rings", [-1, 1.5])
def test_hex_rejects_bad_rings(rings: float) -> None:
    with pytest.raises(ValueError):
        hex_site_positions(rings, ISD_M)  # type: ignore[arg-type]


def test_hex_rejects_non_positive_isd() -> None:
    with pytest.raises(ValueError):
        hex_site_positions(2, 0.0)


# ---------------------------------------------------------------------------
# pairwise and nearest-neighbour distances
# ---------------------------------------------------------------------------


def test_pairwise_distances_hand_values() -> None:
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 0.0], [6.0, 8.0], [-5.0, 12.0]])
    distances_m = pairwise_distances_m(a, b)
    expected = np.array(
        [
            [0.0, 10.0, 13.0],  # sqrt(6^2 + 8^2) = 10, sqrt(5^2 + 12^2) = 13
            [5.0, 5.0, math.sqrt(8.0**2 + 8.0**2)],  # (3,4)-(-5,12): dx=-8, dy=8
        ]
    )
    assert distances_m.shape == (2, 3)
    assert distances_m.dtype == np.float64
    np.testing.assert_allclose(distances_m, expected)


def test_pairwise_distances_float32() -> None:
    rng = np.random.default_rng(7)
    a = rng.uniform(-3000.0, 3000.0, size=(50, 2))
    b = rng.uniform(-3000.0, 3000.0, size=(20, 2))
    distances_32 = pairwise_distances_m(a, b, dtype=np.float32)
    distances_64 = pairwise_distances_m(a, b)
    assert distances_32.dtype == np.float32
    np.testing.assert_allclose(distances_32, distances_64, rtol=1e-5)


def test_pairwise_distances_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError):
        pairwise_distances_m(np.zeros((4, 3)), np.zeros((2, 2)))


def test_nearest_neighbour_distance_in_hex_grid_equals_isd() -> None:
    for rings in (1, 2, 5):
        nearest_m = nearest_neighbour_distance_m(hex_site_positions(rings, ISD_M))
        np.testing.assert_allclose(nearest_m, ISD_M)


def test_nearest_neighbour_distance_hand_values() -> None:
    positions = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 10.0]])
    # 0-1: 5, 1-2: 6, 0-2: sqrt(9 + 100) = 10.44
    np.testing.assert_allclose(nearest_neighbour_distance_m(positions), [5.0, 5.0, 6.0])


def test_nearest_neighbour_distance_single_site_is_inf() -> None:
    assert np.isinf(nearest_neighbour_distance_m(np.array([[1.0, 2.0]]))).all()


# ---------------------------------------------------------------------------
# lens area
# ---------------------------------------------------------------------------


def lens_area_by_integration(r1: float, r2: float, d: float) -> float:
    """Overlap of disk (0, 0, r1) and disk (d, 0, r2) by integrating its height over x."""

    def half_height(x: float, centre: float, radius: float) -> float:
        return math.sqrt(max(radius**2 - (x - centre) ** 2, 0.0))

    def overlap_height(x: float) -> float:
        return 2.0 * min(half_height(x, 0.0, r1), half_height(x, d, r2))

    x_start = max(-r1, d - r2)
    x_end = min(r1, d + r2)
    if x_end <= x_start:
        return 0.0
    # the two circles cross at x = (d^2 + r1^2 - r2^2) / (2 d): a kink
    kinks = [(d**2 + r1**2 - r2**2) / (2.0 * d)] if d > 0 else []
    kinks = [x for x in kinks if x_start < x < x_end]
    area, _ = integrate.quad(overlap_height, x_start, x_end, points=kinks or None, limit=200)
    return area


@pytest.mark.parametrize(
    ("r1", "r2", "d"),
    [
        (1.0, 1.0, 1.0),  # partial overlap, equal radii
        (1000.0, 1000.0, 1500.0),  # partial overlap, equal radii, thin lens
        (3.0, 2.0, 4.0),  # partial overlap, unequal radii
        (1000.0, 288.675, 1000.0),  # partial, small disk centre on big circle
        (1000.0, 288.675, 1200.0),  # partial, small disk mostly outside
        (5.0, 2.0, 1.0),  # small disk contained
        (2.0, 5.0, 2.5),  # contained, radii swapped
        (1.0, 2.0, 4.0),  # disjoint
    ],
)
def test_lens_area_matches_numerical_integration(r1: float, r2: float, d: float) -> None:
    expected = lens_area_by_integration(r1, r2, d)
    actual = float(circle_intersection_area_m2(r1, r2, d))
    assert actual == pytest.approx(expected, rel=1e-3, abs=1e-9)


def test_lens_area_hand_values() -> None:
    # unit disks one radius apart: 2 pi / 3 - sqrt(3) / 2 = 1.228370
    assert float(circle_intersection_area_m2(1.0, 1.0, 1.0)) == pytest.approx(1.228370, rel=1e-6)
    # contained: pi * 2^2 = 12.566371
    assert float(circle_intersection_area_m2(5.0, 2.0, 1.0)) == pytest.approx(12.566371, rel=1e-6)
    # disjoint and exactly touching: 0
    assert float(circle_intersection_area_m2(1.0, 2.0, 4.0)) == 0.0
    assert float(circle_intersection_area_m2(1.0, 2.0, 3.0)) == 0.0


def test_lens_area_broadcasts_and_is_symmetric() -> None:
    distances_m = np.linspace(0.0, 5.0, 11)
    radius_1 = np.array([[1.0], [2.0], [3.0]])
    area_12 = circle_intersection_area_m2(radius_1, 2.0, distances_m)
    area_21 = circle_intersection_area_m2(2.0, radius_1, distances_m)
    assert area_12.shape == (3, 11)
    np.testing.assert_allclose(area_12, area_21)
    # the overlap shrinks as the centres move apart
    assert np.all(np.diff(area_12, axis=1) <= 1e-12)


def test_lens_area_continuous_at_case_boundaries() -> None:
    r1, r2 = 3.0, 2.0
    eps = 1e-7
    # at d = |r1 - r2| = 1 the lens equals the small disk, pi * 4
    assert float(circle_intersection_area_m2(r1, r2, 1.0 + eps)) == pytest.approx(4.0 * math.pi, rel=1e-5)
    # at d = r1 + r2 = 5 the lens vanishes
    assert float(circle_intersection_area_m2(r1, r2, 5.0 - eps)) == pytest.approx(0.0, abs=1e-6)


def test_lens_area_zero_radii() -> None:
    np.testing.assert_array_equal(
        circle_intersection_area_m2([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]),
        [0.0, 0.0, 0.0],
    )


def test_lens_area_rejects_negative_inputs() -> None:
    with pytest.raises(ValueError):
        circle_intersection_area_m2(-1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        circle_intersection_area_m2(1.0, 1.0, -1.0)


# ---------------------------------------------------------------------------
# assistance potential, Eq. (1)
# ---------------------------------------------------------------------------

HELPER_RADIUS_M = 1000.0
NOMINAL_RADIUS_M = 500.0 / math.sqrt(3.0)  # 288.675 m


def test_kappa_is_one_when_nominal_disk_is_inside_expanded_disk() -> None:
    # d = 500 <= 1000 - 288.675 = 711.3: the whole nominal disk is covered
    kappa = assistance_potential(500.0, HELPER_RADIUS_M, NOMINAL_RADIUS_M)
    assert float(kappa) == 1.0


def test_kappa_at_one_helper_radius() -> None:
    # d = 1000 m = R: the assisted site sits on the helper's boundary.
    # R = 1000, r = 288.675, d = 1000:
    # c_R = (d^2 + R^2 - r^2) / (2 d R) = 0.958333, acos = 0.289687 rad
    # c_r = (d^2 + r^2 - R^2) / (2 d r) = 0.144338, acos = 1.425953 rad
    # lens = R^2 * 0.289687 + r^2 * 1.425953 - sqrt(...) / 2 = 122864.1 m^2
    # kappa = lens / (pi r^2) = 122864.1 / 261799.4 = 0.469306 (a bit under 1/2,
    # because the helper's boundary curves away from the assisted disk)
    kappa = assistance_potential(1000.0, HELPER_RADIUS_M, NOMINAL_RADIUS_M)
    assert float(kappa) == pytest.approx(0.469306, rel=1e-5)


def test_kappa_matches_scalar_formula() -> None:
    R, r, d = HELPER_RADIUS_M, NOMINAL_RADIUS_M, 1200.0
    term_r_big = R**2 * math.acos((d**2 + R**2 - r**2) / (2 * d * R))
    term_r_small = r**2 * math.acos((d**2 + r**2 - R**2) / (2 * d * r))
    kite = 0.5 * math.sqrt((-d + R + r) * (d + R - r) * (d - R + r) * (d + R + r))
    expected = (term_r_big + term_r_small - kite) / (math.pi * r**2)  # = 0.087324
    assert expected == pytest.approx(0.087324, rel=1e-5)
    assert float(assistance_potential(d, R, r)) == pytest.approx(expected, rel=1e-9)


def test_kappa_range_and_broadcasting() -> None:
    distances_m = np.array([0.0, 500.0, 1000.0, 1200.0, 1288.675, 2000.0])
    kappa = assistance_potential(distances_m[:, None], HELPER_RADIUS_M, np.array([NOMINAL_RADIUS_M, 600.0]))
    assert kappa.shape == (6, 2)
    assert np.all((kappa >= 0.0) & (kappa <= 1.0))
    assert np.all(np.diff(kappa, axis=0) <= 1e-12)
    np.testing.assert_allclose(kappa[-1], 0.0)  # 2000 m > 1000 + 600
    np.testing.assert_allclose(kappa[0], 1.0)


def test_kappa_zero_when_assisted_has_no_nominal_area() -> None:
    assert float(assistance_potential(100.0, HELPER_RADIUS_M, 0.0)) == 0.0
