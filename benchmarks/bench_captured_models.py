"""Benchmark: HiGHS options on the controller's own problems, captured from a run.

Run from the repository root::

    python benchmarks/bench_captured_models.py capture DIR                # 4 h of models/msrc.yaml, msrc only
    python benchmarks/bench_captured_models.py capture DIR --hours 6 --set traffic.load=1.8
    python benchmarks/bench_captured_models.py capture DIR --scenario models/city.yaml --hours 0.5
    python benchmarks/bench_captured_models.py compare DIR --kind stage1 \\
        --variant 'presolve off={"presolve": "off"}' --variant 'ints only=partial'
    python benchmarks/bench_captured_models.py compare DIR --kind radio \\
        --variant 'ipm={"solver": "ipm"}' --variant 'primal={"simplex_strategy": 4}'

``capture``
    runs ``msrc solve`` on ``--scenario`` (default ``models/msrc.yaml``; msrc only,
    ``--hours`` of the outage) in this process and
    writes, as MPS files with the options of the call, every Stage-1 branch and
    bound started from the plan applied now (``stage1_NNN.mps``, with its start
    ``stage1_NNN_start.npy``: one value per column) and every radio LP
    (``radio_NNN.mps``: the first LP of a call, then the one with the carriers
    fixed). Each is written as the controller is about to solve it.
``compare``
    solves every captured model of ``--kind`` in a fresh HiGHS object with the
    options it was solved with (the safety-net time limit dropped) and then with
    each ``--variant`` (``NAME=JSON`` of HiGHS options laid over them), and prints
    per variant the median, largest and summed wall time of ``Highs.run``, the
    largest objective difference from the first and how many objectives are
    worse, and the largest MIP gap. For Stage 1 the start is given as the
    controller gives it; the variant ``NAME=partial`` gives HiGHS only the start's
    integer columns, which HiGHS completes itself (the controller completes it
    with a solve of its own, whose time is not in these figures).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def capture(folder: Path, scenario: Path, hours: float, overrides: list[str]) -> None:
    """Run msrc on ``scenario`` and write each Stage-1 started MIP and radio LP it solves into ``folder``."""
    from bench_outage import set_options

    from msrc_model.cli import app
    from msrc_model.problems import solve as solve_module

    folder.mkdir(parents=True, exist_ok=True)
    counts = {"stage1": 0, "radio": 0}
    numbering = threading.Lock()  # regions may be solved in threads (controller.region_threads)
    original = solve_module.PersistentSolver.solve

    def capturing(self, options, start=None, cold_start=False, write_back=True):
        radio = any(str(name).endswith("band_share") for name in self.model.variables)  # the radio block's chi
        kind = "stage1" if start is not None else "radio" if radio else None
        if kind is not None:
            # the model as HiGHS will solve it: the pending updates passed on by a solve stopped at once
            original(self, {**options, "time_limit": 1e-9}, cold_start=cold_start, write_back=False)
            with numbering:
                stem = folder / f"{kind}_{counts[kind]:03d}"
                counts[kind] += 1
            self.solver.solver_model.writeModel(f"{stem}.mps")
            Path(f"{stem}_options.json").write_text(json.dumps({k: v for k, v in options.items() if k != "time_limit"}))
            if start is not None:
                np.save(f"{stem}_start.npy", np.asarray(start, dtype=float))
        return original(self, options, start=start, cold_start=cold_start, write_back=write_back)

    solve_module.PersistentSolver.solve = capturing
    arguments = [
        "solve", str(scenario), "-o", str(folder / "run.nc"),
        "--set", "run.strategies=[msrc]", "--set", f"controller.max_duration_h={hours}",
        *set_options(overrides),
    ]
    try:
        app(arguments, standalone_mode=False)
    finally:
        solve_module.PersistentSolver.solve = original
    print(f"captured {counts['stage1']} Stage-1 models and {counts['radio']} radio LPs in {folder}")


def solve_all(files: list[str], variant: dict | str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each captured model solved fresh with its options and ``variant``: wall time (s), objective and MIP gap per model."""
    import highspy

    times, objectives, gaps = [], [], []
    for name in files:
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.readModel(name)
        options = json.loads(Path(name.replace(".mps", "_options.json")).read_text())
        for key, value in {**options, **(variant if isinstance(variant, dict) else {})}.items():
            highs.setOptionValue(key, value)
        start_file = Path(name.replace(".mps", "_start.npy"))
        started = time.perf_counter()
        if start_file.exists():
            start = np.load(start_file)
            if variant == "partial":
                integer = np.flatnonzero(np.asarray(highs.getLp().integrality_, dtype=int) != 0).astype(np.int32)
                highs.setSolution(int(integer.size), integer, start[integer])
            else:
                solution = highspy.HighsSolution()
                solution.col_value = list(start)
                solution.value_valid = True
                highs.setSolution(solution)
        highs.run()
        times.append(time.perf_counter() - started)
        info = highs.getInfo()
        objectives.append(info.objective_function_value)
        gaps.append(info.mip_gap if np.isfinite(info.mip_gap) else 0.0)
    return np.array(times), np.array(objectives), np.array(gaps)


def parse_variant(text: str) -> tuple[str, dict | str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--variant {text!r}: expected NAME=JSON or NAME=partial")
    if value == "partial":
        return name, value
    try:
        options = json.loads(value)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--variant {name}: not JSON ({error})") from None
    if not isinstance(options, dict):
        raise SystemExit(f"--variant {name}: expected a JSON object of HiGHS options")
    return name, options


def compare(folder: Path, kind: str, variants: list[tuple[str, dict | str]]) -> None:
    files = sorted(glob.glob(str(folder / f"{kind}_*.mps")))
    if not files:
        raise SystemExit(f"{folder}: no {kind}_*.mps (run the capture first)")
    print(f"{len(files)} {kind} models from {folder}; HiGHS run wall time (s)")
    base = None
    for name, variant in [("as solved", None), *variants]:
        seconds, objectives, gaps = solve_all(files, variant)
        if base is None:
            base = objectives
        worse = int((objectives < base - 1e-7 * np.abs(base)).sum())  # both problems maximise
        print(
            f"  {name:18} median {np.median(seconds):.3f}  max {seconds.max():.3f}  sum {seconds.sum():7.2f}"
            f" | objective: max |diff| {np.abs(objectives - base).max():.1e}, worse {worse} | gap max {gaps.max():.4f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    grab = commands.add_parser("capture", help="run msrc and write the models it solves")
    grab.add_argument("folder", type=Path)
    grab.add_argument("--scenario", type=Path, default=REPO / "models" / "msrc.yaml", help="scenario (default models/msrc.yaml)")
    grab.add_argument("--hours", type=float, default=4.0, help="outage hours to run (default 4)")
    grab.add_argument("--set", dest="overrides", action="append", default=[], help="scenario override (repeatable)")
    check = commands.add_parser("compare", help="solve the captured models with HiGHS option variants")
    check.add_argument("folder", type=Path)
    check.add_argument("--kind", choices=["stage1", "radio"], default="stage1")
    check.add_argument("--variant", action="append", default=[], help="NAME=JSON of HiGHS options, or NAME=partial (Stage 1)")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.folder, args.scenario, args.hours, args.overrides)
    else:
        compare(args.folder, args.kind, [parse_variant(text) for text in args.variant])


if __name__ == "__main__":
    sys.exit(main())
