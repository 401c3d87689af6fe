"""Outage simulations: physical invariants of every strategy, hand-computed survival, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from msrc_model.simulation.controller import MSRCController
from msrc_model.physics import ASSISTED, DARK, HELPING, SLEEP
from msrc_model.inputs import build_inputs
from msrc_model.config.loader import load_scenario
from msrc_model.simulation.outage import run_outage
from msrc_model.simulation.simulator import State, World
from msrc_model.problems.stages import DispatchProblem, build_dispatch
from msrc_model.problems.solve import solve_model
from msrc_model.simulation.strategies import Independent

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"


def small(*overrides: str):
    """The 7-site scenario, short and with small batteries so that sites go dark within the run."""
    base = ("controller.max_duration_h=1.25", "battery.soc_initial=0.35")
    return load_scenario(SMALL, (*base, *overrides)).scenario


def simulated(scenario, trial: int = 0, strategies=None):
    inputs = build_inputs(scenario, trial=trial)
    return inputs, run_outage(scenario, inputs, strategies=strategies)


def check_invariants(scenario, inputs: xr.Dataset, results: xr.Dataset) -> None:
    """Every invariant of the outage physics and of the cooperation rules, every site and step."""
    world = World(inputs)
    step_h = world.step_h
    for strategy in results.strategy.values:
        r = results.sel(strategy=strategy)
        mode = r["mode"].transpose("time", "site").values
        # exactly one mode per site and step (one code 0-3, or 4 once dark, for good)
        assert set(np.unique(mode)) <= {0, 1, 2, 3, DARK}
        dark = mode == DARK
        assert not (dark[:-1] & ~dark[1:]).any(), strategy

        # energy balance of every site at every step, within 1e-6 kWh
        site_power = r.site_power.transpose("time", "site").values
        battery_power = r.battery_power.transpose("time", "site").values
        ev_power = r.ev_power.transpose("time", "site").values
        assert np.abs((site_power - battery_power - ev_power) * step_h).max() <= 1e-6, strategy
        energy = np.vstack([r.battery_energy.transpose("time", "site").values, r.battery_energy_end.values])
        # Eq. 12: the battery loses P / eta_dis giving P > 0 at the bus, stores eta_ch |P| taking P < 0
        eta_dis, eta_ch = float(inputs.battery_discharge_efficiency), float(inputs.battery_charge_efficiency)
        lost = np.where(battery_power >= 0, battery_power / eta_dis, battery_power * eta_ch) * step_h
        assert np.abs((energy[:-1] - energy[1:]) - lost).max() <= 1e-6, strategy
        assert (site_power[dark] == 0).all()
        # a battery takes power only from its EVs' surplus over the load, never at a dark site
        charging = battery_power < -1e-12
        assert (ev_power[charging] >= site_power[charging] - 1e-9).all() and not charging[dark].any(), strategy
        # SOC and EV bounds
        capacity = inputs.battery_capacity_kwh.values
        assert (energy >= float(inputs.battery_soc_min) * capacity - 1e-9).all()
        assert (energy <= float(inputs.battery_soc_max) * capacity + 1e-9).all()
        assert (battery_power <= float(inputs.battery_max_discharge_kw) + 1e-9).all()
        assert (battery_power >= -float(inputs.battery_max_charge_kw) - 1e-9).all()
        ev_energy = np.vstack([r.ev_energy.transpose("time", "ev").values, r.ev_energy_end.values])
        assert (ev_energy >= world.evs.reserve_kwh - 1e-9).all() and (ev_energy <= inputs.ev_capacity_kwh.values + 1e-9).all()
        # no energy from an EV that is not parked; V2X and per-EV limits
        given = ev_energy[:-1] - ev_energy[1:]
        assert (given >= -1e-12).all()
        assert not ((given > 1e-12) & ~world.parked.T).any(), strategy
        assert (given / step_h <= world.evs.max_power_kw + 1e-9).all()  # P_max at the EV battery
        assert (ev_power <= world.evs.v2x_limit_kw + 1e-9).all()

        links = r.link_active.transpose("time", "edge").values
        helping = mode == HELPING
        client = (mode == ASSISTED) | (mode == SLEEP)
        # links join a helping site to an assisted or sleeping one, with kappa >= kappa_min
        assert not (links & ~world.kappa_ok).any()
        assert not (links & ~(helping[:, world.edge_helper] & client[:, world.edge_assisted])).any(), strategy
        # every assisted or sleeping site has a helper (Eq. 21), at most K_max links per helper (Eq. 22)
        helped = np.zeros_like(client)
        for k in range(links.shape[0]):
            helped[k, world.edge_assisted[links[k]]] = True
        assert not (client & ~helped).any(), strategy
        per_helper = np.stack([np.bincount(world.edge_helper[row], minlength=world.n_site) for row in links])
        assert per_helper.max() <= int(inputs.max_links)

        # carriers: none asleep or dark, only B_low assisted, at least one awake
        band = r.band_active.transpose("time", "site", "band").values
        assert not band[(mode == SLEEP) | dark].any()
        assert not band[mode == ASSISTED][:, ~world.low_bands].any()
        awake = (mode != SLEEP) & ~dark
        assert band.any(axis=2)[awake].all(), strategy
        # no site serves more than its capacity (Eq. 9, less lambda_loss when helping)
        capacity = (band * world.capacity).sum(axis=2) * np.where(helping, 1 - world.helping_overhead, 1.0)
        assert (r.served_mbps.transpose("time", "site").values <= capacity + 1e-6).all()
        # each user on one site at most, and only on an awake site that covers it in its mode
        users = r.user_site.transpose("time", "user").values.astype(int)
        served = users >= 0
        steps, who = np.nonzero(served)
        sites = users[steps, who]
        assert (mode[steps, sites] < SLEEP).all()
        pair = world.pair_of[who, sites]
        assert (pair >= 0).all() and world.coverage[pair, mode[steps, sites]].all(), strategy


@pytest.mark.parametrize("trial, load", [(0, "medium"), (1, "heavy"), (2, "light")])
def test_invariants_hold_for_every_strategy(trial, load):
    scenario = load_scenario(SMALL, ("controller.max_duration_h=1.25", "battery.soc_initial=0.35"), variant=load).scenario
    inputs, results = simulated(scenario, trial=trial)
    assert list(results.strategy.values) == ["independent", "static", "msrc"]
    check_invariants(scenario, inputs, results)
    # the batteries are small: sites do go dark, so the dark paths were exercised
    assert bool((results["mode"] == DARK).any())


def test_independent_survival_matches_hand_computation():
    """No EVs: each site lasts floor(usable energy / (power x step)) steps at its t = 0 load, or longer once a neighbour is dark."""
    scenario = small("ev.enabled=false", "controller.max_duration_h=2")
    inputs = build_inputs(scenario)
    results = run_outage(scenario, inputs, strategies=[Independent()])
    # site power by hand from the traffic nu and the RB utilisation rho (sum of band shares, Eq. 11) each carrier has:
    # every band on, every user on its best server
    world = World(inputs)
    normal = np.zeros(world.n_site, dtype=int)
    service = world.serve(normal, np.ones((world.n_site, world.n_band), dtype=bool), world.best_server)
    band_traffic = service.band_traffic_mbps
    served = service.site >= 0
    np.testing.assert_allclose(
        band_traffic.sum(axis=1), np.bincount(service.site[served], weights=service.rate_mbps[served], minlength=world.n_site)
    )
    utilisation = np.zeros((world.n_site, world.n_band))
    np.add.at(utilisation, service.site[served], service.band_share[served])
    sectors, uplink = float(inputs.sectors_per_site), float(inputs.uplink_ratio)
    per_band = (
        sectors * (inputs.power_static_kw.values + inputs.power_tx_power_kw_per_w.values * inputs.tx_power_w.values
                   + inputs.power_feeder_loss_kw_per_db.values * inputs.feeder_loss_db.values)
        + sectors * (inputs.power_dl_utilisation_kw.values + uplink * inputs.power_ul_utilisation_kw.values) * utilisation
        + (inputs.power_dl_traffic_kw_per_mbps.values + uplink * inputs.power_ul_traffic_kw_per_mbps.values) * band_traffic
    )
    power = float(inputs.power_scale) * per_band.sum(axis=1)
    r = results.sel(strategy="independent")
    np.testing.assert_allclose(r.site_power.isel(time=0).values, power, rtol=1e-12)
    usable = (0.35 - 0.2) * 20.0 * 0.95  # kWh above SOC_min, at the bus
    step_h = 30.0 / 3600.0
    expected = np.floor(usable / (power * step_h)) * step_h  # the last whole step the battery can carry
    # the load is constant until the first site goes dark; after that the others hear less interference,
    # need smaller band shares for the same traffic and draw less, so they last at least as long
    dark_time = r.site_dark_time.values
    first = expected == expected.min()
    np.testing.assert_allclose(dark_time[first], expected[first], atol=1e-9)
    assert (dark_time >= expected - 1e-9).all()
    assert float(r.survival_time) == pytest.approx(expected.min(), abs=1e-9)
    assert abs(float(r.survival_time) - usable / power.max()) < step_h


@pytest.mark.parametrize("stage, fail_at_s", [("stage1", 900.0), ("stage2", 0.0)])
def test_failed_solve_falls_back_and_the_run_completes(stage, fail_at_s):
    scenario = small()
    inputs = build_inputs(scenario)
    # Stage 1 fails at 900 s; the radio problem fails at its first call (at the start)
    controller = MSRCController(scenario, **{f"fail_{stage}_at_s": (fail_at_s,)})
    results = run_outage(scenario, inputs, strategies=[controller])
    events = results.solver_event_stage.values.tolist()
    assert stage in events
    at = results.solver_event_time.values[events.index(stage)]
    assert at == fail_at_s
    assert "no feasible solution" in str(results.solver_event_reason.values[events.index(stage)])
    assert float(results.solver_fallbacks.sel(strategy="msrc")) >= 1
    # the run went on to the end with the previous plan, repaired where sites went dark
    assert results.sizes["time"] == int(1.25 * 3600 / 30)
    check_invariants(scenario, inputs, results)
    if stage == "stage1":
        before = results["mode"].sel(strategy="msrc", time=870.0).values
        after = results["mode"].sel(strategy="msrc", time=900.0).values
        alive = (before != DARK) & (after != DARK)
        # no new plan at 900 s: modes of sites alive on both sides only change by the dark-site repair (to normal)
        assert ((after[alive] == before[alive]) | (after[alive] == 0)).all()


def test_stage2_reuse_is_identical_to_solving_again():
    scenario = small()
    inputs = build_inputs(scenario)
    world = World(inputs)
    controller = MSRCController(scenario)
    controller.reset(world)
    state = State(0, 0.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, 0], np.zeros(world.n_site, bool), np.zeros(world.n_site))
    controller.stage1(state)
    controller.radio(state)
    first = (controller.user_site.copy(), controller.band_on.copy())
    controller.radio(state)
    np.testing.assert_array_equal(first[0], controller.user_site)
    np.testing.assert_array_equal(first[1], controller.band_on)
    load = np.array([3.0, 2.5, 0.1, 4.0, 1.0, 0.0, 2.0])
    args = (load, np.full(7, 10.0), np.array([7.0, 0, 0, 3.0, 7.0, 0, 1.0]), np.full(7, 0.6), controller.weights)
    solutions = []
    for _ in range(2):
        model = build_dispatch(*args, battery_scale_kw=100.0, cost_scale=50.0)
        assert solve_model(model, {"output_flag": False}).has_solution
        solutions.append(model.variables["ev_power"].solution.values)
    np.testing.assert_array_equal(solutions[0], solutions[1])
    np.testing.assert_allclose(solutions[0] + 0, np.minimum(load, [7.0, 0, 0, 3.0, 7.0, 0, 1.0]))  # V2G is cheaper than battery here


def test_dispatch_kept_in_highs_equals_a_fresh_build_at_every_step():
    """The dispatch built once and updated per step (loads, limits, room, prices) gives a fresh build's solution."""
    weights = {"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1}
    rng = np.random.default_rng(3)
    n = 7
    kept = DispatchProblem(n, weights, battery_scale_kw=70.0, cost_scale=10.5)
    options = {"output_flag": False}
    requests = []
    for step in range(6):
        battery = rng.uniform(0.0, 6.0, n)
        ev = rng.uniform(0.0, 7.0, n) * (rng.random(n) < 0.7)
        load = np.minimum(rng.uniform(0.0, 5.0, n), battery + ev)  # the controller clips the load so
        if step == 5:
            load[0] = battery[0] + ev[0] + 1.0  # ... except here: both builds must call it infeasible
        price = rng.uniform(0.1, 8.0, n)  # around the break-even price of V2G against the battery
        room = rng.uniform(0.0, 3.0, n) if step % 2 else None
        fresh = build_dispatch(load, battery, ev, price, weights, battery_scale_kw=70.0, cost_scale=10.5, battery_room_kw=room)
        a = solve_model(fresh, options)
        b = kept.solve(load, battery, ev, price, options, battery_room_kw=room)
        assert a.termination == b.termination
        if a.has_solution:
            assert b.objective == pytest.approx(a.objective, rel=1e-9, abs=1e-12)
            np.testing.assert_allclose(
                kept.model.variables["ev_power"].solution.values, fresh.variables["ev_power"].solution.values, atol=1e-9
            )
            requests.append(kept.model.variables["ev_power"].solution.values.copy())
    assert kept.solver.rebuilds == 0
    assert len(requests) == 5 and not np.allclose(requests[0], requests[-1])


@pytest.mark.parametrize("plan_arrivals", [False, True])
def test_controller_never_reads_realised_future_evs(plan_arrivals):
    """The Stage-1 EV forecast is the same whatever EVs arrive later."""
    scenario = small(f"controller.plan_ev_arrivals={str(plan_arrivals).lower()}")
    inputs = build_inputs(scenario)
    later = inputs.copy(deep=True)
    future = later.ev_arrival_s.values > 600.0
    later["ev_arrival_s"].values[future] += 3600.0  # move every future arrival (and its stay) an hour later
    later["ev_departure_s"].values[future] += 3600.0
    forecasts = []
    for data in (inputs, later):
        world = World(data)
        controller = MSRCController(scenario)
        controller.reset(world)
        k = 20  # t = 600 s
        state = State(k, 600.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, k], np.zeros(world.n_site, bool), np.zeros(world.n_site))
        forecasts.append(controller.ev_forecast(state))
    xr.testing.assert_identical(forecasts[0][0], forecasts[1][0])
    xr.testing.assert_identical(forecasts[0][1], forecasts[1][1])
    parked_now = forecasts[0][1].isel(time=0)
    if plan_arrivals:  # expected arrivals add energy over the horizon, the same at every site
        growth = forecasts[0][1].isel(time=-1) - parked_now
        assert float(growth.min()) > 0 and np.allclose(growth, float(growth.mean()))
    else:  # only the EVs parked now
        np.testing.assert_allclose(forecasts[0][1].isel(time=-1), parked_now)


