"""Decision quality of the two-stage controller: Stage 1's carrier sets, exact Stage-2 carriers, a radio
problem that is always feasible, and its SLA shortfall in the results."""

from __future__ import annotations

import numpy as np
import linopy
import xarray as xr

from msrc_model.config.loader import load_scenario
from msrc_model.formulation import add_msrc, model_data
from msrc_model.formulation.data import reachable_required_share
from msrc_model.formulation.objective import sla_shortfall_penalty
from msrc_model.formulation.site_level import site_level_data
from msrc_model.inputs import build_inputs
from msrc_model.physics import HELPING, NORMAL, SLEEP
from msrc_model.problems import solve as solve_module
from msrc_model.problems.solve import solve_model
from msrc_model.simulation.controller import MSRCController, stage1_blocks_s
from msrc_model.simulation.outage import run_outage
from msrc_model.simulation.simulator import State, World

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"
OPTIONS = {"time_limit": 60.0, "mip_rel_gap": 0.01, "log_to_console": False, "output_flag": False}


def test_carrier_sets_are_priced_by_the_simulators_physics_and_keep_every_class_target(paper_inputs):
    """Each Stage-1 carrier set's power and service equal the simulator's for every site normal on that set with
    users on their best server; an allowed set keeps each class at its QoS target (or the full set's share)."""
    scenario = load_scenario(REPO / "models" / "msrc.yaml").scenario
    data = site_level_data(model_data(paper_inputs, steps_s=stage1_blocks_s(scenario.controller)))
    world = World(paper_inputs)
    sets = data.carrier_set_band.values
    assert sets.shape == (2 ** world.n_band - 1, world.n_band) and sets[-1].all()
    assert data.site_carrier_set_allowed.values[:, -1].all()
    np.testing.assert_allclose(data.site_carrier_set_power_kw.values[:, -1], data.site_mode_power_kw.sel(mode="normal").values)
    normal = np.zeros(world.n_site, dtype=int)
    full = world.serve(normal, np.ones((world.n_site, world.n_band), dtype=bool), world.best_server)
    target = paper_inputs.class_qos_target.values
    home = np.maximum(world.best_server, 0)
    checked = 0
    for k in (0, 5, 9, 12):  # a one-band set and mixed ones
        on = np.broadcast_to(sets[k], (world.n_site, world.n_band))
        service, load = world.serve_and_draw(normal, on, world.best_server)
        np.testing.assert_allclose(data.site_carrier_set_power_kw.values[:, k], load, rtol=1e-9)
        np.testing.assert_allclose(
            data.site_carrier_set_served_mbps.values[:, k], np.bincount(home, weights=service.rate_mbps, minlength=world.n_site), rtol=1e-9
        )
        for site in np.flatnonzero(data.site_carrier_set_allowed.values[:, k]):
            mine = world.best_server == site
            for c in range(world.n_class):
                users = mine & (world.user_class == c)
                demand = world.demand[users].sum()
                floor = min(target[c] * demand, full.rate_mbps[users].sum())
                assert service.rate_mbps[users].sum() >= floor * (1 - 1e-9) - 1e-12
            checked += 1
    assert checked > 0
    # fewer carriers, less power: a single carrier always draws less than all of them
    assert (data.site_carrier_set_power_kw.values[:, :1] < data.site_carrier_set_power_kw.values[:, -1:]).all()


def _all_but_one_asleep(inputs):
    modes = np.full(inputs.sizes["site"], SLEEP)
    modes[0] = HELPING
    return xr.DataArray(modes[:, None], dims=("site", "time"), coords={"site": inputs.site, "time": [0.0]})


