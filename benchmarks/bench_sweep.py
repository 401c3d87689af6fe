"""Benchmark: the paper's Monte Carlo study (``models/paper.yaml``), wall time and where it goes.

Run from the repository root::

    python benchmarks/bench_sweep.py                     # read results/paper.nc.points of a finished run
    python benchmarks/bench_sweep.py --run --trials 2    # time a fresh sweep of 3 loads x 2 trials
    python benchmarks/bench_sweep.py --run --trials 2 --workers 1 2   # the same sweep on 1, then 2 workers

The full study is ``msrc solve models/paper.yaml`` (150 points on 2 local worker
processes; target: 15 minutes on 2 cores, not met, see docs/performance.md). Its
wall time is printed by the command itself; this script reports, from the point
files, the per-point wall time by load and, where the point files record it, the
split between the strategies and the controller's solver calls, and the failed
solves the controller fell back from, by strategy and stage.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parents[1]


def describe_points(folder: Path, workers: int = 2) -> None:
    files = sorted(folder.glob("*.nc"))
    if not files:
        sys.exit(f"no point files in {folder}")
    by_load: dict[str, list[dict]] = defaultdict(list)
    attributes: list[dict] = []
    fallbacks: list[float] = []  # per point, in file order: its attributes and the failed solves its strategies fell back from
    for path in files:
        data = xr.load_dataset(path)
        attributes.append(dict(data.attrs))
        by_load[path.name.split("_trial=")[0]].append(attributes[-1])
        fallbacks.append(float(data.solver_fallbacks.sum()) if "solver_fallbacks" in data else 0.0)
    total = 0.0
    for load, points in by_load.items():
        wall = np.array([p["point_wall_time_s"] for p in points])
        total += wall.sum()
        line = f"{load:14} {len(points):3} points, per point median {np.median(wall):.1f} s, max {wall.max():.1f} s"
        if "run_time_msrc_s" in points[0]:
            for key in ("run_time_independent_s", "run_time_static_s", "run_time_msrc_s",
                        "stage1_solve_time_total_s", "stage2_build_time_total_s", "stage2_solve_time_total_s"):
                values = np.array([p.get(key, np.nan) for p in points])
                line += f"; {key.removesuffix('_s')} median {np.nanmedian(values):.1f} s"
        print(line)
    print(f"all {len(files)} points: {total:.0f} s of worker time ({total / workers / 60:.1f} min on {workers} workers)")
    describe_fallbacks(attributes, fallbacks)


def describe_fallbacks(attributes: list[dict], fallbacks: list[float]) -> None:
    """The failed solves the controller fell back from, by strategy and stage, from the point files' attributes and fallback counts."""
    from msrc_model.study.sweep import SOLVER_EVENTS_ATTR, SOLVER_EVENTS_SEPARATOR

    counts: dict[str, int] = defaultdict(int)
    points_with = unrecorded = 0
    for attrs, count in zip(attributes, fallbacks):
        if SOLVER_EVENTS_ATTR not in attrs:
            unrecorded += int(count > 0)
            continue
        events = [e for e in str(attrs[SOLVER_EVENTS_ATTR]).split(SOLVER_EVENTS_SEPARATOR) if e]
        points_with += bool(events)
        for event in events:
            counts[" ".join(event.split(" ")[:2])] += 1  # "<strategy> <stage>"
    listed = ", ".join(f"{key} {n}" for key, n in sorted(counts.items())) or "none"
    print(f"solver fallbacks: {listed} (in {points_with} points)"
          + (f"; {unrecorded} points with fallbacks written before the events were kept" if unrecorded else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="run a fresh sweep of models/paper.yaml in a temporary folder")
    parser.add_argument("--trials", type=int, default=2, help="trials per load for --run (the study has 50)")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="local worker processes for --run; several: one sweep per count")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="scenario override passed to msrc solve for --run (repeatable)")
    parser.add_argument("--points", type=Path, default=REPO / "results" / "paper.nc.points", help="point folder to describe")
    args = parser.parse_args()
    if not args.run:
        describe_points(args.points)
        return
    executable = Path(sys.executable).with_name("msrc")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]
    overrides = [part for item in args.overrides for part in ("--set", item)]
    points = 3 * args.trials
    walls: dict[int, float] = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "paper.nc"
            started = time.perf_counter()
            done = subprocess.run(
                [*command, "solve", str(REPO / "models" / "paper.yaml"), "-o", str(out), "--set", f"sweep.trials={args.trials}",
                 "--set", f"sweep.workers={workers}", *overrides],
                capture_output=True, text=True,
            )
            wall = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"msrc solve failed ({done.returncode}):\n{done.stderr}")
            walls[workers] = wall
            print(done.stdout)
            print(f"{points} points in {wall:.0f} s on {workers} worker(s): {wall / points:.1f} s of wall time per point; "
                  f"150 points would take about {150 * wall / points / 60:.0f} min (target <= 15 min on 2 workers)")
            describe_points(Path(folder) / "paper.nc.points", workers)
    if len(walls) > 1:
        first = min(walls)
        for workers, wall in sorted(walls.items()):
            print(f"workers {workers}: wall {wall:.0f} s, speed-up {walls[first] / wall:.2f} against {first} worker(s)")


if __name__ == "__main__":
    main()
