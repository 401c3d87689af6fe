"""The formulation as a guest in someone else's linopy model: no global side effects, checked arguments, labelled results."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import linopy
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import REPO
from msrc_model import build_inputs, load_scenario
from msrc_model.formulation import add_msrc, block_semantics
from msrc_model.formulation.checks import REQUIRED_INPUTS
from msrc_model.formulation.quantities import QUANTITIES
from msrc_model.problems.solve import solve_model

QUIET = {"output_flag": False, "mip_rel_gap": 1e-4, "threads": 1}
THREE_SITES = [
    "network.layout=table",
    "network.sites=[{name: A, x_m: 0, y_m: 0}, {name: B, x_m: 500, y_m: 0}, {name: C, x_m: 250, y_m: 433}]",
    "traffic.users=30", "traffic.area_side_m=600",
]
SNAPSHOTS = pd.RangeIndex(4, name="snapshot")
SUPPLY_PRICE = 5.0  # currency/kWh


@pytest.fixture(scope="module")
def inputs():
    return build_inputs(load_scenario(REPO / "models" / "msrc.yaml", overrides=THREE_SITES).scenario)


@pytest.fixture(scope="module")
def solved(inputs):
    """A solved block (flows, EVs per vehicle) in a host that buys supply and values stored energy at SUPPLY_PRICE, dearer than V2G."""
    model, block = host_block(inputs)
    supply = model.add_variables(lower=0.0, coords=[SNAPSHOTS], name="host-supply")
    model.add_constraints(supply - block.grid_import.sum("site") == xr.DataArray([2.0, 3.0, 2.5, 2.0], coords=[SNAPSHOTS]),
                          name="host-balance")
    assert float(block.data.price_per_kwh.max()) < SUPPLY_PRICE
    model.add_objective((SUPPLY_PRICE * 0.25 * supply).sum() + block.cost(energy_value_per_kwh=SUPPLY_PRICE))
    report = solve_model(model, QUIET)
    assert report.has_solution
    return model, block, report


def host_block(inputs, **options):
    model = linopy.Model()
    arguments = {"snapshots": SNAPSHOTS, "step_s": 900, "aggregate": "class", "traffic": "flows", "grid_limit_kw": 50.0}
    return model, add_msrc(model, inputs, **{**arguments, **options})


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


# ------------------------------------------------------------------ no global side effects

def test_importing_msrc_changes_no_linopy_option():
    out = run_python(
        """
        import linopy
        before = dict(linopy.options._current_values)
        import msrc_model, msrc_model.formulation, msrc_model.problems.stages, msrc_model.problems.plan
        import msrc_model.simulation.controller, msrc_model.cli
        after_import = dict(linopy.options._current_values)
        from msrc_model import build_inputs, load_scenario
        from msrc_model.formulation import add_msrc
        inputs = build_inputs(load_scenario("models/small.yaml").scenario)
        add_msrc(linopy.Model(), inputs, step_s=900, max_duration_s=3600, traffic="site", ev_model="fleet")
        print(before == after_import == dict(linopy.options._current_values))
        """
    )
    assert out == "True"


HOST_UNDER_LEGACY = """
    import linopy, pandas as pd
    {extra}
    m = linopy.Model()
    t = pd.RangeIndex(4, name="snapshot")
    soc = m.add_variables(lower=0, upper=10, coords=[t], name="soc")
    m.add_constraints(soc - soc.shift(snapshot=1) <= 2, name="ramp")
    m.add_objective(-soc.sum())
    m.solve("highs", output_flag=False)
    print("rows", int((m.constraints["ramp"].labels >= 0).sum()), "solution", soc.solution.values.tolist())
"""


def test_a_host_under_legacy_rules_builds_the_same_model_with_msrc_imported():
    """The issue's example: importing msrc used to turn 4 rows into 3 and [2, 4, 6, 8] into [10, 10, 10, 10]."""
    alone = run_python(HOST_UNDER_LEGACY.format(extra=""))
    with_msrc = run_python(HOST_UNDER_LEGACY.format(extra="import msrc_model.formulation, msrc_model.simulation.controller"))
    assert alone == with_msrc == "rows 4 solution [2.0, 4.0, 6.0, 8.0]"


def test_a_block_built_under_legacy_rules_is_the_block_built_under_v1(inputs):
    """The host's rules do not leak into the block: the same rows, the same optimum."""
    def build_and_solve():
        model, block = host_block(inputs)
        model.add_objective(block.grid_import.sum() + 0.1 * block.variables["battery_discharge"].sum())
        report = solve_model(model, QUIET)
        return model.nvars, model.ncons, report.objective

    built = {}
    for rules in ("legacy", "v1"):
        with linopy.options as options:
            options.set_value(semantics=rules)
            built[rules] = build_and_solve()
            assert linopy.options["semantics"] == rules  # the host's rules are back after the build
            with block_semantics():
                assert linopy.options["semantics"] == "v1"
            assert linopy.options["semantics"] == rules
    assert built["legacy"][:2] == built["v1"][:2]
    assert built["legacy"][2] == pytest.approx(built["v1"][2], rel=1e-9)


