"""Drop an MSRC base-station cluster into a host energy model (plain linopy).

The host is a small island grid: a diesel generator (fuel cost in currency/kWh)
feeds a bus with a fixed local load. The cluster is added with
``add_msrc(model, inputs, prefix="bs", time_dim="snapshot", ...)``: it adds
only ``bs-...`` variables and constraints to the host model and hands back
its grid import (kW, site x snapshot), the coupling point. The host couples
it to its bus and pays for the energy; the cluster must still serve its
users' SLAs (Eq. 10), so the host's optimum now includes the cheapest way to
keep the base stations running.

Run it: ``python docs/examples/host_model.py``.
"""

from __future__ import annotations

from pathlib import Path

import linopy
import pandas as pd

from msrc_model import build_inputs, load_scenario
from msrc_model.formulation import add_msrc
from msrc_model.problems.solve import solve_model

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = pd.RangeIndex(4, name="snapshot")  # four 30-min snapshots
STEP_H = 0.5
FUEL_COST = 0.3  # currency/kWh
LOCAL_LOAD_KW = 20.0
QUIET = {"log_to_console": False, "output_flag": False, "mip_rel_gap": 0.01, "time_limit": 60.0}


def host_model() -> tuple[linopy.Model, linopy.Variable]:
    """The host alone: a generator serving the local load at least cost."""
    model = linopy.Model()
    generator = model.add_variables(lower=0.0, upper=100.0, coords=[SNAPSHOTS], name="diesel-p")
    return model, generator


CLUSTER = [
    "network.layout=table",
    "network.sites=[{name: A, x_m: 0, y_m: 0}, {name: B, x_m: 500, y_m: 0}, {name: C, x_m: 250, y_m: 433}]",
    "traffic.users=30", "traffic.area_side_m=600", "ev.enabled=false",
    "battery.soc_initial=0.2",  # batteries at SOC_min: every kWh comes from the host
]


def cluster_inputs(overrides: list[str] = CLUSTER):
    """A three-site cluster of the paper's sites with empty batteries."""
    return build_inputs(load_scenario(REPO / "models" / "msrc.yaml", overrides=overrides).scenario)


def solve(with_cluster: bool, overrides: list[str] = CLUSTER) -> dict[str, float]:
    """Solve the host, optionally with the cluster on its bus; return cost and energies (kWh)."""
    model, generator = host_model()
    supply_to_cluster = 0
    block = None
    if with_cluster:
        block = add_msrc(
            model, cluster_inputs(overrides), prefix="bs", time_dim="snapshot", snapshots=SNAPSHOTS,
            step_s=STEP_H * 3600, max_duration_s=len(SNAPSHOTS) * STEP_H * 3600,
            aggregate="class", traffic="flows", grid_limit_kw=50.0,
        )
        supply_to_cluster = block.grid_import.sum("site")
    model.add_constraints(generator - supply_to_cluster == LOCAL_LOAD_KW, name="bus-balance")
    model.add_objective(FUEL_COST * STEP_H * generator.sum())
    report = solve_model(model, QUIET)
    if not report.has_solution:
        raise RuntimeError(report.message)
    result = {"cost": report.objective, "generator_kwh": float(generator.solution.sum()) * STEP_H}
    if block is not None:
        result["cluster_kwh"] = float(block.grid_import.solution.sum()) * STEP_H
        result["cluster_power_kwh"] = float(block.site_power.solution.sum()) * STEP_H
        result["names"] = sorted(model.variables)
    return result


def main() -> None:
    alone = solve(with_cluster=False)
    joint = solve(with_cluster=True)
    print(f"host alone:        cost {alone['cost']:.2f}, generator {alone['generator_kwh']:.1f} kWh")
    print(f"host with cluster: cost {joint['cost']:.2f}, generator {joint['generator_kwh']:.1f} kWh, "
          f"of which the cluster {joint['cluster_kwh']:.1f} kWh")


if __name__ == "__main__":
    main()
