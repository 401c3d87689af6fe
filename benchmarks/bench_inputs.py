"""Benchmark: building the inputs Dataset (issue targets: 19 sites / 1,000 users well
under 1 s; 469 sites / 25,000 users under 10 s on 2 cores), with memory.

Run from the repository root::

    python benchmarks/bench_inputs.py            # both cases
    python benchmarks/bench_inputs.py --repeat 5

Each case runs in a fresh Python process, so its peak resident memory (RSS) is
its own. Reported: median and max build time over the repeats (after one
warm-up build), the peak RSS of the process, the numpy memory peak of one
build (tracemalloc), the Dataset's size in memory, and the NetCDF file size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "paper (19 sites, 1,000 users)": ("models/msrc.yaml", 20),
    "city (469 sites, 25,000 users)": ("models/city.yaml", 3),
}


def measure(scenario_file: str, repeat: int) -> dict[str, float]:
    """Measure one case in this process (called in a child process)."""
    import resource
    import tracemalloc

    from msrc_model.inputs import build_inputs
    from msrc_model.config.loader import load_scenario
    from msrc_model.files.netcdf import write_netcdf

    scenario = load_scenario(REPO / scenario_file).scenario
    build_inputs(scenario)  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        dataset = build_inputs(scenario)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    build_inputs(scenario)
    numpy_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = write_netcdf(Path(folder) / "inputs.nc", inputs=dataset)
        write_s = time.perf_counter() - start
        file_mb = path.stat().st_size / 1e6
    return {
        "median_s": statistics.median(times),
        "max_s": max(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "build_alloc_peak_mb": numpy_peak / 1e6,
        "dataset_mb": dataset.nbytes / 1e6,
        "netcdf_write_s": write_s,
        "netcdf_mb": file_mb,
        "pairs": dataset.sizes["pair"],
        "evs": dataset.sizes["ev"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=None, help="builds per case (default 20 paper, 3 city)")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    print(f"{'case':32} {'median s':>9} {'max s':>7} {'peak RSS MB':>12} {'build alloc MB':>15} "
          f"{'Dataset MB':>11} {'NetCDF MB':>10} {'write s':>8} {'pairs':>7} {'EVs':>5}")
    for label, (scenario_file, default_repeat) in CASES.items():
        repeat = args.repeat or default_repeat
        done = subprocess.run(
            [sys.executable, __file__, "--child", scenario_file, str(repeat)],
            capture_output=True, text=True, check=True, cwd=REPO,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{label:32} {r['median_s']:9.3f} {r['max_s']:7.3f} {r['peak_rss_mb']:12.0f} "
              f"{r['build_alloc_peak_mb']:15.0f} {r['dataset_mb']:11.1f} {r['netcdf_mb']:10.1f} "
              f"{r['netcdf_write_s']:8.2f} {r['pairs']:7d} {r['evs']:5d}")


if __name__ == "__main__":
    main()
