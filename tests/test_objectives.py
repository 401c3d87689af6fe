"""Optimality of every objective term, both ways, on instances small enough to solve by hand.

Each test sets up a tiny instance whose best decision follows from the objective's definition
(docs/model.md, "Stage objectives" and "Scaling of the Eq. 18 terms"), checks that the solver
takes it and that a worse decision, forced by an extra constraint, scores lower by the amount
worked out in the comments, then changes a weight or the situation so that the best decision
changes and checks that the solver follows. A flipped sign or a dropped term fails a test.

Every solve runs on one thread to optimality (gap 0) under work limits; the clock limit is a
safety net only.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import xarray as xr

from conftest import tiny_scenario
from msrc_model.formulation import add_msrc, block_semantics, model_data
from msrc_model.formulation.site_level import site_level_data
from msrc_model.inputs import build_inputs
from msrc_model.physics import band_power_coefficients, peak_supply_kw
from msrc_model.problems.solve import solve_model
from msrc_model.problems.stages import build_dispatch, build_stage1, build_stage2

OPTIONS = {
    "threads": 1, "mip_rel_gap": 0.0, "mip_abs_gap": 0.0, "mip_max_nodes": 20000,
    "simplex_iteration_limit": 200000, "time_limit": 300.0, "log_to_console": False, "output_flag": False,
}
COST_REFERENCE_PER_KWH = 1.5  # pricing.cost_reference_per_kwh's default, currency/kWh
PAPER = {"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1}
NO_WEIGHTS = {"survival": 0.0, "service": 0.0, "v2g_cost": 0.0, "mode_switching": 0.0}
NORMAL, HELPING, ASSISTED, SLEEP = "normal", "helping", "assisted", "sleep"
FLOOR_KWH = 4.0  # SOC_min 0.2 x 20 kWh
ETA = 0.95  # battery discharge and charge efficiency
# no SLA and no QoS target: every Stage-1 carrier set is allowed, nothing obliges a site to serve
NO_TARGETS = tuple(
    f"traffic.classes.{c}.{k}=0" for c in ("emergency", "voice", "essential", "best_effort") for k in ("qos_target", "min_rate_fraction")
)


def weights(**given: float) -> dict[str, float]:
    return {**NO_WEIGHTS, **given}


def solve(model):
    report = solve_model(model, OPTIONS, diagnose=False)
    assert report.termination == "optimal", report.message
    return report


def force(model, expression, value: float, name: str) -> None:
    """Add ``expression == value`` (a worse decision the next solve must take)."""
    with block_semantics():
        model.add_constraints(expression == value, name=name)


def tiny_inputs(directory, sites, *, users: int, load: float = 1.0, overrides: tuple[str, ...] = ()):
    return build_inputs(tiny_scenario(directory, sites, users=users, load=load, overrides=overrides))


def site_array(data, values) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims="site", coords={"site": data.site.values})


def site_time_array(data, values) -> xr.DataArray:
    values = np.broadcast_to(np.asarray(values, dtype=float), (data.sizes["site"], data.sizes["time"]))
    return xr.DataArray(values.copy(), dims=("site", "time"), coords={"site": data.site.values, "time": data.time.values})


def mode_of(block, site: str) -> list[str]:
    """The mode (name) of a site at each step of a solved block with mode variables."""
    gamma = block.variables["mode"].solution.sel(site=site).transpose("time", "mode")
    return [str(gamma.mode.values[i]) for i in np.argmax(gamma.values, axis=1)]


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def pair_data(tmp_path_factory):
    """Sites A (0, 0) and B (500 m east; kappa = 1 each way), 10 light users, two 1-h blocks, site-level data.

    Normal-mode power ~3.58 kW (A) and ~3.77 kW (B), sleep 0.1 kW; A reaches every user of B
    and B every user of A (the arc reach equals the client's demand), so a sleeping site loses
    no service when its neighbour helps.
    """
    inputs = tiny_inputs(tmp_path_factory.mktemp("pair"), [("A", 0, 0), ("B", 500, 0)], users=10)
    data = site_level_data(model_data(inputs, steps_s=[3600.0, 3600.0]))
    assert data.sizes["ev"] == 0 and bool(data.kappa_ok.all())
    np.testing.assert_allclose(data.arc_reach_sleep_mbps.values, data.site_demand_mbps.values[data.edge_assisted.values])
    return data


@pytest.fixture(scope="module")
def lone_heavy_data(tmp_path_factory):
    """One site, no neighbour (so it stays normal), 12 users at 40x load (~810 Mbit/s), no SLA or QoS targets.

    Every carrier set is allowed; the full set serves the most and draws the most, single
    carriers the least.
    """
    inputs = tiny_inputs(tmp_path_factory.mktemp("lone"), [("A", 0, 0)], users=12, load=40.0, overrides=NO_TARGETS)
    return site_level_data(model_data(inputs, steps_s=[3600.0, 3600.0]))


@pytest.fixture(scope="module")
def radio_data(tmp_path_factory):
    """One site in normal mode for one 30-s step, four users: voice (w 100, SLA = demand), two essential
    (w 10, SLA = half their demand) and one best effort (w 1, no SLA); a few Mbit/s against
    hundreds of capacity per carrier."""
    inputs = tiny_inputs(tmp_path_factory.mktemp("radio"), [("A", 0, 0)], users=4)
    data = model_data(inputs, step_s=30, max_duration_s=30)
    np.testing.assert_array_equal(data.user_weight.values, [100.0, 10.0, 1.0, 10.0])
    np.testing.assert_array_equal(data.user_required_share.values, [1.0, 1.0, 0.0, 1.0])
    return data


def normal_modes(data):
    return xr.DataArray(np.zeros((data.sizes["site"], 1), dtype=int), dims=("site", "time"), coords={"site": data.site, "time": data.time})


# ---------------------------------------------------------------------------------------------------- dispatch
V2X_KW = 7.0
BATTERY_KW = 10.0


def dispatch(load, price, w, *, ev_kw=None, cost_scale=None):
    """Solve the dispatch with the scales the controller passes: the cluster's peak supply
    (battery P_dis^max + V2X limit per site) and, unless given, the reference price x V2X limit x
    sites (``physics.v2g_cost_scale_per_h``, the Eq. 18 scaling of the V2G cost)."""
    load = np.asarray(load, dtype=float)
    price = np.asarray(price, dtype=float)
    n = len(load)
    ev_kw = np.full(n, V2X_KW) if ev_kw is None else np.asarray(ev_kw, dtype=float)
    peak = (BATTERY_KW + V2X_KW) * n
    scale = COST_REFERENCE_PER_KWH * V2X_KW * n if cost_scale is None else cost_scale
    model = build_dispatch(load, np.full(n, BATTERY_KW), ev_kw, price, w, battery_scale_kw=peak, cost_scale=scale)
    return model


def test_dispatch_cheap_v2g_carries_the_load_and_beats_the_battery():
    """One site, 4 kW of load, price 0.6, paper weights, cost scale 1.5 x 7 (reference price x V2X limit).
    Per kW: battery 0.5 / 17 = 0.02941, V2G 0.1 x 0.6 / (1.5 x 7) = 0.00571: the EVs carry all
    4 kW (objective 0.02286); the battery alone would cost 4 x 0.02941 = 0.11765."""
    model = dispatch([4.0], [0.6], PAPER)
    report = solve(model)
    assert float(model.variables["ev_power"].solution.sum()) == pytest.approx(4.0, abs=1e-7)
    assert float(model.variables["battery_power"].solution.sum()) == pytest.approx(0.0, abs=1e-7)
    assert report.objective == pytest.approx(4 * 0.1 * 0.6 / 10.5, rel=1e-7)
    force(model, model.variables["ev_power"].sum(), 0.0, "battery_only")
    worse = solve(model)
    assert worse.objective == pytest.approx(4 * 0.5 / 17, rel=1e-7)
    assert worse.objective > report.objective
    # EVs that can give only 1.5 kW: they give all of it, the battery the rest
    model = dispatch([4.0], [0.6], PAPER, ev_kw=[1.5])
    solve(model)
    assert float(model.variables["ev_power"].solution.sum()) == pytest.approx(1.5, abs=1e-7)
    assert float(model.variables["battery_power"].solution.sum()) == pytest.approx(2.5, abs=1e-7)


def test_dispatch_high_cost_weight_low_survival_weight_draws_the_battery():
    """Weights survival 0.05, v2g_cost 0.9, price 0.6: per kW battery 0.05 / 17 = 0.00294, V2G
    0.9 x 0.6 / 10.5 = 0.05143: the battery carries the 4 kW (0.01176); V2G alone would cost
    4 x 0.05143 = 0.20571."""
    w = weights(survival=0.05, v2g_cost=0.9)
    model = dispatch([4.0], [0.6], w)
    report = solve(model)
    assert float(model.variables["battery_power"].solution.sum()) == pytest.approx(4.0, abs=1e-7)
    assert float(model.variables["ev_power"].solution.sum()) == pytest.approx(0.0, abs=1e-7)
    assert report.objective == pytest.approx(4 * 0.05 / 17, rel=1e-7)
    force(model, model.variables["ev_power"].sum(), 4.0, "ev_only")
    worse = solve(model)
    assert worse.objective == pytest.approx(4 * 0.9 * 0.6 / 10.5, rel=1e-7)
    assert worse.objective > report.objective


def test_dispatch_the_dearer_site_draws_its_battery_the_cheaper_one_its_evs():
    """Two sites, 3 kW each, prices 1.2 and 0.5 (Eq. 16: the first site's battery is nearer empty),
    weights survival 0.5, v2g_cost 0.3. Per kW: battery 0.5 / 34 = 0.01471; V2G 0.3 x rho / (1.5 x 7 x 2)
    = 0.01714 at the dear site, 0.00714 at the cheap one."""
    w = weights(survival=0.5, v2g_cost=0.3)
    model = dispatch([3.0, 3.0], [1.2, 0.5], w)
    report = solve(model)
    np.testing.assert_allclose(model.variables["ev_power"].solution.values, [0.0, 3.0], atol=1e-7)
    np.testing.assert_allclose(model.variables["battery_power"].solution.values, [3.0, 0.0], atol=1e-7)
    assert report.objective == pytest.approx(3 * 0.5 / 34 + 3 * 0.3 * 0.5 / 21, rel=1e-7)
    # swap the prices: the sites swap their sources
    model = dispatch([3.0, 3.0], [0.5, 1.2], w)
    solve(model)
    np.testing.assert_allclose(model.variables["ev_power"].solution.values, [3.0, 0.0], atol=1e-7)


def test_dispatch_with_a_fixed_cost_scale_a_higher_price_lowers_v2g_use():
    """The dispatch model itself prices V2G: with the cost scale held at 0.5 x 7 (one site), per kW
    V2G costs 0.1 x 0.5 / 3.5 = 0.01429 at price 0.5 (below the battery's 0.02941: EVs carry the
    load) and 0.1 x 5 / 3.5 = 0.14286 at price 5 (above it: the battery does)."""
    used = {}
    for price in (0.5, 5.0):
        model = dispatch([4.0], [price], PAPER, cost_scale=0.5 * V2X_KW)
        solve(model)
        used[price] = float(model.variables["ev_power"].solution.sum())
    assert used == pytest.approx({0.5: 4.0, 5.0: 0.0}, abs=1e-7)


def test_dispatch_higher_base_price_lowers_v2g_use():
    """Eq. 16 scales every site's price with rho_base; Eq. 18 charges lambda_3 rho P Delta t, so a
    dearer base price must not leave V2G use unchanged. Same load, same remaining battery times,
    rho_base 0.5 against 50 (a hundredfold), with the cost scale the controller computes
    (reference price 1.5 x 7 kW x 1 site). Per kW: battery 0.5 / 17 = 0.0294; V2G 0.1 rho / 10.5 with
    rho = rho_base x 2.027: 0.0097 at rho_base 0.5 (the EVs carry the load), 0.965 at 50 (the battery
    does). A scale that grew with the price (the largest posted price) would cancel rho_base."""
    urgency = 1.0 + 2.0 * math.exp(-1.0 / 1.5)  # Eq. 16 with alpha 2, tau 1.5 h, T_hat = 1 h
    used = {}
    for base in (0.5, 50.0):
        model = dispatch([4.0], [base * urgency], PAPER)
        solve(model)
        used[base] = float(model.variables["ev_power"].solution.sum())
    assert used[0.5] == pytest.approx(4.0, abs=1e-7)  # cheap V2G carries the load
    assert used[50.0] < used[0.5] - 1e-6, f"V2G use {used} does not fall when the base price rises a hundredfold"


# ---------------------------------------------------------------------------------------------------- Stage 1
# Stage-1 models are built once per weight set (a build is most of a test's time) and given each
# test's state through their handles; the worse decisions are forced by a constraint removed after.
LOW = weights(survival=1.0, mode_switching=0.01, v2g_cost=1.0)
HIGH = weights(survival=1.0, mode_switching=10.0, v2g_cost=100.0)


@contextlib.contextmanager
def forced(model, expression, value: float, name: str):
    """``expression == value`` while the ``with`` body runs."""
    with block_semantics():
        model.add_constraints(expression == value, name=name)
    try:
        yield
    finally:
        model.remove_constraints(name)


def b_fleet(data, kwh: float):
    """EVs at the last site (B) only: up to 7 kW, ``kwh`` usable energy offered from the first block on."""
    at_b = (np.arange(data.sizes["site"]) == data.sizes["site"] - 1)[:, None].astype(float)
    return site_time_array(data, 7.0 * at_b), site_time_array(data, kwh * at_b)


def stage1(data, w):
    return build_stage1(data, w, initial_battery_kwh=site_array(data, [16.0] * data.sizes["site"]), ev_fleet=b_fleet(data, 0.0))


def set_state(problem, usable_kwh, fleet_kwh: float = 0.0):
    """Usable battery energy (kWh above the floor) per site, EVs at B, every site normal before the call."""
    data = problem.block.data
    problem.set_state(
        battery_kwh=site_array(data, FLOOR_KWH + np.asarray(usable_kwh, dtype=float)),
        ev_fleet=b_fleet(data, fleet_kwh),
        dark=site_array(data, [0.0] * data.sizes["site"]).astype(bool),
        mode_before=site_array(data, [0] * data.sizes["site"]).astype(int),
    )


@pytest.fixture(scope="module")
def stage1_low(pair_data):
    return stage1(pair_data, LOW)


@pytest.fixture(scope="module")
def stage1_high(pair_data):
    return stage1(pair_data, HIGH)


def remaining_s(problem) -> float:
    return float(problem.block.expressions["eq26_min_remaining_time_h"].solution)


def term(problem, name: str) -> float:
    return float(problem.block.objective_terms()[name].solution)


def normal_kw(data, site: str) -> float:
    return float(data.site_mode_power_kw.sel(site=site, mode=NORMAL))


def sleeping_remaining_h(data, site: str, usable: float, hours: float = 2.0) -> float:
    """Eq. 26 for a site asleep (0.1 kW) over the horizon: (usable - 0.1 H / eta) / P_normal."""
    return (usable - 0.1 * hours / ETA) / normal_kw(data, site)


def awake_remaining_h(data, site: str, usable: float, hours: float = 2.0) -> float:
    """Eq. 26 for a site kept normal on its cheapest allowed carrier set."""
    sets = data.site_carrier_set_power_kw.sel(site=site).where(data.site_carrier_set_allowed.sel(site=site))
    return (usable - hours * float(sets.min()) / ETA) / normal_kw(data, site)


def v2g_kwh(problem) -> float:
    return float((problem.block.variables["ev_fleet_power"].solution * problem.block.data.time_step_h).sum())


def test_stage1_eq26_saves_the_weakest_site(pair_data, stage1_low):
    """B has 1 kWh above its floor, A 12; weights survival 1, switching 0.01, V2G cost 1 (no EVs yet).
    Eq. 26 scores the least remaining time: B asleep both hours (A helping, Eq. 21) ends with
    1 - 0.2 / 0.95 = 0.7895 kWh usable: s = 0.7895 / 3.766 = 0.2096 h (A's is far longer), at two
    mode entries (switching term 2 / (2 sites x 2 blocks) = 0.5): objective 100 (s / 2 - 0.01 x 0.5).
    B kept awake on its cheapest carrier set (1.620 kW) ends at 1 - 2 x 1.620 / 0.95 = -2.411 kWh:
    s = -0.640 h, objective 100 s / 2 = -32.0."""
    data, problem = pair_data, stage1_low
    set_state(problem, [12.0, 1.0])
    report = solve(problem.model)
    assert mode_of(problem.block, "B") == [SLEEP, SLEEP]
    assert mode_of(problem.block, "A") == [HELPING, HELPING]
    expected = sleeping_remaining_h(data, "B", 1.0)
    assert expected == pytest.approx(0.2096, abs=1e-4)
    assert remaining_s(problem) == pytest.approx(expected, rel=1e-6)
    assert term(problem, "mode_switching") == pytest.approx(0.5, abs=1e-7)
    assert report.objective == pytest.approx(100 * (expected / 2.0 - 0.01 * 0.5), rel=1e-6)
    with forced(problem.model, problem.block.variables["mode"].sel(site="B", mode=NORMAL).sum(), 2.0, "b_awake"):
        worse = solve(problem.model)
        awake = awake_remaining_h(data, "B", 1.0)
        assert awake == pytest.approx(-0.640, abs=1e-3)
        assert remaining_s(problem) == pytest.approx(awake, rel=1e-6)
        assert worse.objective == pytest.approx(100 * awake / 2.0, rel=1e-6)
    assert worse.objective < report.objective


def test_stage1_eq26_follows_the_weakest_site(pair_data, stage1_low):
    """The same with the batteries swapped: now A is saved (asleep, B helping), s = 0.7895 / 3.581 h."""
    data, problem = pair_data, stage1_low
    set_state(problem, [1.0, 12.0])
    solve(problem.model)
    assert mode_of(problem.block, "A") == [SLEEP, SLEEP]
    assert mode_of(problem.block, "B") == [HELPING, HELPING]
    assert remaining_s(problem) == pytest.approx(sleeping_remaining_h(data, "A", 1.0), rel=1e-6)


def test_stage1_mode_switching_weight_keeps_the_mode(pair_data, stage1_high):
    """As in the Eq. 26 test (B weak, both normal before the call) but a switching weight of 10: the
    sleeping plan's two mode entries cost 100 x 10 x 0.5 = 500 against a survival gain of
    100 (0.2096 + 0.640) / 2 = 42.5, so both sites stay normal (B on its cheapest set, s = -0.640 h)
    and nothing switches. With the weight 0.01 (the test above) B sleeps."""
    data, problem = pair_data, stage1_high
    set_state(problem, [12.0, 1.0])
    stay = solve(problem.model)
    assert mode_of(problem.block, "B") == [NORMAL, NORMAL] and mode_of(problem.block, "A") == [NORMAL, NORMAL]
    assert term(problem, "mode_switching") == pytest.approx(0.0, abs=1e-7)
    assert remaining_s(problem) == pytest.approx(awake_remaining_h(data, "B", 1.0), rel=1e-6)
    assert stay.objective == pytest.approx(100 * awake_remaining_h(data, "B", 1.0) / 2.0, rel=1e-6)
    with forced(problem.model, problem.block.variables["mode"].sel(site="B", mode=SLEEP).sum(), 2.0, "b_asleep"):
        switched = solve(problem.model)
        assert switched.objective == pytest.approx(100 * (sleeping_remaining_h(data, "B", 1.0) / 2.0 - 10.0 * 0.5), rel=1e-6)
    assert switched.objective < stay.objective


def test_stage1_cheap_v2g_feeds_the_weak_site(pair_data, stage1_low):
    """B weak and asleep, its EVs offer 0.5 kWh. The EVs carry B's 0.1 kW in both hours and charge its
    battery with the other 0.3 kWh in the first: end usable 1 + 0.3 x 0.95 = 1.285 kWh,
    s = 1.285 / 3.766 = 0.3412 h against 0.2096 without, a gain of 100 x 0.1316 / 2 = 6.58. The cost
    term, with the 0.4 kWh of the first hour at its lower price, over the fixed scale rho_ref x P^V2X x
    N x H = 1.5 x 7 kW x 2 sites x 2 h = 42: (0.4 rho_B(0) + 0.1 rho_B(1)) / 42 = (0.4 x 0.6251 +
    0.1 x 0.7437) / 42 = 0.00772 (x100 x lambda_3 = 0.77, far below the gain)."""
    data, problem = pair_data, stage1_low
    set_state(problem, [12.0, 1.0], fleet_kwh=0.5)
    report = solve(problem.model)
    power = problem.block.variables["ev_fleet_power"].solution.sel(site="B").values
    np.testing.assert_allclose(power, [0.4, 0.1], atol=1e-6)
    s = (1.0 + 0.3 * ETA) / normal_kw(data, "B")
    assert remaining_s(problem) == pytest.approx(s, rel=1e-6)
    rho_b = data.price_per_kwh.sel(site="B").values
    assert rho_b[0] < rho_b[1]
    cost = (0.4 * rho_b[0] + 0.1 * rho_b[1]) / (COST_REFERENCE_PER_KWH * 7.0 * 2 * 2.0)
    assert cost == pytest.approx(0.00772, abs=1e-5)
    assert term(problem, "v2g_cost") == pytest.approx(cost, rel=1e-6)
    assert report.objective == pytest.approx(100 * (s / 2.0 - 0.01 * 0.5 - cost), rel=1e-6)
    with forced(problem.model, problem.block.variables["ev_fleet_power"].sum(), 0.0, "no_v2g"):
        without = solve(problem.model)
        assert without.objective == pytest.approx(100 * (sleeping_remaining_h(data, "B", 1.0) / 2.0 - 0.01 * 0.5), rel=1e-6)
    assert without.objective < report.objective


def test_stage1_dear_v2g_is_left_unused(pair_data, stage1_high):
    """V2G cost weight 100: B stays normal on its cheapest set (switching is dear too) and takes nothing
    from its EVs: s = -0.640 h, objective 100 s / 2 = -32.0. Forced to take the 0.5 kWh (best in the
    first, cheaper hour, straight into the load), B's battery gives 0.5 / 0.95 kWh less: s rises by
    0.5 / 0.95 / 3.766 = 0.1397 h, a gain of 100 x 0.1397 / 2 = 6.99, at a cost of
    100 x lambda_3 x 0.5 rho_B(0) / (1.5 x 7 kW x 2 sites x 2 h) = 100 x 100 x 0.5 x 0.6251 / 42 = 74.4:
    the objective falls by 67.4, to -99.4."""
    data, problem = pair_data, stage1_high
    set_state(problem, [12.0, 1.0], fleet_kwh=0.5)
    report = solve(problem.model)
    assert v2g_kwh(problem) == pytest.approx(0.0, abs=1e-7)
    awake = awake_remaining_h(data, "B", 1.0)
    assert remaining_s(problem) == pytest.approx(awake, rel=1e-6)
    assert report.objective == pytest.approx(100 * awake / 2.0, rel=1e-6)
    with forced(problem.model, problem.block.variables["ev_fleet_power"].sum(), 0.5, "all_v2g"):
        used = solve(problem.model)
        np.testing.assert_allclose(problem.block.variables["ev_fleet_power"].solution.sel(site="B").values, [0.5, 0.0], atol=1e-6)
    gain = 100 * 0.5 / ETA / normal_kw(data, "B") / 2.0
    cost = 100 * 100.0 * 0.5 * float(data.price_per_kwh.sel(site="B").isel(time=0)) / (COST_REFERENCE_PER_KWH * 7.0 * 2 * 2.0)
    assert gain == pytest.approx(6.99, abs=0.01) and cost == pytest.approx(74.4, abs=0.1)
    assert used.objective == pytest.approx(report.objective + gain - cost, rel=1e-6)
    assert used.objective < report.objective - 60


def test_stage1_higher_base_price_lowers_v2g_use(pair_data, stage1_low):
    """The cheap-V2G case (the EVs give their 0.5 kWh), then every price a hundred times higher
    (rho_base x 100): at about 66 per kWh Eq. 18's cost lambda_3 rho P Delta t outweighs the survival
    gain by far, so the EVs must give less.

    The V2G cost term divides by a fixed reference price (rho_ref 1.5 x 7 kW x 2 sites x 2 h = 42), so a
    uniform price rise is not cancelled: at rho_B(0) = 62.5 a kWh costs 100 x 62.5 / 42 = 149 against a
    survival gain of at most 100 / 0.95 / 3.766 / 2 = 14.0 per kWh."""
    data = pair_data
    set_state(stage1_low, [12.0, 1.0], fleet_kwh=0.5)
    solve(stage1_low.model)
    used = {"base": v2g_kwh(stage1_low)}
    dear = stage1(data.assign(price_per_kwh=data.price_per_kwh * 100.0, price_base_per_kwh=data.price_base_per_kwh * 100.0), LOW)
    set_state(dear, [12.0, 1.0], fleet_kwh=0.5)
    solve(dear.model)
    used["hundredfold"] = v2g_kwh(dear)
    assert used["base"] == pytest.approx(0.5, abs=1e-6)
    assert used["hundredfold"] < used["base"] - 1e-6, f"V2G use {used} does not fall when every price rises a hundredfold"


def chosen_set(problem, site="A") -> list[str]:
    sets = problem.block.variables["carrier_set"].solution.sel(site=site).fillna(0.0).transpose("time", "carrier_set")
    assert bool((sets.max("carrier_set") > 1 - 1e-6).all())  # one whole set per block
    return [str(sets.carrier_set.values[i]) for i in np.argmax(sets.values, axis=1)]


def test_stage1_service_term_prefers_every_carrier_and_survival_the_cheapest(lone_heavy_data):
    """A lone heavily loaded site (no neighbour: it stays normal). Service weight only: the full carrier
    set serves the most (sum w r / D = 362.7 of sum w = 363.0); the service term is that over sum w
    in each block, so 362.7 / 363.0. Forcing the single-carrier set L800 (307.8) both hours lowers it
    by (362.7 - 307.8) / 363.0 (x100). Survival weight only: the set of least power (L800, 1.545 kW),
    s = (12 - 2 x 1.545 / 0.95) / 4.814 h."""
    data = lone_heavy_data
    weighted = data.site_carrier_set_weighted_service.sel(site="A")
    total_weight = float((data.site_weight_per_mbps * data.site_demand_mbps).sum())
    full, single = str(data.carrier_set.values[-1]), "L800"
    assert float(weighted.sel(carrier_set=full)) == pytest.approx(float(weighted.max()))  # the full set serves the most
    problem = stage1(data, weights(service=1.0))
    report = solve(problem.model)
    assert chosen_set(problem) == [full, full]
    service = term(problem, "service")
    assert service == pytest.approx(float(weighted.sel(carrier_set=full)) / total_weight, rel=1e-7)
    assert report.objective == pytest.approx(100 * service, rel=1e-7)
    with forced(problem.model, problem.block.variables["carrier_set"].sel(site="A", carrier_set=single).sum(), 2.0, "one_carrier"):
        worse = solve(problem.model)
    loss = float(weighted.sel(carrier_set=full) - weighted.sel(carrier_set=single)) / total_weight
    assert loss > 0.1
    assert worse.objective == pytest.approx(report.objective - 100 * loss, rel=1e-7)

    # survival weight only: the least power keeps the most energy
    power = data.site_carrier_set_power_kw.sel(site="A")
    assert str(power.carrier_set.values[int(np.argmin(power.values))]) == single
    problem = stage1(data, weights(survival=1.0))
    solve(problem.model)
    assert chosen_set(problem) == [single, single]
    expected = (12.0 - 2 * float(power.min()) / ETA) / normal_kw(data, "A")
    assert remaining_s(problem) == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------------------------------------- Stage 2
def user_rates(block) -> np.ndarray:
    return block.expressions["pair_rate"].solution.isel(time=0).groupby(block.data.pair_user.rename("user")).sum().values


def radio_value(block, w) -> float:
    """100 (lambda_2 Eq27 - lambda_1 P / P_peak) by hand, less the constant the model drops from its
    objective: the standby power of the carriers of an awake site, sum_b P_std^(b)."""
    data = block.data
    utility = float(block.expressions["eq27_utility"].solution)
    power = float(block.expressions["site_power"].solution.sum())
    constant = float(data.power_scale) * float(data.power_standby_kw.sum())
    return 100 * (w["service"] * utility - w["survival"] * (power - constant) / peak_supply_kw(data))


RADIO = weights(service=1.0, survival=0.01)


@pytest.fixture(scope="module")
def radio_service(radio_data):
    """The radio problem with service weight 1 and energy weight 0.01."""
    return build_stage2(radio_data, normal_modes(radio_data), RADIO)


def test_stage2_eq27_serves_everyone_when_service_is_weighted(radio_data, radio_service):
    """Service weight 1, energy weight 0.01: every user gets its demand (r / D = 1, phi = log 2 each):
    the Eq. 27 term is sum w log 2 / (sum w log 2) = 1. Dropping the best-effort user (w 1 of 121)
    loses 100 x 1 / 121 = 0.826 of utility and saves only a few watts."""
    data = radio_data
    w = RADIO
    model, block = radio_service
    report = solve(model)
    np.testing.assert_allclose(user_rates(block), data.demand_mbps.values, rtol=1e-6)
    assert float(block.expressions["eq27_utility"].solution) == pytest.approx(1.0, abs=1e-6)
    assert report.objective == pytest.approx(radio_value(block, w), rel=1e-6)
    best_effort_pairs = np.flatnonzero(data.pair_user.values == 2)
    with forced(model, block.expressions["pair_rate"].isel(pair=best_effort_pairs).sum(), 0.0, "drop_best_effort"):
        worse = solve(model)
        assert float(block.expressions["eq27_utility"].solution) == pytest.approx(1.0 - 1.0 / 121.0, abs=1e-6)
    assert report.objective - 100 / 121 < worse.objective < report.objective - 100 / 121 * 0.9


def test_stage2_without_service_weight_serves_only_the_sla(radio_data):
    """Service weight 1e-4, energy weight 1: serving costs power (per Mbit/s and per band share), so
    the best-effort user (no SLA) gets nothing and the others exactly their SLA rate (Eq. 10):
    voice its whole 0.064 Mbit/s (r / D = 1), the essential users half their demand. The Eq. 27 term
    is then, exactly at the breakpoints 1 and 0.5, (100 log 2 + 2 x 10 log 1.5) / (121 log 2)."""
    data = radio_data
    model, block = build_stage2(data, normal_modes(data), weights(service=1e-4, survival=1.0))
    solve(model)
    np.testing.assert_allclose(user_rates(block), data.min_rate_mbps.values, rtol=1e-6, atol=1e-9)
    assert user_rates(block)[2] == pytest.approx(0.0, abs=1e-9)
    utility = float(block.expressions["eq27_utility"].solution)
    assert utility == pytest.approx((100 * math.log(2) + 20 * math.log(1.5)) / (121 * math.log(2)), rel=1e-6)


def test_stage2_energy_term_switches_idle_carriers_off(radio_data, radio_service):
    """A few Mbit/s fit on one carrier (Eq. 24 keeps at least one on). With energy weight 0.01 every
    other carrier is off; forcing a second carrier on (it carries nothing) costs its active power less
    its standby power, 100 x 0.01 x (0.788 - 0.15) / 17 = 0.0375 for an LTE carrier. With energy
    weight 0 a carrier with no traffic gains nothing and costs nothing: all carriers on score the same."""
    data = radio_data
    active, _, _ = band_power_coefficients(data)
    idle_cost = float(data.power_scale) * float((active - data.power_standby_kw).min())
    assert idle_cost == pytest.approx(0.7878643 - 0.15, rel=1e-6)
    for energy_weight in (RADIO["survival"], 0.0):
        model, block = radio_service if energy_weight > 0 else build_stage2(data, normal_modes(data), weights(service=1.0))
        report = solve(model)
        on = block.variables["band_on"].solution.isel(site=0, time=0)
        if energy_weight > 0:
            assert int(on.round().sum()) == 1
            traffic = block.expressions["band_traffic"].solution.isel(site=0, time=0)
            assert float(traffic.where(on > 0.5, 0.0).sum()) == pytest.approx(float(data.demand_mbps.sum()), rel=1e-6)
            with forced(model, block.variables["band_on"].sum(), 2.0, "second_on"):
                worse = solve(model)
            cost = 100 * energy_weight * idle_cost / peak_supply_kw(data)
            assert worse.objective == pytest.approx(report.objective - cost, abs=0.01 * cost)
        else:
            assert report.objective == pytest.approx(100.0, abs=1e-6)  # Eq. 27 at its maximum, nothing else
            with forced(model, block.variables["band_on"].sum(), float(data.sizes["band"]), "all_on"):
                all_on = solve(model)
            assert all_on.objective == pytest.approx(report.objective, abs=1e-7)


@pytest.fixture(scope="module")
def radio_sla(radio_data):
    """The radio problem with the Eq. 10 slack, energy weight 1, service weight 0."""
    return build_stage2(radio_data, normal_modes(radio_data), weights(survival=1.0), sla_shortfall=True)


def test_stage2_sla_shortfall_penalty_beats_everything_else(radio_data, radio_sla):
    """Leaving an essential user (w 10, SLA share 1) unserved would save a few watts but cost
    100 x (10 / 100) x 1 = 10 (x100 in the model): every SLA user is served at its SLA rate, the
    best-effort user (no SLA) gets nothing."""
    data = radio_data
    model, block = radio_sla
    report = solve(model)
    np.testing.assert_allclose(block.variables["sla_shortfall"].solution.isel(time=0).fillna(0.0).values, 0.0, atol=1e-7)
    np.testing.assert_allclose(user_rates(block), data.min_rate_mbps.values, rtol=1e-6, atol=1e-9)
    with forced(model, block.variables["sla_shortfall"].sel(user=1).sum(), 1.0, "essential_short"):
        worse = solve(model)
    assert report.objective - 100 * 10 - 1e-6 < worse.objective < report.objective - 100 * 10 * 0.99


def test_stage2_sla_shortfall_follows_class_priority(radio_data, radio_sla):
    """Only one of the voice user (w 100) and an essential user (w 10) may be served: the penalty
    weighs w / max w, so the voice user is served and the essential one is short (cost 10, x100),
    not the other way round (cost 100)."""
    model, block = radio_sla
    served = block.expressions["served_share"].isel(time=0)
    with forced(model, served.sel(user=[0, 1]).sum("user"), 1.0, "one_of_two"):
        report = solve(model)
        np.testing.assert_allclose(block.expressions["served_share"].solution.isel(time=0).sel(user=[0, 1]).values, [1.0, 0.0], atol=1e-7)
        with forced(model, served.sel(user=0), 0.0, "voice_short"):
            worse = solve(model)
    assert worse.objective < report.objective - 100 * 90 * 0.99


# ---------------------------------------------------------------------------------------------------- Eq. 18
@pytest.fixture(scope="module")
def eq18_block(pair_data):
    """Eq. 18 over the two 1-h blocks on site-level traffic with the dark state (the plan's objective):
    A with 12 kWh usable, B with 3, B's EVs offering 2 kWh. The objective is set per test."""
    import linopy

    data = pair_data
    model = linopy.Model()
    block = add_msrc(
        model, data, traffic="site", allow_dark=True, ev_model="fleet", ev_fleet=b_fleet(data, 2.0),
        initial_battery_kwh=site_array(data, FLOOR_KWH + np.array([12.0, 3.0])),
    )
    return model, block


def solve_eq18(model, block, w):
    with block_semantics():
        objective = block.eq18(w)
        model.add_objective(objective - float(objective.const), sense="max", overwrite=True)
    report = solve(model)
    return report, {k: float(v.solution) for k, v in block.objective_terms().items()}


@pytest.mark.parametrize(
    "name, best, worst",
    [
        # T_surv / H: alive both hours (B can sleep) = 1; n(0) = 1 is forced, so at least 1 h: 0.5
        ("survival", 1.0, 0.5),
        # every user served (B's users by A when B sleeps or is dark) = 1; less when minimised
        ("service", 1.0, None),
        # no V2G = 0; all 2 kWh of B's EVs in the dearer block: 2 max_t rho_B / (rho_ref 1.5 x 7 x 2 x 2) = 0.0354
        ("v2g_cost", 0.0, "max_v2g"),
        # no mode entry = 0; rewarded, every switch variable (bounded by 1) at 1: 2 x 4 x 2 / (2 x 2) = 4
        ("mode_switching", 0.0, 4.0),
    ],
)
def test_eq18_term_signs(pair_data, eq18_block, name, best, worst):
    """Eq. 18 maximises + survival + service - v2g_cost - mode_switching. With one weight +1 the term
    goes to its best value (the highest for survival and service, the lowest for the two costs);
    with -1, to its worst."""
    data = pair_data
    model, block = eq18_block
    report, terms = solve_eq18(model, block, weights(**{name: 1.0}))
    value = terms[name]
    assert value == pytest.approx(best, abs=1e-6)
    sign = {"survival": 1, "service": 1, "v2g_cost": -1, "mode_switching": -1}[name]
    assert report.objective == pytest.approx(sign * value, abs=1e-6)  # the objective is the signed term
    _, terms = solve_eq18(model, block, weights(**{name: -1.0}))
    opposite = terms[name]
    if worst == "max_v2g":
        worst = 2.0 * float(data.price_per_kwh.sel(site="B").max()) / (COST_REFERENCE_PER_KWH * 7.0 * 2 * 2.0)
        assert worst == pytest.approx(0.0354, abs=1e-4)
    if worst is None:
        assert opposite < best - 0.1
    else:
        assert opposite == pytest.approx(worst, abs=1e-6)
    assert sign * (value - opposite) > 0


def test_eq18_scaled_terms_by_hand(pair_data, eq18_block):
    """Paper weights; every scaled term recomputed from the solution: survival sum_t n(t) Delta t / H;
    service sum_t (Delta t / H) sum_i W_i(t) / sum_u w_u; v2g_cost sum rho P Delta t / (rho_ref 1.5 x 7 kW
    x 2 sites x 2 h = 42, a fixed scale); switching sum theta / (2 sites x 2 blocks); the objective
    0.5 survival + 0.3 service - 0.1 v2g_cost - 0.1 switching.

    The optimum by hand: nobody switches (0.1 x 2 / 4 = 0.05 for B asleep and A helping is dearer than
    the V2G it saves) and B stays normal on its cheapest carrier set (1.620 kW, every user served):
    3.240 kWh over the two hours, of which its battery gives 3 x 0.95 = 2.85 and its EVs the other
    0.390 kWh, all in the first (cheaper) hour. Alive throughout, service 1:
    0.5 + 0.3 - 0.1 x 0.390 rho_B(0) / 42 = 0.8 - 0.1 x 0.390 x 0.6251 / 42 = 0.79942."""
    data = pair_data
    model, block = eq18_block
    report, terms = solve_eq18(model, block, PAPER)
    step = data.time_step_h
    alive = block.variables["network_alive"].solution
    assert terms["survival"] == pytest.approx(float((alive * step).sum()) / 2.0, abs=1e-9)
    weighted = block.expressions["site_weighted_service"].solution
    total_weight = float((data.site_weight_per_mbps * data.site_demand_mbps).sum())
    assert terms["service"] == pytest.approx(float((weighted * step / 2.0).sum()) / total_weight, rel=1e-9)
    power = block.variables["ev_fleet_power"].solution
    scale = COST_REFERENCE_PER_KWH * 7.0 * 2 * 2.0
    assert terms["v2g_cost"] == pytest.approx(float((data.price_per_kwh * power * step).sum()) / scale, abs=1e-12)
    assert terms["mode_switching"] == pytest.approx(float(block.variables["mode_switch"].solution.sum()) / 4.0, abs=1e-9)
    expected = 0.5 * terms["survival"] + 0.3 * terms["service"] - 0.1 * terms["v2g_cost"] - 0.1 * terms["mode_switching"]
    assert report.objective == pytest.approx(expected, abs=1e-7)
    # the optimum worked out above
    assert terms["survival"] == pytest.approx(1.0, abs=1e-9)
    assert terms["service"] == pytest.approx(1.0, abs=1e-7)
    assert terms["mode_switching"] == pytest.approx(0.0, abs=1e-9)
    cheapest = float(data.site_carrier_set_power_kw.sel(site="B").where(data.site_carrier_set_allowed.sel(site="B")).min())
    v2g = 2 * cheapest - 3.0 * ETA
    assert v2g == pytest.approx(0.390, abs=1e-3)
    np.testing.assert_allclose(power.sel(site="B").values, [v2g, 0.0], atol=1e-6)
    rho_b = float(data.price_per_kwh.sel(site="B").isel(time=0))
    assert report.objective == pytest.approx(0.5 + 0.3 - 0.1 * v2g * rho_b / scale, abs=1e-7)
    assert report.objective == pytest.approx(0.79942, abs=1e-5)