def test_users_without_any_site_are_never_served():
    """Users far outside the cluster have no feasible site: every strategy runs and leaves them unserved."""
    scenario = load_scenario(SMALL, ("traffic.area_side_m=5000", "controller.max_duration_h=0.25")).scenario
    inputs, results = simulated(scenario)
    uncovered = ~inputs.user_covered.values.astype(bool)
    assert uncovered.sum() > 10
    assert (results.user_site.isel(user=np.flatnonzero(uncovered)) == -1).all()
    check_invariants(scenario, inputs, results)


@pytest.mark.parametrize("breakpoints", [None, [0.0, 0.5, 1.0]])
def test_controller_stage2_uses_the_scenarios_tangent_breakpoints(breakpoints):
    """``formulation.tangent_breakpoints`` reaches the radio problem; empty means the formulation's default."""
    from msrc_model.formulation import LOG_UTILITY_BREAKPOINTS

    overrides = () if breakpoints is None else (f"formulation.tangent_breakpoints={breakpoints}",)
    scenario = small("controller.max_duration_h=0.05", *overrides)
    inputs = build_inputs(scenario)
    world = World(inputs)
    controller = MSRCController(scenario)
    controller.reset(world)
    controller.decide(State(0, 0.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, 0], np.zeros(world.n_site, bool), np.zeros(world.n_site)))
    assert controller.radio_problem is not None, "the radio problem was not built"
    cuts = controller.radio_problem.model.constraints["msrc-eq27_tangent_cuts"]
    expected = LOG_UTILITY_BREAKPOINTS if breakpoints is None else breakpoints
    assert cuts.sizes["breakpoint"] == len(expected)


