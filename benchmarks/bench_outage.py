"""Benchmark: the outage simulation end to end, and the online controller against the plan.

Run from the repository root::

    python benchmarks/bench_outage.py                  # msrc solve models/msrc.yaml, timed
    python benchmarks/bench_outage.py --ratio          # also: online vs full-horizon plan, 7 sites
    python benchmarks/bench_outage.py --set controller.stage1_method=rounded_start   # a controller variant
    python benchmarks/bench_outage.py --scenario models/city.yaml --set controller.max_duration_h=1   # a city hour

``solve`` (default)
    runs ``msrc solve models/msrc.yaml`` (or ``--scenario``) in a fresh process
    (three strategies, medium load, up to 12 h of 30-s steps), reports its wall
    time and peak memory and, from the results file, each strategy's T_surv,
    the median and max Stage-1 and Stage-2 times of the controller's calls
    (a radio call that solved no region, its inputs unchanged, is left out of
    the radio figures) and where the run's time goes.
``--ratio``
    runs the three strategies on ``models/small.yaml`` (7 sites, 100 users,
    6 h) and the full-horizon plan with perfect foresight on the same
    realisation (``models/plan-small.yaml``), both with the batteries at 40 %
    (``--ratio-set``) so that sites go dark within the 6 h, and reports the
    online controller's T_surv as a share of the plan's.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def msrc_command() -> list[str]:
    executable = Path(sys.executable).with_name("msrc")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]


def timed_solve(scenario: Path, output: Path, *extra: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([*msrc_command(), "solve", str(scenario), "-o", str(output), *extra], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"msrc solve failed ({done.returncode}):\n{done.stderr}")
    print(done.stdout)
    return wall


def set_options(overrides: list[str]) -> list[str]:
    """``msrc solve`` arguments for scenario overrides: ``--set KEY=VALUE`` for each."""
    return [arg for item in overrides for arg in ("--set", item)]


def describe(name: str, values) -> str:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return f"{name}: no calls"
    return f"{name}: {values.size} calls, median {np.median(values):.2f} s, max {values.max():.2f} s"


def where_the_time_goes(results, wall_s: float) -> str:
    """Split the run's wall time: per strategy its decisions and the simulator's own step; for msrc each stage's build, update and solve."""

    def total(values) -> float:
        values = np.asarray(values, dtype=float)
        return float(np.nansum(values))

    lines = ["where the time goes (s):"]
    runs = 0.0
    for strategy in results.strategy.values:
        r = results.sel(strategy=strategy)
        run, decide = float(r.run_time), total(r.decide_time.values)
        runs += run
        lines.append(f"  {strategy:12} run {run:7.1f} = decisions {decide:7.1f} + set-up, simulator step and metrics {run - decide:6.1f}")
    r = results.sel(strategy="msrc")
    lines.append(f"    msrc {'Stage 1 model build (set-up)':28} {total(r.stage1_model_build_time.values):7.1f}")
    parts = {
        "Stage 1 data updates": total(r.stage1_update_time.values),
        "Stage 1 solves": total(r.stage1_solve_time.values),
        "Stage 2 radio build + updates": total(r.stage2_build_time.values),
        "Stage 2 radio solves": total(r.stage2_solve_time.values),
        "Stage 2 dispatch solves": total(r.dispatch_solve_time.values),
    }
    for name, seconds in parts.items():
        lines.append(f"    msrc {name:28} {seconds:7.1f}")
    spent = sum(parts.values())
    if "stage1_wall_time" in r and "stage2_wall_time" in r:
        # regions solved side by side (controller.region_threads): the calls' wall time is below the sums above
        stage1_wall, stage2_wall = total(r.stage1_wall_time.values), total(r.stage2_wall_time.values)
        together = parts["Stage 1 solves"] + parts["Stage 2 radio build + updates"] + parts["Stage 2 radio solves"]
        if together - stage1_wall - stage2_wall > 0.05 * together:
            lines.append(f"    msrc {'(their wall time, regions side by side)':28} Stage 1 solves {stage1_wall:.1f}, radio updates + solves {stage2_wall:.1f}")
        spent = parts["Stage 1 data updates"] + stage1_wall + stage2_wall + parts["Stage 2 dispatch solves"]
    rest = total(r.decide_time.values) - spent
    lines.append(f"    msrc {'controller arithmetic (rest)':28} {rest:7.1f}")
    lines.append(f"  start-up, inputs and file I/O {wall_s - runs:7.1f} (wall time less the strategies' runs)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratio", action="store_true", help="also compare the online controller with the plan (about 2 min more)")
    parser.add_argument("--skip-solve", action="store_true", help="only the ratio")
    parser.add_argument("--scenario", type=Path, default=REPO / "models" / "msrc.yaml", help="scenario of the timed solve (default models/msrc.yaml)")
    parser.add_argument("--keep", type=Path, default=None, help="also copy the results file of the timed solve here (e.g. to draw its figures)")
    parser.add_argument(
        "--ratio-set", action="append", default=None,
        help="scenario override for both runs of the ratio (repeatable; default battery.soc_initial=0.4, so that sites go dark within 6 h)",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[],
        help="scenario override for the timed solve and the ratio's online run (repeatable), e.g. a controller variant",
    )
    args = parser.parse_args()
    variant = set_options(args.overrides)
    from msrc_model.files.netcdf import read_netcdf

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if not args.skip_solve:
            out = folder / "msrc.nc"
            wall = timed_solve(args.scenario, out, *variant)
            peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # kB on Linux
            _, results, _ = read_netcdf(out)
            if args.keep is not None:
                shutil.copyfile(out, args.keep)
            shown = args.scenario.resolve().relative_to(REPO) if args.scenario.resolve().is_relative_to(REPO) else args.scenario
            command = " ".join(["msrc solve", str(shown), *variant])
            print(f"{command}: wall time {wall:.1f} s (models/msrc.yaml: target <= 30 s), peak memory {peak_gib:.2f} GiB")
            for strategy in results.strategy.values:
                r = results.sel(strategy=strategy)
                print(f"  {strategy:12} T_surv {float(r.survival_time):.2f} h, run {float(r.run_time):.1f} s")
            msrc = results.sel(strategy="msrc")
            print("  " + describe("Stage 1 solve", msrc.stage1_solve_time.values) + " (target: median <= 0.5 s, max <= 3 s)")
            print("  " + describe("Stage 1 data update", msrc.stage1_update_time.values))
            if "stage1_wall_time" in msrc and int(np.nanmax(msrc.controller_regions.values)) > 1:
                # regions side by side (controller.region_threads): a call's wall time, below its solves' sum
                print("  " + describe("Stage 1 call, wall", msrc.stage1_wall_time.values) + " (city target: max <= 30 s)")
            called = np.isfinite(msrc.stage2_build_time.values)  # the strategies share the call axis: msrc's calls only
            if "stage2_regions_solved" in msrc:  # a call whose regions' inputs had not changed solved nothing
                called &= np.nan_to_num(msrc.stage2_regions_solved.values) > 0
                regions = int(np.nanmax(msrc.controller_regions.values))
                print(f"  regions: {regions}; radio calls {int(np.isfinite(msrc.stage2_regions_solved.values).sum())}, "
                      f"regions solved per call median {np.nanmedian(msrc.stage2_regions_solved.values):.0f}")
            print("  " + describe("Stage 2 radio solve", msrc.stage2_solve_time.values[called]))
            radio_build, radio_solve = msrc.stage2_build_time.values[called], msrc.stage2_solve_time.values[called]
            if radio_build.size:
                # the first call builds the radio model, every later one updates it in place
                print(f"  Stage 2 radio model build (first call) {radio_build[0]:.2f} s")
                print("  " + describe("Stage 2 radio update", radio_build[1:]))
                print("  " + describe("Stage 2 radio update + solve", (radio_build + radio_solve)[1:]) + " (target: median <= 0.1 s)")
                if "stage2_wall_time" in msrc and int(np.nanmax(msrc.controller_regions.values)) > 1:
                    print("  " + describe("Stage 2 radio call, wall", msrc.stage2_wall_time.values[called][1:]) + " (city target: max <= 5 s)")
            print("  " + describe("Stage 2 dispatch solve", msrc.dispatch_solve_time.values))
            gaps = msrc.stage1_gap.values
            print(f"  Stage 1 gap: median {np.nanmedian(gaps):.1%}, max {np.nanmax(gaps):.1%}; solver fallbacks {int(msrc.solver_fallbacks)}")
            print(where_the_time_goes(results, wall))
        if args.ratio:
            extra = set_options(args.ratio_set or ["battery.soc_initial=0.4"])
            online = folder / "small.nc"
            timed_solve(REPO / "models" / "small.yaml", online, "--set", "run.strategies=[independent,static,msrc]", *extra, *variant)
            plan = folder / "plan.nc"
            plan_wall = timed_solve(REPO / "models" / "plan-small.yaml", plan, "--set", "solver.time_limit_s=600", *extra)
            _, online_results, _ = read_netcdf(online)
            _, plan_results, _ = read_netcdf(plan)
            t_online = float(online_results.survival_time.sel(strategy="msrc"))
            t_plan = float(plan_results.survival_time)
            print(
                f"7 sites / 100 users / 6 h: online T_surv {t_online:.2f} h, plan T_surv {t_plan:.2f} h "
                f"(plan solved in {plan_wall:.0f} s, gap {float(plan_results.mip_gap):.2%}): ratio {t_online / t_plan:.2f}"
            )


if __name__ == "__main__":
    main()
