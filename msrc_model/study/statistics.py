"""Statistics over the Monte Carlo trials of a sweep: per metric, and paired between strategies.

**Per metric** (:func:`add_statistics`): the mean over trials and the
half-width of its 95 % confidence interval (Student t with n - 1 degrees of
freedom, n the trials with a value), as ``<metric>_mean``, ``<metric>_ci95``
and ``<metric>_count``.

**Paired** (:func:`add_paired_statistics`): every strategy runs on the same
realisation in each trial, so the question "how much longer does msrc last
than static?" is answered per trial. For a metric (T_surv by default) and a
reference strategy (msrc), each other strategy (the *baseline*) gets

* ``<metric>_difference`` (..., baseline, trial): the reference's value minus
  the baseline's on the same trial;
* ``<metric>_difference_mean``, ``_ci95``, ``_count``: as above, the
  interval of the mean paired difference (a paired t interval);
* ``<metric>_longer_share``, ``_equal_share``, ``_shorter_share``: the
  shares of the trials in which the reference's value is larger, equal
  (within ``tie_tolerance``) or smaller;
* for T_surv, ``survival_time_difference_censored_count``: the trials in
  which either run was censored (no site dark within the run;
  ``survival_censored``). There the difference is a bound, not a value: a
  lower bound when only the reference was censored, an upper bound when only
  the baseline was. When both were, the difference counts 0 in the mean (each
  T_surv counts the run length, as in ``survival_time_mean``) but which lasts
  longer is unknown: such trials count in ``survival_time_undecided_share``,
  not in the three shares above (the four add up to 1).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

TIE_TOLERANCE_H = 1e-6  # h: T_surv are multiples of the 30-s step; closer than this they are equal


def critical_service_or_run_length(results: xr.Dataset, duration_h: float | None = None) -> xr.DataArray:
    """``critical_service_time`` (h) with a run that never lost critical service at the run length; a failed point stays NaN.

    A run that never lost critical service has ``critical_service_time`` NaN, so its mean
    leaves such runs out and understates how long critical service lasted; counting the
    run length instead gives a lower bound, as a censored T_surv does. ``duration_h`` is
    the run length (default: the ``max_duration_h`` attribute; unknown: nothing is filled).
    """
    values = results.critical_service_time
    duration = float(results.attrs.get("max_duration_h", np.nan) if duration_h is None else duration_h)
    if not np.isfinite(duration):
        return values
    failed = (results.point_error != "").broadcast_like(values) if "point_error" in results else xr.zeros_like(values, dtype=bool)
    filled = values.where(values.notnull() | failed, duration)
    return filled.assign_attrs(
        units="h", long_name="first time a critical class falls below its QoS target; the run length where it never did (a lower bound)"
    )


def trial_statistics(values: xr.DataArray, dim: str = "trial", level: float = 0.95) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Mean over ``dim`` (NaN skipped), the half-width of its ``level`` Student-t interval (NaN below 2 values), and the count."""
    from scipy import stats

    values = values.astype(float)
    count = values.notnull().sum(dim)
    mean = values.mean(dim, skipna=True)
    std = values.std(dim, ddof=1, skipna=True)
    t = xr.apply_ufunc(lambda n: stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), count)
    half = (t * std / np.sqrt(count)).where(count > 1)
    return mean, half, count


def add_statistics(results: xr.Dataset, dim: str = "trial", level: float = 0.95) -> xr.Dataset:
    """``<metric>_mean``, ``<metric>_ci95`` (Student-t half-width) and ``<metric>_count`` over ``dim`` for every numeric metric."""
    out = results.copy()
    for name, variable in results.data_vars.items():
        if dim not in variable.dims or variable.dtype.kind not in "fiub":
            continue
        mean, half, count = trial_statistics(variable, dim, level)
        units = variable.attrs.get("units", "")
        long_name = variable.attrs.get("long_name", name)
        out[f"{name}_mean"] = mean.assign_attrs(units=units, long_name=f"mean over trials of: {long_name}")
        out[f"{name}_ci95"] = half.assign_attrs(
            units=units, long_name=f"half-width of the {level:.0%} confidence interval (Student t) of the mean of: {long_name}"
        )
        out[f"{name}_count"] = count.astype("int32").assign_attrs(units="1", long_name=f"trials with a value of: {long_name}")
    return out