def test_ev_surplus_recharges_the_battery_and_nothing_else_does():
    """Sec. II-D: parked EVs' energy beyond the site's load goes into the battery, within P_ch^max and SOC_max."""
    scenario = small("controller.max_duration_h=0.5", "battery.soc_initial=0.3", "ev.arrivals_per_site=8", "ev.arrival_window_h=0.25")
    inputs, results = simulated(scenario, strategies=[Independent()])
    check_invariants(scenario, inputs, results)
    r = results.sel(strategy="independent").transpose("site", "time", ...)
    battery_power = r.battery_power.values
    charging = battery_power < -1e-9
    assert charging.any(), "no EV surplus reached a battery"
    # while charging, the site's EVs carry the whole load and the battery gains energy
    energy = np.concatenate([r.battery_energy.values, r.battery_energy_end.values[:, None]], axis=1)
    assert ((energy[:, 1:] - energy[:, :-1])[charging] > 0).all()
    assert (r.ev_power.values[charging] >= r.site_power.values[charging] - 1e-9).all()
    # a site with no EV parked never charges
    parked_sites = np.zeros_like(charging)
    world = World(inputs)
    for k in range(charging.shape[1]):
        parked_sites[np.unique(world.evs.site[world.parked[:, k]]), k] = True
    assert not (charging & ~parked_sites).any()


