"""The cluster inside a PyPSA network: docs/examples/pypsa_host.py runs, its energy balances and costs hold."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pandas as pd
import pytest

from conftest import REPO

pypsa = pytest.importorskip("pypsa")

from msrc_model.hosts.pypsa import KW_PER_MW, attach_msrc  # noqa: E402

THREE_SITES = (
    "network.layout=table",
    "network.sites=[{name: A, x_m: 0, y_m: 0}, {name: B, x_m: 500, y_m: 0}, {name: C, x_m: 250, y_m: 433}]",
    "traffic.users=30", "traffic.area_side_m=600",
)


def load_example():
    spec = importlib.util.spec_from_file_location("pypsa_host", REPO / "docs" / "examples" / "pypsa_host.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_example()


@pytest.fixture(scope="module")
def runs(example):
    """The example as it runs: the microgrid alone and with the paper's 19-site cluster (modes as shares, an LP)."""
    return example.solve(with_cluster=False), example.solve(with_cluster=True)


def test_the_cluster_draws_what_its_sites_import_through_lossy_links(runs, example):
    _, joint = runs
    n = joint["network"]
    assert joint["condition"] == "optimal"
    weights = n.snapshot_weightings.generators
    # each sink consumes exactly the site's grid import (MW = kW / 1000), every snapshot
    solution = joint["cluster"].solution()
    sinks = joint["cluster"].sinks
    for site in solution.site.values:
        np.testing.assert_allclose(-n.generators_t.p[sinks[site]].values, solution.grid_import.sel(site=site).values / KW_PER_MW, atol=1e-9)
    assert joint["sink_mwh"] == pytest.approx(joint["grid_import_mwh"], rel=1e-9)
    # the links lose 3 %: the bus gives 1 / 0.97 of what the sites take
    assert joint["supply_mwh"] * example.LINK_EFFICIENCY == pytest.approx(joint["sink_mwh"], rel=1e-6)
    # the cluster's own balance (Eq. 17): site power = batteries + EVs + import, every site and snapshot
    drawn = solution.battery_power + solution.ev_power + solution.grid_import
    np.testing.assert_allclose(drawn.values, solution.site_power.values, atol=1e-6)
    # cyclic batteries: the day ends as it began, so all the cluster's energy came from the host or its EVs
    start = joint["cluster"].inputs.battery_capacity_kwh * joint["cluster"].inputs.battery_soc_initial
    np.testing.assert_allclose(solution.battery_energy.isel(snapshot=-1).values, start.values, atol=1e-6)
    assert float((solution.site_power * weights.values).sum()) / KW_PER_MW > 0.1  # 19 sites over 6 h draw real energy
    # PyPSA's own nodal balance at the host's bus, from its results
    bus = (n.generators_t.p[["PV", "grid"]].sum(axis=1) + n.storage_units_t.p["battery"]
           - n.loads_t.p["local load"] - n.links_t.p0[[f"{s} supply" for s in sinks]].sum(axis=1))
    np.testing.assert_allclose(bus.values, 0.0, atol=1e-8)


def test_the_objective_rises_by_the_cost_of_the_cluster(runs):
    alone, joint = runs
    prices = joint["prices"]
    extra = joint["cost"] - alone["cost"]
    assert extra > 0
    # the host pays for what the cluster draws at its marginal prices (the LP's duals), and the V2G energy
    v2g = float(joint["cluster"].block.v2g_cost().solution)
    weights = joint["network"].snapshot_weightings.generators
    supply = joint["network"].links_t.p0[[f"{s} supply" for s in joint["cluster"].sinks]].sum(axis=1)
    at_marginal_prices = float((supply * prices * weights).sum())
    assert extra == pytest.approx(at_marginal_prices + v2g, rel=1e-4)
    assert (prices > 0).all()


def test_binary_modes_and_relax_and_fix_give_the_host_its_prices(example):
    joint = example.solve(with_cluster=True, integer_modes=True, steps=8, overrides=THREE_SITES)
    assert joint["condition"] == "optimal"
    assert joint["fixed_cost"] == pytest.approx(joint["cost"], rel=1e-6)  # same dispatch, now an LP
    assert (joint["prices"] > 0).all()  # a MILP has no duals; the fixed LP has them
    assert not joint["cluster"].block.integer_variables()


def test_block_names_stay_out_of_pypsa_components(example, caplog):
    n = example.microgrid(steps=4)
    with pytest.raises(ValueError, match="without '-'"):
        attach_msrc(n, example.cluster_inputs(overrides=THREE_SITES), "microgrid", prefix="Load-p")
    with pytest.raises(ValueError, match="has no bus 'nowhere'"):
        attach_msrc(n, example.cluster_inputs(overrides=THREE_SITES), "nowhere")
    # a prefix that names a PyPSA component ("Load-p" used to land in n.loads_t) is harmless with the colon
    cluster = attach_msrc(n, example.cluster_inputs(overrides=THREE_SITES), "microgrid", prefix="Load", traffic="site",
                          ev_model="fleet", exclusive_battery=False, integer_modes=False)
    with pytest.raises(ValueError, match="step_s come from the network"):
        attach_msrc(n, example.cluster_inputs(overrides=THREE_SITES), "microgrid", name="other", step_s=900)
    with caplog.at_level(logging.WARNING, logger="pypsa"):
        status, _ = n.optimize(extra_functionality=cluster.build, include_objective_constant=False, **example.LP_SOLVER)
    assert status == "ok"
    assert not [r for r in caplog.records if "msrc" in r.getMessage()]
    assert any(name.startswith("Load:") for name in n.model.variables)
    assert set(n.generators_t.p.columns) == {"PV", "grid", *cluster.sinks}  # nothing of the block's written into PyPSA's tables
    assert list(n.loads_t.p.columns) == ["local load"]
    assert not any(name.startswith(("Load:", "msrc")) for table in n.loads_t.values() for name in table.columns)
    assert float(cluster.block.data.time_step_h) == 0.25  # the snapshot weightings are the step


def test_the_step_follows_the_snapshot_weightings(example):
    n = example.microgrid(steps=4)
    n.snapshot_weightings = n.snapshot_weightings * 0 + pd.Series([0.25, 0.25, 0.5, 1.0], index=n.snapshots).to_numpy()[:, None]
    cluster = attach_msrc(n, example.cluster_inputs(overrides=THREE_SITES), "microgrid", traffic="site", ev_model="fleet",
                          exclusive_battery=False, integer_modes=False)
    n.optimize.create_model(include_objective_constant=False)
    block = cluster.build(n)
    np.testing.assert_allclose(block.data.time_step_h.values, [0.25, 0.25, 0.5, 1.0])


def test_readme_pypsa_snippet_runs_with_a_network_and_inputs(example, monkeypatch):
    """The README's PyPSA lines, given a network with the bus they name and the inputs of the linopy snippet before them."""
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "attach_msrc(n, inputs" in b)
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2026-06-01", periods=4, freq="15min", name="snapshot"))
    n.snapshot_weightings = n.snapshot_weightings.astype(float) * 0 + 0.25
    n.add("Bus", "my bus")
    n.add("Generator", "supply", bus="my bus", p_nom=1.0, marginal_cost=100.0)
    monkeypatch.chdir(REPO)
    namespace = {"n": n, "inputs": example.cluster_inputs(overrides=THREE_SITES)}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["cluster"].block is not None
    assert float(namespace["cluster"].solution().grid_import.sum()) > 0
    assert not namespace["cluster"].block.integer_variables()  # the host defaults: an LP
