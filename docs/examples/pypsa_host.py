"""An MSRC base-station cluster inside a PyPSA network.

The host is a small microgrid over an afternoon and evening in 15-min snapshots: a PV plant, a
grid connection with a time-of-day price, a battery store and a local load,
all on one bus. The paper's 19-site cluster (``models/msrc.yaml``) is attached
with :func:`msrc_model.hosts.pypsa.attach_msrc`: each site draws from the bus
through a link of 97 % efficiency, and the cluster's own batteries must end
the horizon as they began (``final_battery="cyclic"``), so the host cannot spend
them for free. PyPSA minimises its cost; the cluster must still serve its
users' SLAs (Eq. 10), so the optimum includes the cheapest way to keep the
base stations running.

At a 15-min step the cluster's modes are shares of the step
(``integer_modes=False``: the 30-s controller can switch within it), so the
whole network is an LP that solves in seconds and the bus gets its prices
directly. With binary modes (``integer_modes=True``) it is a MILP, and a
second solve with the cluster's binaries fixed (relax-and-fix,
:meth:`msrc_model.hosts.pypsa.MSRCCluster.fix_and_resolve`) gives the prices back.

Run it: ``python docs/examples/pypsa_host.py`` (needs ``pip install -e ".[pypsa]"``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pypsa

from msrc_model import build_inputs, load_scenario
from msrc_model.hosts.pypsa import KW_PER_MW, attach_msrc

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = pd.date_range("2026-06-01 15:00", periods=36, freq="15min", name="snapshot")
STEPS = 24  # 15:00-21:00 in 15-min steps: the sun sets and the evening price peak begins
STEP_H = 0.25
LINK_EFFICIENCY = 0.97
SOLVER = {"solver_name": "highs", "solver_options": {"mip_rel_gap": 0.01, "threads": 1, "output_flag": False, "random_seed": 0}}
LP_SOLVER = {"solver_name": "highs", "solver_options": {**SOLVER["solver_options"], "solver": "ipm"}}  # interior point + crossover


def cluster_inputs(battery_soc: float = 0.2, overrides: tuple[str, ...] = (), model: str = "msrc.yaml"):
    """A cluster of ``models/`` (default the paper's: 19 sites, 1,000 users), its batteries at ``battery_soc`` at the start."""
    scenario = load_scenario(REPO / "models" / model, overrides=[f"battery.soc_initial={battery_soc}", *overrides]).scenario
    return build_inputs(scenario)


def microgrid(steps: int = STEPS) -> pypsa.Network:
    """PV, a priced grid connection, a battery store and a local load on one bus (MW, currency/MWh)."""
    n = pypsa.Network()
    snapshots = SNAPSHOTS[:steps]
    n.set_snapshots(snapshots)
    n.snapshot_weightings = n.snapshot_weightings.astype(float) * STEP_H
    hour = snapshots.hour + snapshots.minute / 60.0
    n.add("Carrier", ["AC", "solar", "grid", "battery"])
    n.add("Bus", "microgrid", carrier="AC")
    sun = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    n.add("Generator", "PV", bus="microgrid", carrier="solar", p_nom=0.3, p_max_pu=pd.Series(sun, index=snapshots), marginal_cost=0.0)
    price = np.where((hour >= 17) & (hour < 21), 300.0, np.where(hour < 6, 80.0, 150.0))  # currency/MWh
    n.add("Generator", "grid", bus="microgrid", carrier="grid", p_nom=1.0, marginal_cost=pd.Series(price, index=snapshots))
    n.add("StorageUnit", "battery", bus="microgrid", carrier="battery", p_nom=0.1, max_hours=2.0, cyclic_state_of_charge=True,
          efficiency_store=0.95, efficiency_dispatch=0.95)
    n.add("Load", "local load", bus="microgrid", p_set=pd.Series(0.2 + 0.1 * np.cos(np.pi * (hour - 19.0) / 12.0), index=snapshots))
    return n


def solve(
    with_cluster: bool, battery_soc: float = 0.2, steps: int = STEPS, integer_modes: bool = False,
    overrides: tuple[str, ...] = (), **options,
) -> dict:
    """Optimise the microgrid, with or without the cluster; return costs, energies (MWh), prices and the network.

    The cluster is planned at site level (``traffic="site"``: site power per
    mode and offload flows, the Stage-1 formulation) with its EVs as a fleet
    per site.
    """
    n = microgrid(steps)
    cluster = None
    if with_cluster:
        cluster = attach_msrc(
            n, cluster_inputs(battery_soc, overrides), "microgrid", site_buses=True, link_efficiency=LINK_EFFICIENCY,
            traffic="site", ev_model="fleet", exclusive_battery=False, final_battery="cyclic",
            integer_modes=integer_modes, **options,
        )
    solver = SOLVER if integer_modes else LP_SOLVER
    status, condition = n.optimize(extra_functionality=cluster.build if cluster else None, include_objective_constant=False, **solver)
    if status != "ok":
        raise RuntimeError(f"the microgrid did not solve: {status}, {condition}")
    weights = n.snapshot_weightings.generators
    result = {"network": n, "cost": float(n.objective), "grid_mwh": float((n.generators_t.p["grid"] * weights).sum())}
    if cluster is not None:
        sinks = cluster.sinks.to_list()
        supply = n.links_t.p0[[f"{s} supply" for s in sinks]]
        result["cluster"] = cluster
        result["sink_mwh"] = float((-n.generators_t.p[sinks].sum(axis=1) * weights).sum())
        result["supply_mwh"] = float((supply.sum(axis=1) * weights).sum())
        solution = cluster.solution()
        result["site_power_mwh"] = float((solution.site_power * STEP_H).sum()) / KW_PER_MW
        result["grid_import_mwh"] = float((solution.grid_import * STEP_H).sum()) / KW_PER_MW
        result["condition"] = condition
        if integer_modes:  # a MILP has no duals: fix the binaries and solve the LP again
            status, condition = cluster.fix_and_resolve(n, **LP_SOLVER)
            if status != "ok":
                raise RuntimeError(f"the fixed LP did not solve: {status}, {condition}")
            result["fixed_cost"] = float(n.objective)
    result["prices"] = n.buses_t.marginal_price["microgrid"].copy()
    return result


def main() -> None:
    logging.disable(logging.WARNING)
    alone = solve(with_cluster=False)
    joint = solve(with_cluster=True)
    print(f"microgrid alone:        cost {alone['cost']:.2f}, grid {alone['grid_mwh']:.3f} MWh")
    print(f"microgrid with cluster: cost {joint['cost']:.2f}, grid {joint['grid_mwh']:.3f} MWh; "
          f"the cluster drew {joint['supply_mwh']:.3f} MWh from the bus ({joint['grid_import_mwh']:.3f} MWh at its sites)")
    print(f"bus price {joint['prices'].min():.0f}-{joint['prices'].max():.0f} currency/MWh")


if __name__ == "__main__":
    main()