def test_radio_problem_with_unmeetable_sla_is_feasible_and_reports_the_shortfall(paper_inputs):
    """All sites but one asleep: Eq. 10 cannot hold for the users the helper cannot reach. The hard problem is
    infeasible; with the slack it solves, the shortfall is exactly the SLA users left unserved, and the
    penalty outweighs every other term."""
    data = model_data(paper_inputs, step_s=30, max_duration_s=30)
    modes = _all_but_one_asleep(paper_inputs)
    required = data.user_required_share

    def build(slack: bool, penalised: bool = True):
        model = linopy.Model()
        block = add_msrc(model, data, fixed_modes=modes, binary_association=False, exclusive_battery=False, integer_carriers=False,
                         required_share=required, sla_shortfall=slack)
        objective = block.stage2_objective({"survival": 0.5, "service": 0.3, "v2g_cost": 0.1, "mode_switching": 0.1})
        if not penalised:
            objective = objective + sla_shortfall_penalty(block._context)
        model.add_objective(objective - float(objective.const), sense="max")
        return model, block

    hard, _ = build(False)
    assert solve_model(hard, OPTIONS, diagnose=False).termination == "infeasible"
    soft, block = build(True)
    report = solve_model(soft, OPTIONS, diagnose=False)
    assert report.has_solution
    shortfall = block.variables["sla_shortfall"].solution.isel(time=0).fillna(0.0)
    served = block.expressions["served_share"].solution.isel(time=0)
    needed = required > 0
    np.testing.assert_allclose(shortfall.where(needed, 0.0), (required - served).clip(min=0).where(needed, 0.0), atol=1e-6)
    assert float(shortfall.sum()) > 1  # many SLA users are out of the helper's reach
    # the shortfall is at least the SLA users no site the modes leave awake can reach
    reachable = reachable_required_share(data, modes).isel(time=0, drop=True)
    assert bool((shortfall >= (required - reachable).where(needed, 0.0) - 1e-6).all())
    # and the penalty is what makes the solution serve the reachable ones: without it, far fewer are served
    free, free_block = build(True, penalised=False)
    assert solve_model(free, OPTIONS, diagnose=False).has_solution
    free_shortfall = float(free_block.variables["sla_shortfall"].solution.fillna(0.0).sum())
    assert free_shortfall > float(shortfall.sum()) + 10
    # the penalty of one emergency user's shortfall exceeds the whole of the other terms (each within [0, 1])
    assert float(sla_shortfall_penalty(block._context).solution.sum()) >= 1.0


def _state_at_start(world: World) -> State:
    return State(0, 0.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, 0].copy(),
                 np.zeros(world.n_site, dtype=bool), np.zeros(world.n_site))


def test_stage2_keeps_to_stage1s_carrier_sets():
    """The first decision on the 7-site cluster: no normal site has a carrier on outside Stage 1's set."""
    scenario = load_scenario(SMALL).scenario
    world = World(build_inputs(scenario))
    controller = MSRCController(scenario)
    controller.reset(world)
    decision = controller.decide(_state_at_start(world))
    assert not (decision.band_on & ~controller.carrier_cap).any()
    normal = decision.mode == NORMAL
    assert (~controller.carrier_cap[normal]).any()  # Stage 1 did shed carriers here, so the test bites


def test_no_user_is_left_off_the_network_where_its_best_server_covers_it():
    """The first decision on a 19-site light-load realisation where Stage 2's rates (every carrier it may switch on
    interfering) reached no site for an emergency user, which was then left with none while static served it:
    every user whose best server covers it under the decision's modes has a site, and every emergency user gets
    its whole demand in the simulator, as under static."""
    scenario = load_scenario(REPO / "models" / "msrc.yaml", ("traffic.load=0.5", "power.scale=0.7698")).scenario
    world = World(build_inputs(scenario, trial=1))
    controller = MSRCController(scenario)
    controller.reset(world)
    decision = controller.decide(_state_at_start(world))
    covered = (world.best_server >= 0) & world.covers(world.best_server, decision.mode)
    assert covered.sum() > 0.9 * world.n_user
    assert (decision.user_site[covered] >= 0).all()
    service = world.serve(decision.mode, decision.band_on, decision.user_site, decision.band_share)
    emergency = world.user_class == list(world.inputs["class"].values).index("emergency")
    assert (service.rate_mbps[emergency] >= world.demand[emergency] - 1e-9).all()


def test_a_critical_user_the_rounding_left_unreachable_gets_a_carrier_back():
    """The first decision on a 19-site medium-load realisation where rounding the LP's carriers at 1/2 switched off
    the only carrier of its best server that reached an emergency user at the cell edge (a small share, a small
    activation), keeping a band the neighbours drown there: the user lost service at once while static served it.
    Every emergency and voice user the every-site-normal, every-carrier-on configuration serves at its minimum
    rate gets it under msrc's first decision too."""
    scenario = load_scenario(REPO / "models" / "msrc.yaml", ("power.scale=0.7698",)).scenario
    world = World(build_inputs(scenario, trial=7))
    controller = MSRCController(scenario)
    controller.reset(world)
    decision = controller.decide(_state_at_start(world))
    everyone = np.full(world.n_site, NORMAL)
    reference = world.serve(everyone, world.mode_carriers(everyone), world.best_server)
    minimum = world.inputs.min_rate_mbps.values
    critical = world.class_critical[world.user_class] & (minimum > 0) & (reference.rate_mbps >= minimum * (1 - 1e-9))
    assert critical.sum() > 50
    service = world.serve(decision.mode, decision.band_on, decision.user_site, decision.band_share)
    assert (service.rate_mbps[critical] >= minimum[critical] * (1 - 1e-9)).all()
    assert not decision.band_on.all()  # carriers are shed, so the rounding could drop one