# ------------------------------------------------------------------ checked arguments

@pytest.mark.parametrize(
    "option, value",
    [("traffic", "flow"), ("aggregate", "klass"), ("aggregate", 1), ("ev_model", "fleets"), ("final_battery", "cycle")],
)
def test_option_typos_are_refused_with_the_allowed_values(inputs, option, value):
    model = linopy.Model()
    with pytest.raises(ValueError, match=rf"{option}={value!r} is not one of"):
        add_msrc(model, inputs, snapshots=SNAPSHOTS, step_s=900, **{option: value})
    assert not model.variables and not model.constraints  # nothing was added


def test_time_dimension_comes_from_the_snapshots(inputs, solved):
    block = solved[1]
    assert block.time_dim == "snapshot"
    assert block.grid_import.dims == ("site", "snapshot")
    with pytest.raises(ValueError, match="time_dim='time' but the snapshots are named 'snapshot'"):
        host_block(inputs, time_dim="time")
    with pytest.raises(ValueError, match="snapshots have no name"):
        host_block(inputs, snapshots=pd.RangeIndex(4))
    _, named = host_block(inputs, snapshots=pd.RangeIndex(1), time_dim="period", traffic="site")
    assert named.time_dim == "period"


def test_step_comes_from_the_snapshots_and_a_contradiction_is_refused(inputs):
    quarter_hours = pd.date_range("2026-01-01", periods=4, freq="15min", name="snapshot")
    _, block = host_block(inputs, snapshots=quarter_hours, step_s=None)
    assert float(block.data.time_step_h) == 0.25
    with pytest.raises(ValueError, match="step_s=1800 s contradicts the snapshots' steps of 900 s"):
        host_block(inputs, snapshots=quarter_hours, step_s=1800)
    with pytest.raises(ValueError, match="contradicts the snapshots' steps"):
        host_block(inputs, snapshots=SNAPSHOTS, snapshot_weightings_h=[0.25] * 4, step_s=1800)
    with pytest.raises(ValueError, match="max_duration_s=7200 s contradicts the snapshots, which span 3600 s"):
        host_block(inputs, max_duration_s=7200)
    with pytest.raises(ValueError, match="do not say how long a step is"):
        host_block(inputs, step_s=None)
    with pytest.raises(ValueError, match="3 snapshot weightings for 4 snapshots"):
        host_block(inputs, step_s=None, snapshot_weightings_h=[0.25] * 3)


def test_unequal_snapshot_weightings_give_unequal_steps(inputs):
    """Energy over a step is power x that step's length: a 1-h step draws 4 times a 15-min one."""
    weights = [0.25, 0.25, 1.0, 0.5]
    model, block = host_block(inputs, step_s=None, snapshot_weightings_h=weights)
    assert list(block.data.time_step_h.values) == weights
    model.add_objective(block.grid_import.sum() + 0.1 * block.variables["battery_discharge"].sum())
    assert solve_model(model, QUIET).has_solution
    solution = block.solution()
    drawn = (solution.battery_power + solution.ev_power + solution.grid_import).sum("site")
    np.testing.assert_allclose(drawn.values, solution.site_power.sum("site").values, atol=1e-6)


def test_missing_inputs_are_listed_in_one_message(inputs):
    with pytest.raises(ValueError, match=r"lack 2 input variables \(battery_capacity_kwh, pair_site\)$"):
        host_block(inputs.drop_vars(["battery_capacity_kwh", "pair_site"]))


def test_a_results_file_opened_without_its_group_gets_the_hint(inputs, tmp_path):
    path = tmp_path / "file.nc"
    inputs[["site_x_m"]].to_netcdf(path, group="inputs")
    xr.Dataset({"survival_time": ((), 1.0)}).to_netcdf(path, mode="a")
    with pytest.raises(ValueError, match=r'group="inputs"') as raised:
        host_block(xr.open_dataset(path))
    assert f"{len(REQUIRED_INPUTS)} input variables" in str(raised.value)


def test_a_model_far_too_large_is_refused_before_anything_is_built(paper_inputs):
    """The defaults on the paper's inputs: the whole 12-h outage at 30 s over every user-site pair."""
    model = linopy.Model()
    with pytest.raises(ValueError, match=r"about [\d,]+ variables \([\d,]+ steps over 12[.\d]* h\), more than max_variables=5,000,000"):
        add_msrc(model, paper_inputs)
    assert not model.variables


def test_names_already_in_the_model_are_refused_and_the_separator_is_used(inputs):
    model, _ = host_block(inputs, snapshots=pd.RangeIndex(1, name="snapshot"), traffic="site", separator=":")
    assert all(name.startswith("msrc:") and "-" not in name for name in model.variables)  # no PyPSA Component-attr form
    with pytest.raises(ValueError, match="already has .* names starting 'msrc:'"):
        add_msrc(model, inputs, snapshots=pd.RangeIndex(1, name="snapshot"), step_s=900, traffic="site", separator=":")