def add_paired_statistics(
    results: xr.Dataset,
    metric: str = "survival_time",
    reference: str = "msrc",
    dim: str = "trial",
    level: float = 0.95,
    tie_tolerance: float = TIE_TOLERANCE_H,
) -> xr.Dataset:
    """The paired comparison of ``reference`` with every other strategy on ``metric`` (module docstring).

    ``results`` needs a ``strategy`` and a ``dim`` dimension and ``reference`` among the strategies;
    otherwise it is returned unchanged (a single run, or a sweep without the reference strategy, has no pairs).
    A trial with the metric missing for either strategy (a failed point) is left out of every paired figure.
    """
    if metric not in results or "strategy" not in results[metric].dims or dim not in results[metric].dims:
        return results
    strategies = [str(s) for s in results.strategy.values]
    baselines = [s for s in strategies if s != reference]
    if reference not in strategies or not baselines:
        return results
    values = results[metric].astype(float)
    units = values.attrs.get("units", "")
    long_name = values.attrs.get("long_name", metric)
    base = values.sel(strategy=baselines).rename(strategy="baseline")
    difference = values.sel(strategy=reference, drop=True) - base
    order = [*(d for d in difference.dims if d not in ("baseline", dim)), "baseline", dim]
    difference = difference.transpose(*order)
    out = results.assign_coords(baseline=("baseline", np.asarray(baselines, dtype=object)))
    out["baseline"].attrs["long_name"] = f"strategy {reference} is compared with, trial by trial"
    what = f"{reference}'s {long_name} minus the baseline's, on the same realisation"
    out[f"{metric}_difference"] = difference.assign_attrs(units=units, long_name=what)
    mean, half, count = trial_statistics(difference, dim, level)
    out[f"{metric}_difference_mean"] = mean.assign_attrs(units=units, long_name=f"mean over trials of: {what}")
    out[f"{metric}_difference_ci95"] = half.assign_attrs(
        units=units, long_name=f"half-width of the {level:.0%} confidence interval (paired Student t) of the mean of: {what}"
    )
    out[f"{metric}_difference_count"] = count.astype("int32").assign_attrs(units="1", long_name=f"trials with a value of: {what}")
    valid = difference.notnull()
    trials = valid.sum(dim)
    both_censored = xr.zeros_like(valid)
    if "survival_censored" in results and metric == "survival_time":
        censored = results.survival_censored.astype(float) > 0.5
        mine = censored.sel(strategy=reference, drop=True)
        theirs = censored.sel(strategy=baselines).rename(strategy="baseline")
        both_censored = (mine & theirs & valid).transpose(*order)
        out[f"{metric}_difference_censored_count"] = ((mine | theirs) & valid).sum(dim).astype("int32").transpose(*order[:-1]).assign_attrs(
            units="1",
            long_name=f"trials in which {reference}'s or the baseline's run was censored (no site dark within the run): "
            "the difference there is a bound, not a value",
        )
    ordered = valid & ~both_censored  # both censored: which lasts longer is unknown
    for name, chosen, words in (
        ("longer", difference > tie_tolerance, "larger than"),
        ("equal", abs(difference) <= tie_tolerance, "equal to"),
        ("shorter", difference < -tie_tolerance, "smaller than"),
    ):
        share = (chosen & ordered).sum(dim) / trials
        out[f"{metric}_{name}_share"] = share.where(trials > 0).assign_attrs(
            units="1", long_name=f"share of the trials in which {reference}'s {long_name} is {words} the baseline's"
        )
    if "survival_censored" in results and metric == "survival_time":
        out[f"{metric}_undecided_share"] = (both_censored.sum(dim) / trials).where(trials > 0).assign_attrs(
            units="1",
            long_name=f"share of the trials in which both {reference}'s and the baseline's runs were censored: which lasts "
            "longer is unknown (the other three shares and this one add up to 1)",
        )
    return out
