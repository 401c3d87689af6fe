"""The Stage-2 radio problem built once and updated in place (:class:`RadioProblem`) against fresh builds."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from msrc_model.formulation import model_data
from msrc_model.physics import ASSISTED, DARK, HELPING, NORMAL, SLEEP
from msrc_model.problems.solve import solve_model
from msrc_model.problems.stages import RadioProblem, build_stage2, set_term_coefficients

WEIGHTS = {"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1}
OPTIONS = {"time_limit": 600.0, "mip_rel_gap": 1e-6, "log_to_console": False, "output_flag": False, "threads": 1}


@pytest.fixture(scope="module")
def radio_data(paper_inputs):
    return model_data(paper_inputs, step_s=30, max_duration_s=30).isel(ev=[])


def a_state(data, seed: int) -> dict:
    """Random modes (every kind, some sites dark), offered pairs, interference-cut rates and carrier sets."""
    rng = np.random.default_rng(seed)
    n_site, n_pair = data.sizes["site"], data.sizes["pair"]
    codes = rng.choice([NORMAL, HELPING, ASSISTED, SLEEP, DARK], size=n_site, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    modes = xr.DataArray(codes[:, None], dims=("site", "time"), coords={"site": data.site.values, "time": data.time.values})
    coverage = data.pair_coverage.values.copy()
    coverage[:, NORMAL] = 1.0
    coverage[rng.random(n_pair) < 0.3] = 0.0  # pairs not offered
    envelope = data.pair_rate_per_share_mbps.values
    rates = envelope * rng.uniform(0.2, 1.0, size=envelope.shape)
    rates[rng.random(envelope.shape) < 0.1] = 0.0  # a band the interference silences
    carriers = rng.random((n_site, data.sizes["band"])) < 0.8
    # as Stage 1's carrier sets: every site keeps its widest band, the one a helper needs (Eq. 5) and an assisted
    # site may use (Eq. 25), so no awake site is left without a carrier (Eq. 24)
    carriers[:, int(np.argmax(data.band_reach_m.values))] = True
    return {"modes": modes, "coverage": coverage, "rates": rates, "carriers": carriers}


def fresh(data, state, mask, **kwargs):
    """The state built directly, by the same function, with no update."""
    data = data.copy()
    data["pair_coverage"] = data.pair_coverage.copy(data=state["coverage"])
    data["pair_rate_per_share_mbps"] = data.pair_rate_per_share_mbps.copy(data=state["rates"])
    return RadioProblem(data, state["modes"], WEIGHTS, band_share_mask=mask, carriers=state["carriers"], **kwargs)


def kept(data, states, mask, **kwargs):
    """Built at the first state, then updated through the others (solving at each, as the controller does)."""
    problem = fresh(data, states[0], mask, **kwargs)
    problem.solve(OPTIONS)
    for state in states[1:]:
        problem.set_state(state["modes"], state["coverage"], state["rates"], state["carriers"])
        problem.solve(OPTIONS)
    return problem


def matrices(model):
    m = model.matrices
    a = m.A.tocsr()
    a.sort_indices()
    return {"A": a, "b": m.b, "sense": m.sense, "lb": m.lb, "ub": m.ub, "c": m.c, "vtypes": m.vtypes}


@pytest.mark.parametrize("seeds", [(0, 1, 2)])
def test_an_updated_radio_problem_is_the_fresh_build_of_its_last_state(radio_data, seeds):
    states = [a_state(radio_data, seed) for seed in seeds]
    mask = radio_data.pair_rate_per_share_mbps > 0
    problem, reference = kept(radio_data, states, mask), fresh(radio_data, states[-1], mask)
    assert problem.solver.rebuilds == 0  # every update went into the kept HiGHS model in place
    got, want = matrices(problem.model), matrices(reference.model)
    a, b = got.pop("A"), want.pop("A")
    assert a.shape == b.shape
    for part in ("indptr", "indices", "data"):  # the same non-zeros with the same values
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=f"A.{part}")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    # same model, solved cold: the same solution, whatever the kept model solved before
    reference.solve(OPTIONS)
    for name in ("association", "band_share", "band_on", "sla_shortfall"):
        np.testing.assert_array_equal(problem.block.variables[name].solution.values, reference.block.variables[name].solution.values)


@pytest.mark.parametrize("seed", [3])
def test_values_read_from_highs_are_the_written_back_solution(radio_data, seed):
    """A solve without write-back, read through ``values``, gives what a written-back solve holds, variable by variable."""
    state = a_state(radio_data, seed)
    mask = radio_data.pair_rate_per_share_mbps > 0
    problem = fresh(radio_data, state, mask)
    report = problem.solve(OPTIONS, write_back=False)
    assert report.has_solution
    names = list(problem.block.variables)
    assert {"association", "band_share", "band_on", "sla_shortfall"} <= set(names)
    read = problem.values(*names)
    assert np.isnan(read[names.index("band_share")].values).any()  # masked out where a band carries nothing: no column
    problem.solve(OPTIONS)
    for name, values in zip(names, read):
        written = problem.block.variables[name].solution
        assert values.dims == written.dims
        np.testing.assert_array_equal(values.values, written.values, err_msg=name)
    # the controller's second solve: the carriers fixed (bounds changed in the kept HiGHS model), read the same way
    band_on = problem.block.variables["band_on"]
    activation = band_on.solution.fillna(0.0)
    fixed = ((activation > 0.5) | (activation == activation.max("band"))).astype(float)  # the most active one kept (Eq. 24)
    band_on.update(lower=fixed, upper=fixed)
    assert problem.solve(OPTIONS, write_back=False).has_solution
    again = problem.values(*names)
    problem.solve(OPTIONS)
    for name, values in zip(names, again):
        np.testing.assert_array_equal(values.values, problem.block.variables[name].solution.values, err_msg=name)


@pytest.mark.parametrize("seed", [5])
def test_the_radio_problem_has_the_optimum_of_stage2_built_on_the_offered_pairs(radio_data, seed):
    """Every pair kept, shares held at 0 where a rate is 0, rates in one row: the optimum of the plain build."""
    state = a_state(radio_data, seed)
    mask = radio_data.pair_rate_per_share_mbps > 0
    problem = kept(radio_data, [a_state(radio_data, seed + 100), state], mask)
    report = problem.solver.solve(OPTIONS)
    data = radio_data.copy()
    data["pair_coverage"] = data.pair_coverage.copy(data=state["coverage"])
    data["pair_rate_per_share_mbps"] = data.pair_rate_per_share_mbps.copy(data=state["rates"])
    model, block = build_stage2(data, state["modes"], WEIGHTS, binary_association=False, exclusive_battery=False, integer_carriers=False, sla_shortfall=True)
    band_on = block.variables["band_on"]
    band_on.update(upper=np.minimum(band_on.upper, xr.DataArray(state["carriers"][:, :, None].astype(float), dims=band_on.upper.dims, coords=band_on.upper.coords)))
    plain = solve_model(model, OPTIONS)
    assert report.termination == plain.termination == "optimal"
    assert report.objective == pytest.approx(plain.objective, rel=1e-7, abs=1e-7)
    # and the same SLA shortfall per user, the term priced far above all others
    shortfall = problem.block.variables["sla_shortfall"].solution.sum()
    assert float(shortfall) == pytest.approx(float(block.variables["sla_shortfall"].solution.sum()), abs=1e-6)


def test_set_term_coefficients_changes_one_variables_terms_and_refuses_a_zero():
    import linopy

    model = linopy.Model()
    x = model.add_variables(lower=0, coords=[range(3)], name="x")
    y = model.add_variables(lower=0, coords=[range(3)], name="y")
    row = model.add_constraints(2 * x + 3 * y <= 10, name="row")
    set_term_coefficients(row, x, xr.DataArray([5.0, 6.0, 7.0], dims=x.labels.dims, coords=x.labels.coords))
    terms = row.vars.values
    coeffs = row.coeffs.values
    np.testing.assert_array_equal(coeffs[terms == x.labels.values[:, None]], [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(coeffs[terms == y.labels.values[:, None]], [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="pattern of non-zeros"):
        set_term_coefficients(row, y, xr.DataArray([1.0, 0.0, 1.0], dims=y.labels.dims, coords=y.labels.coords))
