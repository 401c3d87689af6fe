"""Upper bound on T_surv per realisation, and each strategy's T_surv against it.

Run from the repository root, e.g. for the first three medium-load trials of the paper study::

    python benchmarks/survival_bound.py models/paper.yaml --trials 0 1 2 \
        --set 'sweep.dimensions.load.values=[1.0]' --set controller.max_duration_h=12
    python benchmarks/survival_bound.py models/paper.yaml --trials 0 1 2 --results study20.nc   # beside a sweep's T_surv

The bound (:func:`msrc_model.problems.plan.survival_bound`) is the longest the site-level
model with perfect foresight and modes as time shares keeps every site up: one LP kept in
HiGHS, checked by bisection over its steps (``--step-min``, default 30 min). A bound equal
to the horizon means every site can stay up for the whole outage (censored: ">=").
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from paired_study import finished_points

    from msrc_model.config.loader import load_scenario
    from msrc_model.inputs.build import build_inputs
    from msrc_model.problems.plan import survival_bound

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--trials", type=int, nargs="+", default=[0], help="trial numbers (realisations) to bound")
    parser.add_argument("--step-min", type=float, default=30.0, help="step of the relaxed plan, min")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="scenario override KEY=VALUE (repeatable)")
    parser.add_argument("--results", default=None, help="sweep results file or its .points folder: print each strategy's T_surv beside the bound")
    args = parser.parse_args()
    logging.getLogger("linopy").setLevel(logging.ERROR)  # an infeasible check is an answer here, not a warning
    scenario = load_scenario(args.scenario, args.overrides).scenario
    results = None
    if args.results is not None:
        path = Path(args.results)
        results = finished_points(path) if path.is_dir() else xr.open_dataset(path, group="results")
        if "load" in results.dims:
            results = results.isel(load=0)
    print(f"{'trial':>5} {'bound (h)':>10} {'LPs':>4} {'solve (s)':>9}  T_surv (h) and share of the bound per strategy")
    for trial in args.trials:
        started = time.perf_counter()
        bound = survival_bound(scenario, build_inputs(scenario, trial), args.step_min)
        shown = (">=" if bound.censored else "") + f"{bound.bound_h:.2f}"
        line = f"{trial:>5} {shown:>10} {len(bound.solve_times_s):>4} {sum(bound.solve_times_s):>9.1f}"
        if results is not None and trial in results.trial.values:
            r = results.sel(trial=trial)
            line += "  " + ", ".join(
                f"{s} {float(r.survival_time.sel(strategy=s)):.2f} ({float(r.survival_time.sel(strategy=s)) / bound.bound_h:.0%})"
                for s in r.strategy.values
            )
        print(line + f"  [{time.perf_counter() - started:.0f} s]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