def test_a_lone_site_and_a_class_without_users():
    """One site (no neighbours, no cooperation arcs) and 5 users: every strategy runs; a class with no users has no share."""
    scenario = load_scenario(SMALL, ("network.rings=0", "traffic.users=5", "controller.max_duration_h=0.25")).scenario
    inputs, results = simulated(scenario)
    assert inputs.sizes["edge"] == 0 and list(results.strategy.values) == ["independent", "static", "msrc"]
    check_invariants(scenario, inputs, results)
    users_per_class = np.bincount(inputs.user_class.values, minlength=inputs.sizes["class"])
    empty = users_per_class == 0
    assert empty.any()  # 5 users cannot fill four classes with a 2 % emergency share
    shares = results.served_share_table3.values  # (strategy, class)
    assert np.isnan(shares[:, empty]).all() and not np.isnan(shares[:, ~empty]).any()
    assert np.isfinite(results.service_continuity.values).all()


def test_msrc_first_decision_keeps_every_critical_user_the_network_can_serve():
    """At t = 0 on the 7-site cluster, msrc's decision leaves no emergency or voice user without its minimum
    rate that every site in normal mode would serve (Stage 1 hands users over only within reach and sheds
    only carriers that keep every SLA user, Stage 2 may give a user of a sleeping site to any awake site
    its SINR allows)."""
    scenario = load_scenario(SMALL).scenario
    world = World(build_inputs(scenario))
    everyone = world.serve(np.zeros(world.n_site, dtype=int), np.ones((world.n_site, world.n_band), dtype=bool), world.best_server)
    controller = MSRCController(scenario)
    controller.reset(world)
    state = State(0, 0.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, 0].copy(),
                  np.zeros(world.n_site, dtype=bool), np.zeros(world.n_site))
    decision = controller.decide(state)
    # the controller does change the network here (modes or carriers), so the test exercises its decisions
    assert (decision.mode != 0).any() or not decision.band_on.all()
    served = world.serve(decision.mode, decision.band_on, decision.user_site, decision.band_share)
    minimum = world.inputs.min_rate_mbps.values
    critical = world.class_critical[world.user_class] & (everyone.rate_mbps >= minimum * (1 - 1e-9))
    assert (served.rate_mbps[critical] >= minimum[critical] * (1 - 1e-9)).all()
