"""Radio channel and link-budget helpers.

Large-scale path loss of the 3GPP TR 38.901 Urban Macro (UMa) scenario
(Table 7.4.1-1), its line-of-sight probability (Table 7.4.2-1), thermal noise,
decibel conversions. Shannon spectral efficiency lives with the rest of the
service physics in :mod:`msrc_model.physics.service` and is re-exported here.

Units: distances and heights in m, carrier frequencies in GHz, bandwidths in
MHz, powers in dBm or mW, gains and losses in dB, spectral efficiency in
bit/s/Hz.  Every function is vectorised with numpy and broadcasts over array
inputs; scalar inputs give 0-d arrays.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..physics import numeric
from ..physics.numeric import db_to_linear, linear_to_db  # the dB conversions live in physics
from ..physics.service import shannon_spectral_efficiency

__all__ = [
    "SPEED_OF_LIGHT_M_PER_S",
    "db_to_linear",
    "dbm_to_mw",
    "link_budget_reach_m",
    "linear_to_db",
    "mw_to_dbm",
    "shannon_spectral_efficiency",
    "thermal_noise_dbm",
    "uma_breakpoint_distance_m",
    "uma_los_probability",
    "uma_path_loss_los_db",
    "uma_path_loss_nlos_db",
]

FloatArray = npt.NDArray[np.floating]
ArrayLike = npt.ArrayLike

SPEED_OF_LIGHT_M_PER_S: float = 299_792_458.0
"""Speed of light in vacuum, in m/s."""

MIN_DISTANCE_2D_M: float = 10.0
"""Smallest 2-D distance of the UMa path-loss model, in m; shorter distances are clamped."""

LOS_PROBABILITY_NEAR_M: float = 18.0
"""2-D distance up to which the UMa link is always line of sight, in m."""

LOS_PROBABILITY_DECAY_M: float = 63.0
"""Decay distance of the UMa line-of-sight probability, in m."""


def _as_float(value: ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _require_positive(name: str, value: FloatArray) -> None:
    if np.any(value <= 0.0):
        raise ValueError(f"{name} must be positive")


def uma_breakpoint_distance_m(
    frequency_ghz: ArrayLike,
    bs_height_m: ArrayLike,
    ue_height_m: ArrayLike,
    environment_height_m: ArrayLike = 1.0,
) -> FloatArray:
    """Effective breakpoint distance of the UMa LOS path loss.

    ``d'_BP = 4 * h'_BS * h'_UT * f_c / c`` with effective antenna heights
    ``h' = h - h_E`` and ``f_c`` in Hz (TR 38.901, note 1 of Table 7.4.1-1).

    Parameters
    ----------
    frequency_ghz : array_like
        Carrier frequency, in GHz (> 0).
    bs_height_m : array_like
        Base-station antenna height, in m.
    ue_height_m : array_like
        User-terminal antenna height, in m.
    environment_height_m : array_like, optional
        Effective environment height ``h_E``, in m.  Default 1.0 m.

    Returns
    -------
    numpy.ndarray
        Breakpoint distance ``d'_BP`` in m.
    """
    frequency = _as_float(frequency_ghz)
    _require_positive("frequency_ghz", frequency)
    effective_bs_height_m = _as_float(bs_height_m) - _as_float(environment_height_m)
    effective_ue_height_m = _as_float(ue_height_m) - _as_float(environment_height_m)
    frequency_hz = frequency * 1e9
    return np.asarray(
        4.0 * effective_bs_height_m * effective_ue_height_m * frequency_hz / SPEED_OF_LIGHT_M_PER_S
    )


def _distance_dtype(distance_2d_m: ArrayLike) -> np.dtype[np.floating]:
    """float32 when the distances already are float32, float64 otherwise."""
    dtype = np.asarray(distance_2d_m).dtype
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _uma_path_loss_db(
    distance_2d_m: ArrayLike,
    frequency_ghz: ArrayLike,
    bs_height_m: ArrayLike,
    ue_height_m: ArrayLike,
    *,
    include_nlos: bool,
    line_of_sight: ArrayLike | None = None,
) -> np.ndarray:
    """UMa LOS path loss, or NLOS path loss when ``include_nlos``, in dB.

    ``log10(d_3D)`` is computed once per link; the per-band terms are computed
    in float64 and then cast to the dtype of the distances, so a float32
    distance matrix gives a float32 result.
    """
    frequency = _as_float(frequency_ghz)
    _require_positive("frequency_ghz", frequency)
    bs_height = _as_float(bs_height_m)
    ue_height = _as_float(ue_height_m)
    dtype = _distance_dtype(distance_2d_m)

    breakpoint_m = uma_breakpoint_distance_m(frequency, bs_height, ue_height)
    height_difference_sq = (bs_height - ue_height) ** 2
    frequency_term_db = 20.0 * numeric.log10(frequency)
    near_offset_db = (28.0 + frequency_term_db).astype(dtype)
    far_offset_db = (
        28.0 + frequency_term_db - 9.0 * numeric.log10(breakpoint_m**2 + height_difference_sq)
    ).astype(dtype)

    distance_2d = np.maximum(np.asarray(distance_2d_m, dtype=dtype), dtype.type(MIN_DISTANCE_2D_M))
    # log10(d_3D) = 0.5 * log10(d_2D^2 + (h_BS - h_UT)^2)
    log_distance_3d = (dtype.type(0.5) * numeric.log10(np.square(distance_2d) + height_difference_sq.astype(dtype))).astype(dtype)

    before_breakpoint = distance_2d <= breakpoint_m.astype(dtype)
    path_loss_db = np.where(
        before_breakpoint,
        near_offset_db + dtype.type(22.0) * log_distance_3d,
        far_offset_db + dtype.type(40.0) * log_distance_3d,
    )
    if include_nlos:
        nlos_offset_db = (13.54 + frequency_term_db - 0.6 * (ue_height - 1.5)).astype(dtype)
        path_loss_nlos_only_db = nlos_offset_db + dtype.type(39.08) * log_distance_3d
        nlos_db = np.maximum(path_loss_db, path_loss_nlos_only_db)
        path_loss_db = nlos_db if line_of_sight is None else np.where(line_of_sight, path_loss_db, nlos_db)
    return np.asarray(path_loss_db)


def uma_path_loss_los_db(
    distance_2d_m: ArrayLike,
    frequency_ghz: ArrayLike,
    bs_height_m: ArrayLike,
    ue_height_m: ArrayLike,
) -> FloatArray:
    """Median UMa line-of-sight path loss (TR 38.901 Table 7.4.1-1).

    ``PL1 = 28.0 + 22 log10(d_3D) + 20 log10(f_c)`` for ``d_2D <= d'_BP`` and
    ``PL2 = 28.0 + 40 log10(d_3D) + 20 log10(f_c) - 9 log10(d'_BP^2 + (h_BS - h_UT)^2)``
    beyond, with ``d_3D = sqrt(d_2D^2 + (h_BS - h_UT)^2)`` in m, ``f_c`` in GHz
    and ``d'_BP`` from :func:`uma_breakpoint_distance_m` (``h_E = 1 m``).
    No shadow fading is added.

    Parameters
    ----------
    distance_2d_m : array_like
        Horizontal base-station to user distance, in m; values below 10 m are
        clamped to 10 m.  The model is specified up to 5 km and extrapolated
        beyond.  A float32 array gives a float32 result (to save memory on
        large user-by-site matrices); anything else is computed in float64.
    frequency_ghz : array_like
        Carrier frequency, in GHz (> 0).
    bs_height_m : array_like
        Base-station antenna height, in m.
    ue_height_m : array_like
        User-terminal antenna height, in m.

    Returns
    -------
    numpy.ndarray
        Path loss in dB, broadcast over the inputs.
    """
    return _uma_path_loss_db(
        distance_2d_m, frequency_ghz, bs_height_m, ue_height_m, include_nlos=False
    )


def uma_path_loss_nlos_db(
    distance_2d_m: ArrayLike,
    frequency_ghz: ArrayLike,
    bs_height_m: ArrayLike,
    ue_height_m: ArrayLike,
) -> FloatArray:
    """Median UMa non-line-of-sight path loss (TR 38.901 Table 7.4.1-1).

    ``PL_NLOS = max(PL_LOS, 13.54 + 39.08 log10(d_3D) + 20 log10(f_c) - 0.6 (h_UT - 1.5))``
    with ``d_3D`` in m, ``f_c`` in GHz and ``PL_LOS`` from
    :func:`uma_path_loss_los_db`.  No shadow fading is added.

    Parameters
    ----------
    distance_2d_m : array_like
        Horizontal base-station to user distance, in m; values below 10 m are
        clamped to 10 m.  A float32 array gives a float32 result; anything
        else is computed in float64.
    frequency_ghz : array_like
        Carrier frequency, in GHz (> 0).
    bs_height_m : array_like
        Base-station antenna height, in m.
    ue_height_m : array_like
        User-terminal antenna height, in m.

    Returns
    -------
    numpy.ndarray
        Path loss in dB, broadcast over the inputs.
    """
    return _uma_path_loss_db(
        distance_2d_m, frequency_ghz, bs_height_m, ue_height_m, include_nlos=True
    )


def uma_path_loss_db(
    distance_2d_m: ArrayLike,
    frequency_ghz: ArrayLike,
    bs_height_m: ArrayLike,
    ue_height_m: ArrayLike,
    line_of_sight: ArrayLike,
) -> FloatArray:
    """Median UMa path loss of links in a known LOS state, in dB.

    Equal to :func:`uma_path_loss_los_db` where ``line_of_sight`` is true and
    to :func:`uma_path_loss_nlos_db` elsewhere, computed in one pass (one
    logarithm per link), which matters on large user-by-site matrices.

    Parameters
    ----------
    distance_2d_m, frequency_ghz, bs_height_m, ue_height_m : array_like
        As in :func:`uma_path_loss_los_db` (m, GHz, m, m).
    line_of_sight : array_like of bool
        LOS state of each link, broadcast with the distances.
    """
    return _uma_path_loss_db(
        distance_2d_m, frequency_ghz, bs_height_m, ue_height_m, include_nlos=True, line_of_sight=line_of_sight
    )


def uma_los_probability(distance_2d_m: ArrayLike) -> FloatArray:
    """Line-of-sight probability of the UMa scenario (TR 38.901 Table 7.4.2-1).

    ``P_LOS = 1`` for ``d_2D <= 18 m``, else
    ``18 / d_2D + exp(-d_2D / 63) * (1 - 18 / d_2D)``, valid for user heights
    up to 13 m.

    Parameters
    ----------
    distance_2d_m : array_like
        Horizontal base-station to user distance, in m.

    Returns
    -------
    numpy.ndarray
        Dimensionless probability in ``[0, 1]``.
    """
    distance_2d = _as_float(distance_2d_m)
    beyond = np.maximum(distance_2d, LOS_PROBABILITY_NEAR_M)
    near_ratio = LOS_PROBABILITY_NEAR_M / beyond
    probability = near_ratio + numeric.exp(-beyond / LOS_PROBABILITY_DECAY_M) * (1.0 - near_ratio)
    return np.asarray(np.where(distance_2d <= LOS_PROBABILITY_NEAR_M, 1.0, probability))


def thermal_noise_dbm(
    bandwidth_mhz: ArrayLike,
    noise_psd_dbm_per_hz: ArrayLike = -174.0,
    noise_figure_db: ArrayLike = 9.0,
) -> FloatArray:
    """Thermal noise power at the receiver.

    ``N = PSD + 10 log10(B) + NF`` with ``B`` in Hz.

    Parameters
    ----------
    bandwidth_mhz : array_like
        Receiver bandwidth, in MHz (> 0).
    noise_psd_dbm_per_hz : array_like, optional
        Noise power spectral density, in dBm/Hz.  Default -174.0 dBm/Hz.
    noise_figure_db : array_like, optional
        Receiver noise figure, in dB.  Default 9.0 dB.

    Returns
    -------
    numpy.ndarray
        Noise power in dBm.
    """
    bandwidth = _as_float(bandwidth_mhz)
    _require_positive("bandwidth_mhz", bandwidth)
    return np.asarray(
        _as_float(noise_psd_dbm_per_hz) + 10.0 * numeric.log10(bandwidth * 1e6) + _as_float(noise_figure_db)
    )


def dbm_to_mw(power_dbm: ArrayLike) -> FloatArray:
    """Convert a power in dBm to mW.

    Parameters
    ----------
    power_dbm : array_like
        Power in dBm.

    Returns
    -------
    numpy.ndarray
        Power in mW.
    """
    return db_to_linear(power_dbm)


def mw_to_dbm(power_mw: ArrayLike) -> FloatArray:
    """Convert a power in mW to dBm.

    Parameters
    ----------
    power_mw : array_like
        Power in mW (>= 0).

    Returns
    -------
    numpy.ndarray
        Power in dBm; 0 mW gives ``-inf`` without a runtime warning.
    """
    return linear_to_db(power_mw)


def link_budget_reach_m(
    eirp_dbm: ArrayLike,
    frequency_ghz: ArrayLike,
    noise_dbm: ArrayLike,
    sinr_min_db: ArrayLike,
    bs_height_m: ArrayLike,
    ue_height_m: ArrayLike,
    max_distance_m: float = 50_000.0,
) -> FloatArray:
    """Largest 2-D distance at which the median NLOS link still closes.

    Solves ``eirp_dbm - PL_NLOS(d) - noise_dbm >= sinr_min_db`` for the
    largest ``d`` in ``[10 m, max_distance_m]`` with
    :func:`uma_path_loss_nlos_db` (no shadowing, no interference).  The path
    loss grows monotonically with distance, so the boundary is found by a
    vectorised bisection on ``log(d)`` with a fixed number of iterations,
    chosen so the result is within 0.01 m of the boundary and on its
    feasible side.

    Parameters
    ----------
    eirp_dbm : array_like
        Effective isotropic radiated power, in dBm.
    frequency_ghz : array_like
        Carrier frequency, in GHz (> 0).
    noise_dbm : array_like
        Noise power at the receiver, in dBm.
    sinr_min_db : array_like
        Smallest usable signal-to-noise ratio, in dB.
    bs_height_m : array_like
        Base-station antenna height, in m.
    ue_height_m : array_like
        User-terminal antenna height, in m.
    max_distance_m : float, optional
        Upper end of the search, in m (>= 10 m).  Default 50 000 m.

    Returns
    -------
    numpy.ndarray
        Reach in m, broadcast over the inputs: ``max_distance_m`` where even
        that distance closes the link, 0.0 where even 10 m does not, and NaN
        where an input is NaN.
    """
    eirp = _as_float(eirp_dbm)
    frequency = _as_float(frequency_ghz)
    noise = _as_float(noise_dbm)
    sinr_min = _as_float(sinr_min_db)
    bs_height = _as_float(bs_height_m)
    ue_height = _as_float(ue_height_m)
    upper_limit_m = float(max_distance_m)
    if not upper_limit_m >= MIN_DISTANCE_2D_M:
        raise ValueError(f"max_distance_m must be at least {MIN_DISTANCE_2D_M} m")
    _require_positive("frequency_ghz", frequency)

    allowed_path_loss_db = eirp - noise - sinr_min
    shape = np.broadcast_shapes(
        allowed_path_loss_db.shape, frequency.shape, bs_height.shape, ue_height.shape
    )

    def closes(distance_m: FloatArray) -> npt.NDArray[np.bool_]:
        path_loss_db = uma_path_loss_nlos_db(distance_m, frequency, bs_height, ue_height)
        return path_loss_db <= allowed_path_loss_db

    log_low = np.full(shape, math.log(MIN_DISTANCE_2D_M))
    log_high = np.full(shape, math.log(upper_limit_m))
    closes_at_min = closes(np.full(shape, MIN_DISTANCE_2D_M))
    closes_at_max = closes(np.full(shape, upper_limit_m))

    # The distance error after n halvings is at most
    # upper_limit_m * (exp(span / 2^n) - 1) ~ upper_limit_m * span / 2^n.
    tolerance_m = 1e-3
    log_span = math.log(upper_limit_m / MIN_DISTANCE_2D_M)
    iterations = max(1, math.ceil(math.log2(max(log_span, 1e-12) * upper_limit_m / tolerance_m)))
    for _ in range(iterations):
        log_mid = 0.5 * (log_low + log_high)
        mid_closes = closes(numeric.exp(log_mid))
        log_low = np.where(mid_closes, log_mid, log_low)
        log_high = np.where(mid_closes, log_high, log_mid)

    reach_m = np.where(closes_at_max, upper_limit_m, np.where(closes_at_min, numeric.exp(log_low), 0.0))
    undefined = np.isnan(allowed_path_loss_db + frequency + bs_height + ue_height)
    return np.asarray(np.where(undefined, np.nan, reach_m))
