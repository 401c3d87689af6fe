"""Compare the static baseline's rules on many trials and pick the default.

Run from the repository root::

    python benchmarks/compare_static_rules.py                    # 50 medium-load trials of models/msrc.yaml
    python benchmarks/compare_static_rules.py --trials 5 --hours 6

For every trial it builds the inputs, plans each rule of
``msrc_model.simulation.strategies.STATIC_RULES`` at t = 0, counts the
emergency and voice users served at their minimum rate with every site
normal that the rule's configuration leaves without it ("critical users
lost at t = 0"), simulates the outage and records T_surv (h), the service
continuity and the served shares at 2.5 h. Independent operation is run too,
as the floor. It prints the mean, min and max per rule; the rule with the
longest mean T_surv is the default (``docs/simulation.md``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.simulation.metrics import outage_metrics
from msrc_model.simulation.simulator import World, simulate
from msrc_model.simulation.strategies import STATIC_RULES, Independent, Static, _critical_lost, _evaluate

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(REPO / "models" / "msrc.yaml"))
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--hours", type=float, default=None, help="run length, h (default: the scenario's)")
    args = parser.parse_args()
    overrides = () if args.hours is None else (f"controller.max_duration_h={args.hours}",)
    scenario = load_scenario(args.scenario, overrides).scenario
    names = ["independent", *STATIC_RULES]
    rows = {name: [] for name in names}
    started = time.perf_counter()
    for trial in range(args.trials):
        world = World(build_inputs(scenario, trial=trial))
        normal = np.zeros(world.n_site, dtype=int)
        _, reference_rate, _ = _evaluate(world, normal, np.zeros(world.n_edge, dtype=bool))
        for name in names:
            strategy = Independent() if name == "independent" else Static(name)
            record = simulate(world, strategy)
            m = outage_metrics(record)
            first = strategy.decision
            service = world.serve(first.mode, first.band_on, first.user_site)
            lost = _critical_lost(world, service.rate_mbps, reference_rate)
            rows[name].append(
                (float(m.survival_time), float(m.service_continuity), lost, *m.served_share_table3.values.tolist())
            )
        print(f"trial {trial}: " + ", ".join(f"{n} {rows[n][-1][0]:.2f} h" for n in names), flush=True)
    classes = [str(c) for c in world.inputs["class"].values]
    print(f"\n{args.trials} trials of {scenario.name}, {time.perf_counter() - started:.0f} s")
    header = ["rule", "T_surv mean (h)", "min", "max", "continuity", "critical lost at t=0 (max)"] + [f"{c} @2.5h" for c in classes]
    print(" | ".join(header))
    for name in names:
        a = np.array(rows[name], dtype=float)
        cells = [name, f"{a[:, 0].mean():.2f}", f"{a[:, 0].min():.2f}", f"{a[:, 0].max():.2f}", f"{100 * a[:, 1].mean():.1f} %", f"{int(a[:, 2].max())}"]
        cells += [f"{100 * a[:, 3 + i].mean():.1f} %" for i in range(len(classes))]
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
