"""How far mode shares (``integer_modes=False``) relax binary modes: one step of a cluster minimising its grid import.

Run from the repository root::

    python benchmarks/bench_mode_shares.py                  # the paper's 19 sites, batteries at SOC_min
    python benchmarks/bench_mode_shares.py --scenario models/small.yaml --steps 4

The cluster (site-level traffic, EVs as a fleet, batteries at ``--soc``) must
serve its SLAs and draws its power from the grid (up to 100 kW a site); the
objective is the grid import. Printed: the least import (kW, mean over the
steps) with modes as shares of the step and with binary modes (to a 0.1 %
gap), the ratio, and each solve's wall time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import linopy

from msrc_model import build_inputs, load_scenario
from msrc_model.formulation import add_msrc
from msrc_model.problems.solve import solve_model

REPO = Path(__file__).resolve().parents[1]


def least_import_kw(inputs, steps: int, integer_modes: bool, time_limit: float) -> tuple[float, float, str]:
    model = linopy.Model()
    block = add_msrc(
        model, inputs, step_s=900, max_duration_s=900 * steps, traffic="site", ev_model="fleet", exclusive_battery=False,
        grid_limit_kw=100.0, integer_modes=integer_modes,
    )
    model.add_objective(block.grid_import.sum())
    start = time.perf_counter()
    report = solve_model(model, {"output_flag": False, "threads": 1, "mip_rel_gap": 1e-3, "time_limit": time_limit, "random_seed": 0})
    elapsed = time.perf_counter() - start
    if not report.has_solution:
        raise SystemExit(f"no solution: {report.message}")
    return float(block.grid_import.solution.sum()) / steps, elapsed, report.termination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(REPO / "models" / "msrc.yaml"))
    parser.add_argument("--soc", type=float, default=0.2)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300.0)
    args = parser.parse_args()
    inputs = build_inputs(load_scenario(args.scenario, overrides=[f"battery.soc_initial={args.soc}"]).scenario)
    shares, shares_s, shares_end = least_import_kw(inputs, args.steps, False, args.time_limit)
    binary, binary_s, binary_end = least_import_kw(inputs, args.steps, True, args.time_limit)
    print(f"{inputs.sizes['site']} sites, {args.steps} step(s) of 15 min, batteries at SOC {args.soc:g}")
    print(f"mode shares: {shares:8.2f} kW  ({shares_end}, {shares_s:.2f} s)")
    print(f"binary:      {binary:8.2f} kW  ({binary_end}, {binary_s:.2f} s)")
    print(f"shares / binary: {shares / binary:.3f}")


if __name__ == "__main__":
    main()
