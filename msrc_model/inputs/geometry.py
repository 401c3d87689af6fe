"""Planar geometry of a cluster of base-station sites.

All positions are Cartesian coordinates in metres (m) on a flat plane, all
distances are in metres (m) and all areas in square metres (m^2).  Every
function is vectorised with numpy and broadcasts over array inputs; scalar
inputs give 0-d arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "assistance_potential",
    "circle_intersection_area_m2",
    "hex_site_positions",
    "nearest_neighbour_distance_m",
    "pairwise_distances_m",
]

FloatArray = npt.NDArray[np.floating]
ArrayLike = npt.ArrayLike


def hex_site_positions(rings: int, isd_m: float) -> FloatArray:
    """Site positions of a hexagonal grid, ring by ring.

    The grid uses axial coordinates ``(q, r)`` with
    ``x = isd_m * (q + r / 2)`` and ``y = isd_m * sqrt(3) / 2 * r``; ring
    ``k`` holds the sites with ``max(|q|, |r|, |q + r|) == k``.

    Parameters
    ----------
    rings : int
        Number of rings around the centre site, >= 0.
    isd_m : float
        Inter-site distance between neighbouring sites, in m (> 0).

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n, 2)`` with columns ``x_m`` and ``y_m`` (m), where
        ``n = 1 + 3 * rings * (rings + 1)``.  The centre site ``(0, 0)`` comes
        first, then ring 1 (6 sites), ring 2 (12 sites), and so on.  Within a
        ring the sites are ordered by their angle counter-clockwise from the
        +x axis, starting at the site on the +x axis.

    Raises
    ------
    ValueError
        If ``rings`` is negative or not an integer, or ``isd_m`` is not a
        positive finite number.
    """
    rings_count = int(rings)
    if rings_count != rings or rings_count < 0:
        raise ValueError(f"rings must be a non-negative integer, got {rings!r}")
    isd = float(isd_m)
    if not np.isfinite(isd) or isd <= 0.0:
        raise ValueError(f"isd_m must be a positive finite distance in m, got {isd_m!r}")

    axis = np.arange(-rings_count, rings_count + 1)
    q_grid, r_grid = np.meshgrid(axis, axis, indexing="ij")
    ring_index = np.maximum.reduce([np.abs(q_grid), np.abs(r_grid), np.abs(q_grid + r_grid)])
    inside = ring_index <= rings_count
    q = q_grid[inside]
    r = r_grid[inside]
    ring = ring_index[inside]

    # Coordinates in units of the inter-site distance; the order is decided
    # on these so that it does not depend on isd_m.
    x_unit = q + 0.5 * r
    y_unit = (np.sqrt(3.0) / 2.0) * r
    angle_rad = np.mod(np.arctan2(y_unit, x_unit), 2.0 * np.pi)
    # Sites exactly on the +x axis have y == 0 and angle 0; round the angle so
    # that tiny floating-point noise cannot move a site to the end of its ring.
    angle_rad = np.where(np.isclose(angle_rad, 2.0 * np.pi, rtol=0.0, atol=1e-12), 0.0, angle_rad)
    order = np.lexsort((angle_rad, ring))

    return np.column_stack((isd * x_unit[order], isd * y_unit[order]))


def _as_points(points: ArrayLike, name: str, dtype: npt.DTypeLike) -> np.ndarray:
    """Return ``points`` as an ``(n, 2)`` array of the given dtype."""
    array = np.atleast_2d(np.asarray(points, dtype=dtype))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {np.shape(points)}")
    return array


def pairwise_distances_m(
    a: ArrayLike,
    b: ArrayLike,
    *,
    dtype: npt.DTypeLike = np.float64,
) -> FloatArray:
    """Euclidean distances between every point of ``a`` and every point of ``b``.

    Parameters
    ----------
    a : array_like
        Points of shape ``(n, 2)`` (x, y) in m; a single point ``(2,)`` is
        treated as ``(1, 2)``.
    b : array_like
        Points of shape ``(m, 2)`` (x, y) in m; a single point ``(2,)`` is
        treated as ``(1, 2)``.
    dtype : numpy dtype, optional
        Floating-point type of the computation and of the result; use
        ``numpy.float32`` to halve the memory of large matrices.  Default
        ``numpy.float64``.

    Returns
    -------
    numpy.ndarray
        Distances of shape ``(n, m)`` in m; element ``[i, j]`` is the distance
        between ``a[i]`` and ``b[j]``.

    Raises
    ------
    ValueError
        If an input does not have two columns.
    """
    points_a = _as_points(a, "a", dtype)
    points_b = _as_points(b, "b", dtype)
    delta_x = points_a[:, 0, np.newaxis] - points_b[np.newaxis, :, 0]
    delta_y = points_a[:, 1, np.newaxis] - points_b[np.newaxis, :, 1]
    return np.hypot(delta_x, delta_y, out=delta_x)


def circle_intersection_area_m2(
    r1_m: ArrayLike,
    r2_m: ArrayLike,
    distance_m: ArrayLike,
) -> FloatArray:
    """Area of the lens in which two disks overlap.

    Uses the closed form

    ``A = r1^2 acos(c1) + r2^2 acos(c2) - sqrt((-d+r1+r2)(d+r1-r2)(d-r1+r2)(d+r1+r2)) / 2``

    with ``c1 = (d^2 + r1^2 - r2^2) / (2 d r1)`` and
    ``c2 = (d^2 + r2^2 - r1^2) / (2 d r2)`` for partial overlap.

    Parameters
    ----------
    r1_m : array_like
        Radius of the first disk, in m (>= 0).
    r2_m : array_like
        Radius of the second disk, in m (>= 0).
    distance_m : array_like
        Distance between the two centres, in m (>= 0).

    Returns
    -------
    numpy.ndarray
        Overlap area in m^2, broadcast over the three inputs: 0 where
        ``d >= r1 + r2`` (disjoint or touching, including zero radii),
        ``pi * min(r1, r2)^2`` where ``d <= |r1 - r2|`` (one disk inside the
        other) and the lens area otherwise.

    Raises
    ------
    ValueError
        If a radius or the distance is negative.
    """
    r1 = np.asarray(r1_m, dtype=float)
    r2 = np.asarray(r2_m, dtype=float)
    d = np.asarray(distance_m, dtype=float)
    if np.any(r1 < 0.0) or np.any(r2 < 0.0):
        raise ValueError("disk radii must be non-negative (m)")
    if np.any(d < 0.0):
        raise ValueError("distance_m must be non-negative (m)")
    r1, r2, d = np.broadcast_arrays(r1, r2, d)

    disjoint = d >= r1 + r2
    contained = d <= np.abs(r1 - r2)
    partial = ~(disjoint | contained)

    # In the partial-overlap case d, r1 and r2 are all > 0; elsewhere use 1 to
    # keep the divisions finite, the value is discarded by np.where below.
    d_safe = np.where(partial, d, 1.0)
    r1_safe = np.where(partial, r1, 1.0)
    r2_safe = np.where(partial, r2, 1.0)
    cos_1 = np.clip((d_safe**2 + r1_safe**2 - r2_safe**2) / (2.0 * d_safe * r1_safe), -1.0, 1.0)
    cos_2 = np.clip((d_safe**2 + r2_safe**2 - r1_safe**2) / (2.0 * d_safe * r2_safe), -1.0, 1.0)
    kite_product = (
        (-d_safe + r1_safe + r2_safe)
        * (d_safe + r1_safe - r2_safe)
        * (d_safe - r1_safe + r2_safe)
        * (d_safe + r1_safe + r2_safe)
    )
    lens_m2 = (
        r1_safe**2 * np.arccos(cos_1)
        + r2_safe**2 * np.arccos(cos_2)
        - 0.5 * np.sqrt(np.maximum(kite_product, 0.0))
    )
    # Rounding may push the lens a hair outside its exact bounds.
    smaller_disk_m2 = np.pi * np.minimum(r1, r2) ** 2
    lens_m2 = np.clip(lens_m2, 0.0, smaller_disk_m2)

    # A zero radius falls in the "disjoint" or "contained" case and gives 0.
    area_m2 = np.where(contained, smaller_disk_m2, np.where(partial, lens_m2, 0.0))
    return np.asarray(area_m2)


def assistance_potential(
    distance_m: ArrayLike,
    helper_radius_m: ArrayLike,
    assisted_radius_m: ArrayLike,
) -> FloatArray:
    """Assistance potential of a helper site towards an assisted site, Eq. (1).

    ``kappa_ij = |A_i^exp ∩ A_j^nom| / |A_j^nom|``, where ``A_i^exp`` is the
    disk of radius ``helper_radius_m`` around helper site ``i`` (its expanded
    coverage) and ``A_j^nom`` the disk of radius ``assisted_radius_m`` around
    the assisted site ``j`` (its nominal coverage).  It is the fraction of the
    assisted site's nominal area that the helper can reach.

    Parameters
    ----------
    distance_m : array_like
        Distance between helper and assisted site, in m (>= 0).
    helper_radius_m : array_like
        Radius of the helper's expanded coverage disk, in m (>= 0).
    assisted_radius_m : array_like
        Radius of the assisted site's nominal coverage disk, in m (>= 0).

    Returns
    -------
    numpy.ndarray
        Dimensionless ``kappa`` in ``[0, 1]``, broadcast over the inputs;
        0 where ``assisted_radius_m == 0``.

    Raises
    ------
    ValueError
        If a radius or the distance is negative.
    """
    assisted_radius = np.asarray(assisted_radius_m, dtype=float)
    overlap_m2 = circle_intersection_area_m2(helper_radius_m, assisted_radius, distance_m)
    nominal_area_m2 = np.pi * assisted_radius**2
    has_area = nominal_area_m2 > 0.0
    ratio = overlap_m2 / np.where(has_area, nominal_area_m2, 1.0)
    return np.asarray(np.where(has_area, np.clip(ratio, 0.0, 1.0), 0.0))


def nearest_neighbour_distance_m(positions: ArrayLike) -> FloatArray:
    """Distance from every site to its closest other site.

    Parameters
    ----------
    positions : array_like
        Site positions of shape ``(n, 2)`` (x, y) in m.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n,)`` with the nearest-neighbour distance of each
        site in m; ``inf`` when there is a single site.  Two sites at the same
        position are 0 m apart.

    Notes
    -----
    Builds the full ``(n, n)`` distance matrix, so memory grows with ``n^2``;
    this is meant for site layouts (hundreds to a few thousand sites).
    """
    points = _as_points(positions, "positions", np.float64)
    if points.shape[0] == 0:
        return np.empty(0, dtype=float)
    distances_m = pairwise_distances_m(points, points)
    np.fill_diagonal(distances_m, np.inf)
    return distances_m.min(axis=1)
