"""Benchmark: a cost-minimising PyPSA host with an MSRC cluster over 24 x 15 min (target: 1 % gap in < 30 s on 2 cores).

The host is the microgrid of ``docs/examples/pypsa_host.py`` (PV, a priced
grid connection, a battery store and a local load) from 15:00, with the
evening price peak inside the horizon; the cluster is the paper's 19 sites
(``models/msrc.yaml``) or, with ``--cluster small``, the 7-site
``models/small.yaml``, attached through lossy links with cyclic batteries.
Each case is built and solved in a fresh process ``--runs`` times:

    python benchmarks/bench_pypsa_host.py                       # every case
    python benchmarks/bench_pypsa_host.py --modes binary --soc 0.2

Cases: batteries empty (SOC 0.2 = SOC_min) and full (SOC 1.0); modes as
shares of the step (``integer_modes=False``, an LP: interior point and
crossover) or binary (a MILP to 1 %, relative to the whole network's cost).
HiGHS runs with one thread and a safety-net time limit (``--time-limit``,
default 120 s); a case that hits it is reported as such, with its gap.
Printed per case: build (inputs, components, linopy model) and solve wall
time (median, max), the termination and the final MIP gap.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_example():
    spec = importlib.util.spec_from_file_location("pypsa_host", REPO / "docs" / "examples" / "pypsa_host.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_run(soc: float, modes: str, cluster: str, time_limit: float) -> dict:
    """Build and solve one case in this process; return its figures."""
    import logging

    from msrc_model.hosts.pypsa import attach_msrc

    logging.disable(logging.WARNING)
    example = load_example()
    start = time.perf_counter()
    n = example.microgrid()
    inputs = example.cluster_inputs(soc, model="msrc.yaml" if cluster == "paper" else "small.yaml")
    integer = modes == "binary"
    attached = attach_msrc(
        n, inputs, "microgrid", site_buses=True, link_efficiency=example.LINK_EFFICIENCY, traffic="site", ev_model="fleet",
        exclusive_battery=False, final_battery="cyclic", integer_modes=integer,
    )
    model = n.optimize.create_model(include_objective_constant=False)
    attached.build(n)
    built = time.perf_counter()
    solver = example.SOLVER if integer else example.LP_SOLVER
    options = {**solver["solver_options"], "time_limit": time_limit}
    status, condition = n.optimize.solve_model(solver_name="highs", solver_options=options)
    solved = time.perf_counter()
    gap = float("nan")
    highs = getattr(model, "solver_model", None)
    if integer and highs is not None:
        gap = float(highs.getInfo().mip_gap)
    return {"build_s": built - start, "solve_s": solved - built, "status": status, "condition": condition, "gap": gap,
            "cost": float(n.objective), "variables": int(model.nvars), "constraints": int(model.ncons)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soc", type=float, action="append", help="initial battery SOC (default: 0.2 and 1.0)")
    parser.add_argument("--modes", choices=["shares", "binary"], action="append", help="default: both")
    parser.add_argument("--cluster", choices=["paper", "small"], default="paper")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.soc[0], args.modes[0], args.cluster, args.time_limit)))
        return
    print(f"cluster {args.cluster}, 24 x 15 min, one HiGHS thread, safety net {args.time_limit:g} s, {args.runs} runs per case")
    print(f"{'case':<22} {'build s (med/max)':>18} {'solve s (med/max)':>18} {'total s':>8}  termination, gap, size")
    for modes in args.modes or ["shares", "binary"]:
        for soc in args.soc or [0.2, 1.0]:
            runs = []
            for _ in range(args.runs):
                done = subprocess.run(
                    [sys.executable, __file__, "--one", "--soc", str(soc), "--modes", modes, "--cluster", args.cluster,
                     "--time-limit", str(args.time_limit)], capture_output=True, text=True, cwd=REPO,
                )
                if done.returncode:
                    raise SystemExit(done.stderr)
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            build = [r["build_s"] for r in runs]
            solve = [r["solve_s"] for r in runs]
            total = statistics.median(b + s for b, s in zip(build, solve))
            conditions = sorted({r["condition"] for r in runs})
            gaps = [r["gap"] for r in runs]
            gap = "" if all(g != g for g in gaps) else f", gap max {max(gaps) * 100:.2f} %"
            name = f"{modes}, SOC {soc:g}"
            print(f"{name:<22} {statistics.median(build):>8.1f} / {max(build):<7.1f} {statistics.median(solve):>8.1f} / {max(solve):<7.1f} "
                  f"{total:>8.1f}  {'/'.join(conditions)}{gap}, {runs[0]['variables']:,} variables, {runs[0]['constraints']:,} rows")


if __name__ == "__main__":
    main()