def test_keep_critical_carriers_gives_back_the_cheapest_lp_carrier_only_where_none_left_reaches():
    """Three users on two sites of two bands: a critical user whose LP carriers were all rounded off and whom the
    kept band does not reach gets its cheapest LP carrier back; one the kept band reaches, and a non-critical
    user, get nothing."""
    on = np.array([[True, False], [True, False]])  # (site, band): band 0 kept at both sites
    pair_user = np.array([0, 1, 2])
    pair_site = np.array([0, 1, 1])
    share = np.array([[0.0, 0.2], [0.0, 0.1], [0.0, 0.3]])  # every LP share on band 1, rounded off
    rates = np.array([[0.0, 5.0], [2.0, 5.0], [0.0, 5.0]])  # user 0 and 2 unreachable on band 0; user 1 reachable
    critical = np.array([True, True, False])
    cost = np.array([1.0, 0.5])
    out = MSRCController.keep_critical_carriers(on, share, rates, pair_user, pair_site, critical, cost)
    assert out.tolist() == [[True, True], [True, False]]  # only user 0's site gets band 1 back
    assert on.tolist() == [[True, False], [True, False]]  # the input is not changed
    both = np.array([[0.0, 0.2, 0.2]])  # one pair, three bands: the cheaper of the two LP carriers comes back
    out = MSRCController.keep_critical_carriers(
        np.array([[True, False, False]]), both, np.array([[0.0, 5.0, 5.0]]), np.array([0]), np.array([0]),
        np.array([True]), np.array([0.3, 0.7, 0.3]),
    )
    assert out.tolist() == [[True, False, True]]


def test_no_carrier_is_on_without_traffic_and_the_loop_never_diagnoses(monkeypatch):
    """On a heavy 7-site run: a carrier msrc has on carries traffic, except the one an idle awake site must keep
    (Eq. 24) and a helper's widest band (Eq. 5); the online loop never computes an infeasible subset, and
    the SLA shortfall of every radio call is in the results."""
    def no_iis(model):
        raise AssertionError("the online loop computed an irreducible infeasible subset")

    monkeypatch.setattr(solve_module, "infeasible_constraints", no_iis)
    scenario = load_scenario(SMALL, ("controller.max_duration_h=1.5",), variant="heavy").scenario
    inputs = build_inputs(scenario)
    results = run_outage(scenario, inputs, strategies=[MSRCController(scenario)]).sel(strategy="msrc")
    on = results.band_active.transpose("time", "site", "band").values
    traffic = results.band_traffic.transpose("time", "site", "band").values
    mode = results["mode"].transpose("time", "site").values
    idle_on = on & (traffic <= 0)
    widest = int(np.argmax(inputs.band_reach_m.values))
    allowed = np.zeros_like(idle_on)
    allowed[..., widest] |= mode == HELPING
    idle_site = on.any(axis=2) & ~(traffic > 0).any(axis=2)
    assert (idle_on.sum(axis=2)[idle_site] == 1).all()
    allowed |= idle_site[..., None]
    assert not (idle_on & ~allowed).any()
    assert on.sum() > idle_on.sum()
    shortfall = results.stage2_sla_shortfall
    assert shortfall.dims == ("stage2_call", "class") and np.isfinite(shortfall.dropna("stage2_call", how="all")).all()
    assert results.stage2_call_time.count() == shortfall.dropna("stage2_call", how="all").sizes["stage2_call"]


def test_site_level_data_without_targets_allows_every_set():
    """With no SLA and QoS targets of 0 every carrier set is allowed: the rule adds no limit of its own."""
    scenario = load_scenario(
        SMALL, tuple(f"traffic.classes.{c}.{k}=0" for c in ("emergency", "voice", "essential", "best_effort") for k in ("qos_target", "min_rate_fraction"))
    ).scenario
    inputs = build_inputs(scenario)
    data = site_level_data(model_data(inputs, steps_s=stage1_blocks_s(scenario.controller)))
    assert data.site_carrier_set_allowed.values.all()


def test_the_radio_problem_switches_on_only_carriers_that_carry_traffic():
    """With every carrier allowed (no Stage-1 carrier set yet) on the light 7-site cluster, a carrier the radio
    decision switches on carries traffic in the simulator, except the one an idle awake site keeps (Eq. 24)."""
    scenario = load_scenario(SMALL, variant="light").scenario
    world = World(build_inputs(scenario))
    controller = MSRCController(scenario)
    controller.reset(world)
    controller.radio(_state_at_start(world))
    assert not controller.events
    modes = controller.mode
    service = world.serve(modes, controller.band_on, controller.user_site, controller.band_share)
    idle = controller.band_on & (service.band_traffic_mbps <= 0)
    idle_site = ~(service.band_traffic_mbps > 0).any(axis=1)
    assert not idle[~idle_site].any()
    assert (idle.sum(axis=1)[idle_site] <= 1).all()
    assert not controller.band_on.all()  # light load: some carriers are off, so the rule bites
