"""`msrc solve` with run.mode plan: results written, failures reported with their cause."""

from __future__ import annotations

import math

import xarray as xr

from conftest import PAPER_YAML, run_msrc
from msrc_model.inputs import build_inputs
from msrc_model.config.loader import load_scenario
from msrc_model.problems.plan import build_plan, plan_results
from msrc_model.problems.solve import SolveReport, highs_options, solve_model

TINY = (
    f"extends: {PAPER_YAML}\n"
    "network:\n  layout: table\n  sites:\n"
    "    - {name: A, x_m: 0, y_m: 0}\n    - {name: B, x_m: 500, y_m: 0}\n    - {name: C, x_m: 250, y_m: 433}\n"
    "traffic:\n  users: 20\n  area_side_m: 600\n"
    "controller: {max_duration_h: 2}\n"
    "formulation: {plan_step_min: 30}\n"
    "run: {mode: plan}\n"
)
IMPOSSIBLE_SLA = (
    "  classes:\n" + "".join(f"    {c}: {{share: 0}}\n" for c in ("emergency", "voice", "essential", "best_effort"))
    + "    heavy: {share: 1, weight: 10, demand: {distribution: constant, rate_mbps: 400}, min_rate_fraction: 1}\n"
)


def test_plan_is_written_with_units_and_status(tmp_path):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    out = tmp_path / "plan.nc"
    result = run_msrc("solve", str(scenario), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "optimal" in result.stdout and f"wrote {out}" in result.stdout
    with xr.open_datatree(out) as tree:
        assert set(tree.children) == {"inputs", "results"}
        results = tree["results"].to_dataset()
        assert results.mode.dims == ("site", "time") and results.sizes["time"] == 4
        assert results.battery_energy.attrs["units"] == "kWh"
        assert results.site_power.attrs["units"] == "kW"
        assert results.time.attrs["units"] == "s"
        assert float(results.survival_time) == 2.0
        assert results.attrs["solver_termination"] == "optimal"
        assert float(results.mip_gap) <= 0.01
        for name, variable in results.data_vars.items():
            assert "units" in variable.attrs, name
    # msrc show reads a plan back: how the solve ended, T_surv and the modes, from the file's own values
    shown = run_msrc("show", str(out))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("plan (run.mode plan, perfect foresight): 3 sites, 4 steps of 30 min (2 h)")
    assert "solve: optimal" in lines[1] and lines[2] == "survival time 2.00 h"
    modes = results.mode.values
    assert f"normal {(modes == 0).mean():.0%}" in shown.stdout
    # msrc plot draws its battery energy and modes (no site map: a plan has no per-user service)
    drawn = run_msrc("plot", str(out), "-o", str(tmp_path / "figures"))
    assert drawn.returncode == 0, drawn.stderr
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["battery_energy.png", "modes.png"]
    assert all((tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in ("battery_energy.png", "modes.png"))


def test_infeasible_plan_names_the_conflict_and_writes_nothing(tmp_path):
    scenario = tmp_path / "impossible.yaml"
    scenario.write_text(TINY.replace("traffic:\n  users: 20\n", "traffic:\n  users: 20\n" + IMPOSSIBLE_SLA), encoding="utf-8")
    out = tmp_path / "plan.nc"
    result = run_msrc("solve", str(scenario), "-o", str(out))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no plan: infeasible: constraints in conflict: ")
    assert "msrc-eq10_sla" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["impossible.yaml"]


def test_time_limited_incumbent_is_kept_and_marked(tmp_path):
    """A solve stopped early with an incumbent: its decisions are kept, its status and gap recorded."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    scenario = load_scenario(path).scenario
    plan = build_plan(scenario, build_inputs(scenario))
    solved = solve_model(plan.model, highs_options(scenario.solver))
    stopped = SolveReport("ok", "time_limit", True, solved.objective, solved.objective * 1.05, 0.05, 1.0)
    results = plan_results(plan, stopped)
    assert results.attrs["solver_termination"] == "time_limit"
    assert results.attrs["solver_message"] == "time_limit, gap 5.00 %"
    assert float(results.mip_gap) == 0.05
    assert "mode" in results and not math.isnan(float(results.survival_time))
