"""The composable example: the cluster inside a host linopy model changes the host's optimum."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import REPO


def load_example():
    spec = importlib.util.spec_from_file_location("host_model", REPO / "docs" / "examples" / "host_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cluster_added_to_host_raises_cost_by_its_energy():
    example = load_example()
    alone = example.solve(with_cluster=False)
    joint = example.solve(with_cluster=True)
    # the host alone burns fuel for its local load only: 20 kW x 4 x 0.5 h x 0.3 = 12
    assert alone["cost"] == pytest.approx(0.3 * 20.0 * 2.0)
    # with empty batteries every kWh the cluster draws comes from the generator
    assert joint["cluster_kwh"] == pytest.approx(joint["cluster_power_kwh"], rel=1e-6)
    assert joint["cost"] - alone["cost"] == pytest.approx(0.3 * joint["cluster_kwh"], rel=1e-6)
    # at least one awake site with one band (3 sectors x 0.263 kW + 3 idle bands x 0.15 kW)
    # and two sleeping sites (0.1 kW each) for 2 h
    assert joint["cluster_kwh"] >= 2 * (3 * 0.2626 + 3 * 0.15 + 2 * 0.1) - 1e-6
    # the block added only its own, prefixed names to the host model
    assert all(name == "diesel-p" or name.startswith("bs-") for name in joint["names"])


def test_example_runs_as_a_script(capsys):
    load_example().main()
    out = capsys.readouterr().out
    assert "host alone:" in out and "host with cluster:" in out
