"""Paired comparison of msrc with the baselines over the trials of a sweep results file.

Run from the repository root, e.g. for 20 medium-load trials of 12 h::

    msrc solve models/paper.yaml --set sweep.trials=20 \
        --set 'sweep.dimensions.load.values=[1.0]' --set 'sweep.dimensions.load.labels=[medium]' \
        --set controller.max_duration_h=12 --set power.scale=0.9659 -o study20.nc
    python benchmarks/paired_study.py study20.nc
    python benchmarks/paired_study.py study20.nc.points    # the points finished so far

Every strategy runs on the same realisation in each trial, so the differences are paired.
Per load cell it prints each trial's T_surv (h) per strategy, msrc - static and msrc -
independent, the share of trials where msrc's T_surv is at least static's, whether msrc's
first site ever goes dark before independent operation's, and the mean T_surv beside the
paper's 5.0 h (MSRC, medium load); the paired figures are those of the results file
(:mod:`msrc_model.study.statistics`). Censored runs (no site dark within the run) count at the
run length, a lower bound.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import xarray as xr

from msrc_model.study.statistics import TIE_TOLERANCE_H, add_paired_statistics

PAPER_MEAN_H = {"independent": 2.5, "static": 3.5, "msrc": 5.0}  # Table II, medium load


def paired_lines(results: xr.Dataset) -> list[str]:
    lines = []
    paired = add_paired_statistics(results)
    survival = results.survival_time
    censored = results.survival_censored
    cells = survival["load"].values if "load" in survival.dims else [None]
    for cell in cells:
        part = survival if cell is None else survival.sel(load=cell)
        cut = censored if cell is None else censored.sel(load=cell)
        t = {s: part.sel(strategy=s).values for s in part.strategy.values}
        lines.append(f"## load {cell}" if cell is not None else "## all trials")
        lines.append("trial  " + "  ".join(f"{s:>11}" for s in t) + "  msrc-static  msrc-indep")
        for k in range(part.sizes["trial"]):
            marks = ["" if not bool(cut.sel(strategy=s).values[k]) else ">=" for s in t]
            row = "  ".join(f"{m:>2}{t[s][k]:9.2f}" for m, s in zip(marks, t))
            lines.append(f"{k:5d}  {row}  {t['msrc'][k] - t['static'][k]:+11.2f}  {t['msrc'][k] - t['independent'][k]:+10.2f}")
        d_static = t["msrc"] - t["static"]
        pairs = paired if cell is None else paired.sel(load=cell)
        for baseline in pairs.baseline.values:
            one = pairs.sel(baseline=baseline)
            lines.append(
                f"msrc - {baseline}: mean {float(one.survival_time_difference_mean):+.2f} "
                f"± {float(one.survival_time_difference_ci95):.2f} h (95 %), median "
                f"{float(one.survival_time_difference.median()):+.2f} h, min {float(one.survival_time_difference.min()):+.2f} h, "
                f"max {float(one.survival_time_difference.max()):+.2f} h; msrc later / same / earlier in "
                f"{float(one.survival_time_longer_share):.0%} / {float(one.survival_time_equal_share):.0%} / "
                f"{float(one.survival_time_shorter_share):.0%} of {int(one.survival_time_difference_count)} trials"
            )
        lines.append(f"msrc >= static in {(d_static >= -TIE_TOLERANCE_H).sum()} of {len(d_static)} trials")
        lines.append(
            "mean T_surv (h): "
            + ", ".join(f"{s} {t[s].mean():.2f} (paper {PAPER_MEAN_H.get(s, float('nan')):.1f})" for s in t)
        )
        for name, label in (("mode_switches_per_site", "mode switches per site (paper 4.2)"), ("handovers_per_user", "handovers per user (paper 3.4)")):
            if name in results:
                values = results[name] if cell is None else results[name].sel(load=cell)
                lines.append(f"msrc {label}: mean {float(values.sel(strategy='msrc').mean()):.2f}")
    return lines


def finished_points(folder: Path) -> xr.Dataset:
    """The point files a sweep has finished so far, side by side along ``trial`` (one sweep cell)."""
    parts = []
    for path in sorted(folder.glob("*.nc")):
        with xr.open_dataset(path) as point:
            keep = [v for v in ("survival_time", "survival_censored", "mode_switches_per_site", "handovers_per_user") if v in point]
            parts.append(point[keep].load().expand_dims(trial=[int(point.attrs["trial"])]))
    if not parts:
        raise ValueError("no finished point files")
    return xr.concat(parts, dim="trial").sortby("trial")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="sweep results file (NetCDF, group 'results'), or its .points folder")
    args = parser.parse_args()
    try:
        path = Path(args.results)
        results = finished_points(path) if path.is_dir() else xr.open_dataset(path, group="results")
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.results}: {exc}", file=sys.stderr)
        return 2
    if "trial" not in results.dims or "survival_time" not in results:
        print(f"error: {args.results}: not a sweep results file (no trial dimension or survival_time)", file=sys.stderr)
        return 2
    print("\n".join(paired_lines(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
