"""Benchmark: the cost of the service physics (Eq. 7 SINR, Shannon rates, scheduler) per simulator step.

Run from the repository root::

    python benchmarks/bench_service.py                       # models/msrc.yaml: 19 sites, 1,000 users
    python benchmarks/bench_service.py --scenario models/city.yaml --hours 1

It times ``World.serve`` inside whole runs of the baselines (the simulator
recomputes the service only when the decision changes, so the per-step
average counts the cached steps too; the static planner's evaluations at
reset are timed apart) and, separately, one full recomputation
(SINR of every user, scheduler, per-carrier totals) repeated ``--repeat``
times with a new decision each time. Target: well under 1 ms per step on
average at 19 sites x 1,000 users.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.simulation.simulator import World, simulate
from msrc_model.simulation.strategies import Independent, Static

REPO = Path(__file__).resolve().parents[1]


class TimedWorld(World):
    """A World that adds up the wall time of every ``serve`` call."""

    def __init__(self, inputs):
        super().__init__(inputs)
        self.serve_s = 0.0
        self.serve_calls = 0
        self.counting = True

    def serve(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().serve(*args, **kwargs)
        finally:
            if self.counting:
                self.serve_s += time.perf_counter() - started
                self.serve_calls += 1


class StepsOnly:
    """A strategy wrapper that keeps the strategy's reset (e.g. the static planner) out of the count."""

    def __init__(self, inner):
        self.inner, self.name, self.events = inner, inner.name, inner.events

    def reset(self, world: TimedWorld) -> None:
        world.counting = False
        started = time.perf_counter()
        self.inner.reset(world)
        self.reset_s = time.perf_counter() - started
        world.counting = True

    def decide(self, state):
        return self.inner.decide(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(REPO / "models" / "msrc.yaml"))
    parser.add_argument("--hours", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    overrides = () if args.hours is None else (f"controller.max_duration_h={args.hours}",)
    scenario = load_scenario(args.scenario, overrides).scenario
    inputs = build_inputs(scenario)
    print(f"{scenario.name}: {inputs.sizes['site']} sites, {inputs.sizes['user']} users, {inputs.sizes['band']} bands")
    for strategy in (StepsOnly(Independent()), StepsOnly(Static())):
        world = TimedWorld(inputs)
        record = simulate(world, strategy)
        steps = int((record.mode != 4).any(axis=1).sum()) or 1
        print(
            f"{strategy.name:>12}: {1e3 * world.serve_s / steps:.3f} ms per step on average "
            f"({world.serve_calls} serve calls over {steps} steps; the strategy's reset took {strategy.reset_s:.2f} s)"
        )
    world = World(inputs)
    rng = np.random.default_rng(0)
    mode = np.zeros(world.n_site, dtype=int)
    started = time.perf_counter()
    for _ in range(args.repeat):
        band_on = rng.random((world.n_site, world.n_band)) < 0.8  # a new decision every time: no cache hit
        band_on[:, 0] = True
        world.serve(mode, band_on, world.best_server)
    print(f"{'recompute':>12}: {1e3 * (time.perf_counter() - started) / args.repeat:.3f} ms per full recomputation")


if __name__ == "__main__":
    main()
