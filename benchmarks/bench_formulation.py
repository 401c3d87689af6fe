"""Benchmark: building and solving MSRC problems with HiGHS (issue targets on 2 cores:
median build < 0.5 s; Stage-2 solve < 1 s; Stage-1 solve < 5 s; the plan's reach).

Run from the repository root::

    python benchmarks/bench_formulation.py                 # all three problems
    python benchmarks/bench_formulation.py --only stage2   # one of stage2, stage1, plan

Problems (paper scenario, models/msrc.yaml, trial 0):

stage2
    19 sites / 1,000 users / 4 bands, one 30-s step, modes fixed (a mix: the
    centre and three ring-1 sites helping, their three outer ring-1 neighbours
    asleep, the rest normal), binary per-user association over the pairs the
    modes allow, Shannon rates per band (Eq. 8), Eq. 27 objective with energy.
stage1
    the controller's Stage 1 at the outage start: site-level traffic and power
    per mode, offload flows, EVs as a fleet per site, battery energy as a
    projection, H = 6 h in a 15-min block and two 2.875-h blocks with binary
    modes in the first (move blocking), Eq. 26 over every block end (Sec. IV-1).
plan
    models/plan-small.yaml: 7 sites / 100 users, Eq. 18 over 6 h in 15-min
    steps with perfect foresight.

Each problem is built ``--builds`` times (median and max reported) and solved
``--solves`` times with a MIP gap of 1 % and the time limit given.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import xarray as xr

from msrc_model.simulation.controller import stage1_blocks_s
from msrc_model.formulation import model_data
from msrc_model.inputs import build_inputs
from msrc_model.config.loader import load_scenario
from msrc_model.problems.plan import build_plan
from msrc_model.problems.solve import solve_model
from msrc_model.problems.stages import build_stage1, build_stage2

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = {"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1}


def stage2_modes(inputs: xr.Dataset) -> xr.DataArray:
    """A fixed mode pattern: centre + sites 1, 3, 5 helping; 2, 4, 6 asleep; ring 2 normal."""
    modes = np.zeros(inputs.sizes["site"], dtype=int)
    modes[[0, 1, 3, 5]] = 1
    modes[[2, 4, 6]] = 3
    return xr.DataArray(modes[:, None], dims=("site", "time"), coords={"site": inputs.site, "time": [0.0]})


def measure(name: str, build, builds: int, solves: int, time_limit: float) -> None:
    times = []
    for _ in range(builds):
        start = time.perf_counter()
        model = build()
        times.append(time.perf_counter() - start)
    reports = []
    for _ in range(solves):
        model = build()
        reports.append(
            solve_model(model, {"time_limit": time_limit, "mip_rel_gap": 0.01, "log_to_console": False, "output_flag": False})
        )
    solve_times = [r.solve_time_s for r in reports]
    last = reports[-1]
    binaries = int(sum((model.variables[v].attrs["binary"] or model.variables[v].attrs["integer"]) * (model.variables[v].labels >= 0).sum() for v in model.variables))
    print(
        f"{name:8} {model.nvars:>8} {model.ncons:>8} {binaries:>8} {statistics.median(times):>9.3f} {max(times):>8.3f} "
        f"{statistics.median(solve_times):>9.2f} {max(solve_times):>8.2f}  {last.message}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["stage2", "stage1", "plan"])
    parser.add_argument("--builds", type=int, default=5)
    parser.add_argument("--solves", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=120.0, help="s per solve (default 120)")
    args = parser.parse_args()

    scenario = load_scenario(REPO / "models" / "msrc.yaml").scenario
    inputs = build_inputs(scenario)
    print(f"{'problem':8} {'columns':>8} {'rows':>8} {'integer':>8} {'build med':>9} {'max s':>8} {'solve med':>9} {'max s':>8}  status")
    if args.only in (None, "stage2"):
        data2 = model_data(inputs, step_s=30, max_duration_s=30)
        modes = stage2_modes(inputs)
        measure("stage2", lambda: build_stage2(data2, modes, WEIGHTS)[0], args.builds, args.solves, args.time_limit)
    if args.only in (None, "stage1"):
        data1 = model_data(inputs, steps_s=stage1_blocks_s(scenario.controller))
        measure("stage1", lambda: build_stage1(data1, WEIGHTS, integer_blocks=1, every_step=True).model, args.builds, args.solves, args.time_limit)
    if args.only in (None, "plan"):
        small = load_scenario(REPO / "models" / "plan-small.yaml").scenario
        small_inputs = build_inputs(small)
        measure("plan", lambda: build_plan(small, small_inputs).model, 1, 1, max(args.time_limit, 600.0))


if __name__ == "__main__":
    main()
