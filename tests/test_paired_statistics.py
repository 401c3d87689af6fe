"""Paired statistics of a sweep: msrc minus each baseline, trial by trial, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from msrc_model.study.statistics import add_paired_statistics


def sweep(survival: np.ndarray, censored: np.ndarray | None = None) -> xr.Dataset:
    """A results file's T_surv (load x strategy x trial, h) for independent, static, msrc."""
    coords = {"load": ["light", "heavy"], "strategy": ["independent", "static", "msrc"]}
    ds = xr.Dataset(
        {"survival_time": (("load", "strategy", "trial"), survival, {"units": "h", "long_name": "T_surv"})}, coords=coords
    )
    if censored is not None:
        ds["survival_censored"] = (("load", "strategy", "trial"), censored.astype(float))
    return ds


def test_paired_difference_mean_interval_and_shares_by_hand():
    survival = np.array(
        [
            [[1.0, 2.0, 1.5, 2.0], [3.0, 2.5, 4.0, 6.0], [4.0, 2.5, 5.0, 5.0]],
            [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0], [3.0, 1.0, 2.0, 4.0]],
        ]
    )
    out = add_paired_statistics(sweep(survival))
    assert out.baseline.values.tolist() == ["independent", "static"]
    d = out.survival_time_difference.sel(load="light", baseline="static").values
    assert d.tolist() == [1.0, 0.0, 1.0, -1.0]
    assert float(out.survival_time_difference_mean.sel(load="light", baseline="static")) == pytest.approx(0.25)
    half = stats.t.ppf(0.975, 3) * np.std(d, ddof=1) / 2
    assert float(out.survival_time_difference_ci95.sel(load="light", baseline="static")) == pytest.approx(half)
    light_static = out.sel(load="light", baseline="static")
    assert (float(light_static.survival_time_longer_share), float(light_static.survival_time_equal_share),
            float(light_static.survival_time_shorter_share)) == (0.5, 0.25, 0.25)
    heavy_indep = out.sel(load="heavy", baseline="independent")
    assert out.survival_time_difference.sel(load="heavy", baseline="independent").values.tolist() == [2.0, 0.0, 1.0, 3.0]
    assert float(heavy_indep.survival_time_longer_share) == 0.75
    assert out.survival_time_difference.attrs["units"] == "h"
    assert out.survival_time_difference.dims == ("load", "baseline", "trial")


def test_a_failed_point_is_left_out_of_every_paired_figure():
    survival = np.full((2, 3, 3), 2.0)
    survival[:, 2, :] = [3.0, 5.0, 4.0]
    survival[0, 2, 1] = np.nan  # msrc's run failed in light trial 1
    out = add_paired_statistics(sweep(survival))
    light = out.sel(load="light", baseline="static")
    assert int(light.survival_time_difference_count) == 2
    assert float(light.survival_time_difference_mean) == pytest.approx(1.5)
    assert float(light.survival_time_longer_share) == 1.0  # of the 2 trials with both values


def test_censored_pairs_are_counted():
    survival = np.full((2, 3, 3), 6.0)
    censored = np.zeros((2, 3, 3), dtype=bool)
    censored[0, 2, :] = True  # msrc never went dark at light load
    censored[0, 1, 0] = True  # nor static in trial 0
    survival[0, 1, 1:] = 4.0
    out = add_paired_statistics(sweep(survival, censored))
    counts = out.survival_time_difference_censored_count
    assert int(counts.sel(load="light", baseline="static")) == 3
    assert int(counts.sel(load="light", baseline="independent")) == 3
    assert int(counts.sel(load="heavy", baseline="static")) == 0
    light_static = out.sel(load="light", baseline="static")
    # trial 0, both censored: which lasts longer is unknown, so it is in neither share but its own
    assert float(light_static.survival_time_undecided_share) == pytest.approx(1 / 3)
    assert float(light_static.survival_time_equal_share) == 0.0
    assert float(light_static.survival_time_longer_share) == pytest.approx(2 / 3)  # msrc censored at 6 h, static 4 h
    shares = [out[f"survival_time_{name}_share"] for name in ("longer", "equal", "shorter", "undecided")]
    np.testing.assert_allclose(sum(shares).values, 1.0)


def test_no_pairs_without_the_reference_strategy_or_trials():
    ds = sweep(np.ones((2, 3, 2))).sel(strategy=["independent", "static"])
    assert "survival_time_difference" not in add_paired_statistics(ds)
    single = sweep(np.ones((2, 3, 2))).isel(trial=0)
    assert "survival_time_difference" not in add_paired_statistics(single)
