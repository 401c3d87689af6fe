"""Mutation testing of the physics, the simulator's step, the metrics and the objectives.

    pip install -e ".[test,mutation]"
    python benchmarks/mutation.py                 # mutmut run on every core, then the score
    python benchmarks/mutation.py --report-only   # the score of the last run (mutants/ kept by mutmut)
    python benchmarks/mutation.py --survivors     # also list every surviving mutant

The modules and the tests run against each mutant are set in ``[tool.mutmut]``
of ``pyproject.toml``. mutmut plants one small change at a time (an operator,
a constant, a dropped argument, ...) and runs the tests that reach the changed
function; a mutant is *killed* when a test fails (or hangs past mutmut's
timeout), *survives* when every test passes.

The score is killed / (all mutants - equivalent ones). Equivalent mutants -
changes no test could see because the program's behaviour does not change -
are listed with the reason in ``benchmarks/mutation_equivalent/<module>.toml``
(a table ``[equivalent]`` of mutant name = reason); every other mutant counts,
including those no selected test reaches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EQUIVALENT = REPO / "benchmarks" / "mutation_equivalent"

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code)
KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", -11: "crash", -9: "crash"}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


def mutant_outcomes(folder: Path) -> dict[str, str]:
    """Every mutant's outcome from the ``.meta`` files mutmut leaves beside the mutated sources."""
    outcomes = {}
    for meta in folder.rglob("*.meta"):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            outcomes[name] = KILLED.get(code) or SURVIVED.get(code) or ("not checked" if code is None else f"other ({code})")
    return outcomes


def module_of(name: str) -> str:
    """``msrc_model.physics.power.x_site_kw__mutmut_3`` -> ``msrc_model.physics.power``."""
    head = name.split("__mutmut_")[0]
    return head.rsplit(".", 1)[0] if "." in head else head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report-only", action="store_true", help="only read the last run's outcomes")
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, help="mutants run at once")
    parser.add_argument("--minimum", type=float, default=0.8, help="exit 1 below this score")
    args = parser.parse_args()
    if not args.report_only:
        mutmut = Path(sys.executable).with_name("mutmut")
        done = subprocess.run([str(mutmut), "run", "--max-children", str(args.max_children)], cwd=REPO)
        if done.returncode != 0:
            print(f"mutmut run exited with status {done.returncode}", file=sys.stderr)
            return done.returncode
    outcomes = mutant_outcomes(REPO / "mutants")
    if not outcomes:
        print("no mutants found: run without --report-only first", file=sys.stderr)
        return 2
    equivalent = {}
    for path in sorted(EQUIVALENT.glob("*.toml")):
        equivalent.update(tomllib.loads(path.read_text()).get("equivalent", {}))
    unknown = sorted(set(equivalent) - set(outcomes))
    if unknown:
        print(f"equivalent list names {len(unknown)} mutants mutmut did not make (stale after a code change?): {unknown[:5]}", file=sys.stderr)
    per_module: dict[str, Counter] = defaultdict(Counter)
    for name, outcome in outcomes.items():
        per_module[module_of(name)]["equivalent" if name in equivalent else outcome] += 1
    total = Counter()
    print(f"{'module':42s} {'mutants':>8s} {'killed':>7s} {'timeout':>8s} {'survived':>9s} {'no tests':>9s} {'equiv.':>7s} {'score':>7s}")
    for module in sorted(per_module):
        c = per_module[module]
        total.update(c)
        print(_row(module, c))
    print(_row("all", total))
    if total["not checked"]:
        print(f"{total['not checked']} mutants not checked yet (an interrupted run?)", file=sys.stderr)
    if args.survivors:
        for name in sorted(n for n, o in outcomes.items() if o in ("survived", "no tests") and n not in equivalent):
            print(f"{outcomes[name]:9s} {name}")
    return 0 if _score(total) >= args.minimum else 1


def _score(c: Counter) -> float:
    caught = c["killed"] + c["timeout"] + c["crash"]
    counted = sum(c.values()) - c["equivalent"]
    return caught / counted if counted else float("nan")


def _row(module: str, c: Counter) -> str:
    return (
        f"{module:42s} {sum(c.values()):8d} {c['killed'] + c['crash']:7d} {c['timeout']:8d} {c['survived']:9d} "
        f"{c['no tests']:9d} {c['equivalent']:7d} {100 * _score(c):6.1f}%"
    )


if __name__ == "__main__":
    sys.exit(main())