# ------------------------------------------------------------------ results, costs, battery condition

def test_solution_is_labelled_and_unprefixed(solved):
    _, block, _ = solved
    solution = block.solution()
    assert {"grid_import", "site_power", "battery_energy", "mode_active", "band_on"} <= set(solution.data_vars)
    assert not any(name.startswith("msrc") for name in solution.variables)
    for name, variable in solution.data_vars.items():
        assert variable.attrs["units"] and variable.attrs["long_name"], name
        if name in QUANTITIES:
            assert (variable.attrs["units"], variable.attrs["long_name"]) == QUANTITIES[name]
    assert solution.site_power.attrs == {"units": "kW", "long_name": "site power P_i^total (Eq. 4)"}
    assert solution.grid_import.attrs["units"] == "kW"
    assert solution.battery_energy.attrs["units"] == "kWh"
    np.testing.assert_allclose(solution.grid_import.values, block.grid_import.solution.values)


def test_solution_before_a_solve_is_a_clear_error(inputs):
    _, block = host_block(inputs, snapshots=pd.RangeIndex(1, name="snapshot"), traffic="site")
    with pytest.raises(ValueError, match="no solution"):
        block.solution()


def test_every_block_quantity_has_units(inputs):
    names = set()
    one_step = pd.RangeIndex(1, name="snapshot")
    for options in ({"traffic": "pairs", "aggregate": False}, {"traffic": "site", "ev_model": "fleet"}):  # flows: the solved fixture
        _, block = host_block(inputs, **options, snapshots=one_step, allow_dark=True, sla_shortfall=options["traffic"] == "pairs")
        block.eq18({"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1})
        names |= set(block.variables) | set(block.expressions)
    from msrc_model.formulation import SOLUTION_NAMES
    from msrc_model.formulation.quantities import quantity_attrs

    for name in names:
        quantity_attrs(SOLUTION_NAMES.get(name, name))  # raises for a quantity without units


def test_end_of_horizon_battery_condition(inputs):
    """A cost-minimising host would empty the batteries (free energy); the condition stops it."""
    full = inputs.battery_capacity_kwh * float(inputs.battery_soc_max)
    half = full / 2
    ends = {}
    for final, start in (("free", full), ("cyclic", full), ("at_least_initial", half)):
        model, block = host_block(inputs, final_battery=final, initial_battery_kwh=start, traffic="site", ev_model="fleet")
        model.add_objective(block.grid_import.sum())
        assert solve_model(model, QUIET).has_solution
        ends[final] = block.solution().battery_energy.isel(snapshot=-1)
    assert float(ends["free"].sum()) < float(full.sum()) - 1.0  # the free host spends stored energy
    np.testing.assert_allclose(ends["cyclic"].values, full.values, atol=1e-6)
    assert bool((ends["at_least_initial"] >= half - 1e-6).all())


def test_cost_is_the_v2g_energy_at_the_eq16_price_less_the_value_of_energy_left(solved):
    _, block, _ = solved
    solution = block.solution()
    price = block.data.price_per_kwh.values[block.data.ev_site.values]  # (ev, snapshot), currency/kWh
    by_hand = float((price * solution.ev_discharge.values * 0.25).sum())
    assert by_hand > 0
    assert float(block.v2g_cost().solution) == pytest.approx(by_hand, rel=1e-9)
    left = float(solution.battery_energy.isel(snapshot=-1).sum())
    assert float(block.cost(0.3).solution) == pytest.approx(by_hand - 0.3 * left, rel=1e-9)


def test_relax_and_fix_keeps_the_optimum_and_gives_duals(solved):
    model, block, milp = solved
    fixed = block.fix_integers()
    try:
        assert "mode" in fixed and not block.integer_variables()
        lp = solve_model(model, QUIET)
        assert lp.objective == pytest.approx(milp.objective, rel=1e-6)
        prices = model.constraints["host-balance"].dual
        np.testing.assert_allclose(prices.values, SUPPLY_PRICE * 0.25, rtol=1e-6)  # the host's marginal cost of supply
    finally:
        block.unfix_integers()
    assert set(block.integer_variables()) == set(fixed)


def test_integer_modes_false_makes_a_pure_lp_no_dearer_than_the_milp(inputs):
    costs = {}
    for integer in (True, False):
        model, block = host_block(inputs, traffic="site", ev_model="fleet", exclusive_battery=False, integer_modes=integer)
        model.add_objective(block.grid_import.sum())
        assert solve_model(model, QUIET).has_solution
        costs[integer] = float(block.grid_import.solution.sum())
        assert bool(block.integer_variables()) is integer
    assert costs[False] <= costs[True] + 1e-6


# ------------------------------------------------------------------ the README's snippet

def test_readme_snippet_runs_as_written(monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "add_msrc(m, inputs" in b)
    monkeypatch.chdir(REPO)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["block"].grid_import.dims == ("site", "snapshot")
    assert namespace["block"].data.sizes["snapshot"] == 24
