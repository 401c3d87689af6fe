"""Regions: a large cluster cut into neighbouring sites' groups, each solved as its own problem
(``controller.region_max_sites``, :mod:`msrc_model.formulation.regions`).

The cut covers every site once and is the same on every run; a region's data is the cluster's, renumbered
within it, with nothing of another region's; the controller never links sites across a border, solves a
region's radio problem again only when its inputs changed, and treats a cluster no larger than the limit as
one region (the default runs are unchanged: ``tests/test_reference_runs.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from msrc_model.config.loader import load_scenario
from msrc_model.formulation import model_data
from msrc_model.formulation.regions import Region, bisect_regions, cluster_regions, select_region
from msrc_model.inputs import build_inputs
from msrc_model.inputs.geometry import hex_site_positions
from msrc_model.physics import HELPING, NORMAL, SLEEP, needs_helper
from msrc_model.simulation.controller import MSRCController
from msrc_model.simulation.outage import run_outage
from msrc_model.simulation.simulator import State, World

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"


# ---------------------------------------------------------------- the cut


@settings(max_examples=60, deadline=None)
@given(
    positions=st.integers(1, 120).flatmap(
        lambda n: arrays(np.float64, (n, 2), elements=st.floats(-5e3, 5e3, allow_nan=False, allow_infinity=False))
    ),
    max_sites=st.integers(1, 40),
)
def test_the_cut_covers_every_site_once_in_regions_no_larger_than_the_limit(positions, max_sites):
    regions = bisect_regions(positions, max_sites)
    every = np.concatenate(regions)
    np.testing.assert_array_equal(np.sort(every), np.arange(len(positions)))  # each site in exactly one region
    assert all(0 < r.size <= max_sites for r in regions)
    assert all((np.diff(r) > 0).all() for r in regions)
    # halving until the limit: at most 2^d regions, d the fewest halvings that bring n sites to the limit
    halvings = max(0, int(np.ceil(np.log2(len(positions) / max_sites) - 1e-12)))
    assert len(regions) <= 2**halvings
    again = bisect_regions(positions.copy(), max_sites)
    assert all(np.array_equal(a, b) for a, b in zip(regions, again)) and len(again) == len(regions)


def test_sites_on_a_line_are_cut_into_runs_of_neighbours():
    x = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 0.0])  # site i at x[i]
    regions = bisect_regions(np.column_stack([x, np.zeros_like(x)]), 3)
    spans = sorted((x[r].min(), x[r].max(), r.size) for r in regions)
    for (low, high, count), (next_low, _, _) in zip(spans, spans[1:]):
        assert high < next_low  # no region reaches into another
        assert high - low == count - 1  # a run of neighbours (unit spacing)


def test_a_city_is_cut_into_compact_regions_of_nearly_equal_size():
    positions = hex_site_positions(12, 500.0)  # models/city.yaml's 469 sites
    regions = bisect_regions(positions, 37)
    sizes = np.array([r.size for r in regions])
    assert len(regions) == 16 and sizes.min() >= 29 and sizes.max() <= 30
    span = positions.max(axis=0) - positions.min(axis=0)  # 12 x 10.4 km
    for r in regions:  # a patch of about 30 x 0.22 km^2 (2.6 km across if square), not a strip across the city
        extent = positions[r].max(axis=0) - positions[r].min(axis=0)
        assert (extent <= span / 3).all() and extent.max() <= 2.5 * extent.min(), extent


# ---------------------------------------------------------------- a region's data


@pytest.fixture(scope="module")
def paper_data():
    scenario = load_scenario(REPO / "models" / "msrc.yaml").scenario
    inputs = build_inputs(scenario, 0)
    return inputs, model_data(inputs, step_s=30.0, max_duration_s=30.0)


def test_a_region_holds_its_sites_arcs_home_users_and_their_pairs_renumbered(paper_data):
    inputs, data = paper_data
    world = World(inputs)
    positions = np.column_stack([inputs.site_x_m.values, inputs.site_y_m.values])
    regions = cluster_regions(data, positions, world.home, 7)
    assert len(regions) == 4
    homed = world.home >= 0
    np.testing.assert_array_equal(np.sort(np.concatenate([r.users for r in regions])), np.flatnonzero(homed))
    for region in regions:
        part = select_region(data, region)
        assert part.sizes["site"] == region.sites.size and part.sizes["user"] == region.users.size
        np.testing.assert_array_equal(part.site.values, data.site.values[region.sites])
        # every pair, back in the cluster's numbering, is the cluster's pair at the same position
        np.testing.assert_array_equal(region.users[part.pair_user.values], data.pair_user.values[region.pairs])
        np.testing.assert_array_equal(region.sites[part.pair_site.values], data.pair_site.values[region.pairs])
        np.testing.assert_array_equal(part.pair_max_rate_mbps.values, data.pair_max_rate_mbps.values[region.pairs])
        # ... and every pair of a home user with a site of the region is there
        mine = np.isin(data.pair_user.values, region.users) & np.isin(data.pair_site.values, region.sites)
        np.testing.assert_array_equal(np.flatnonzero(mine), region.pairs)
        assert np.isin(world.home[region.users], region.sites).all()
        # arcs: both ends inside, renumbered, the reverse arc the reverse
        helper, assisted = part.edge_helper.values, part.edge_assisted.values
        np.testing.assert_array_equal(region.sites[helper], data.edge_helper.values[region.edges])
        np.testing.assert_array_equal(region.sites[assisted], data.edge_assisted.values[region.edges])
        reverse = part.edge_reverse.values
        np.testing.assert_array_equal(helper[reverse], assisted)
        np.testing.assert_array_equal(assisted[reverse], helper)
        both = np.isin(data.edge_helper.values, region.sites) & np.isin(data.edge_assisted.values, region.sites)
        np.testing.assert_array_equal(np.flatnonzero(both), region.edges)
        assert "ranked_site" not in part and "site_rank" not in part.dims


def test_a_cluster_within_the_limit_is_one_region_with_every_user(paper_data):
    inputs, data = paper_data
    world = World(inputs)
    positions = np.column_stack([inputs.site_x_m.values, inputs.site_y_m.values])
    (region,) = cluster_regions(data, positions, world.home, 19)
    whole = Region.whole(data)
    for name in ("sites", "users", "pairs", "edges"):
        np.testing.assert_array_equal(getattr(region, name), getattr(whole, name))
    assert region.users.size == data.sizes["user"]  # users with no home site too


# ---------------------------------------------------------------- the controller by regions


REGIONAL = ["controller.max_duration_h=0.5", "controller.region_max_sites=3", "run.strategies=[msrc]", "battery.soc_initial=0.3"]


@pytest.fixture(scope="module")
def regional_run():
    loaded = load_scenario(SMALL, overrides=REGIONAL)
    inputs = build_inputs(loaded.scenario, 0)
    controller = MSRCController(loaded.scenario)
    results = run_outage(loaded.scenario, inputs, strategies=[controller])
    return inputs, controller, results.sel(strategy="msrc")


def test_a_run_by_regions_records_them_and_ends_with_no_fallback(regional_run):
    inputs, controller, results = regional_run
    assert len(controller.parts) == 3 and float(results.controller_regions.max()) == 3
    assert float(results.solver_fallbacks) == 0
    solved = results.stage2_regions_solved.values
    solved = solved[np.isfinite(solved)]
    assert solved.size and (solved >= 1).all() and (solved <= 3).all()
    # the Stage-1 record of each call: one gap over the regions, at most the method's
    gaps = results.stage1_gap.values
    assert (gaps[np.isfinite(gaps)] <= controller.scenario.controller.previous_start_gap + 1e-9).all()


def _weak_state(world: World, weak: list[int]) -> State:
    """The outage start with the batteries of ``weak`` 0.3 kWh above their floor, the others as drawn."""
    battery = world.battery.initial_kwh.copy()
    battery[weak] = world.battery.floor_kwh[weak] + 0.3
    none = np.zeros(world.n_site, dtype=bool)
    return State(0, 0.0, battery, world.evs.initial_kwh.copy(), world.parked[:, 0].copy(), none, np.zeros(world.n_site))


def test_the_plan_applied_is_each_regions_stage1_solution_and_links_stay_inside_regions():
    """Two regions of the 7-site cluster ({0, 1, 2, 6} and {3, 4, 5}), sites 2 and 4 nearly empty: the rounded LP
    plan makes region 0 cooperate. The modes and links applied are, region by region, its own model's first block
    mapped back to the cluster's sites and arcs; no arc between two regions is used."""
    loaded = load_scenario(SMALL, overrides=["controller.region_max_sites=4", "controller.stage1_method=lp_rounding"])
    world = World(build_inputs(loaded.scenario, 0))
    controller = MSRCController(loaded.scenario)
    controller.reset(world)
    assert [list(p.region.sites) for p in controller.parts] == [[0, 1, 2, 6], [3, 4, 5]]
    controller.stage1(_weak_state(world, [2, 4]))
    assert controller.links.any() and (controller.mode != NORMAL).any()  # cooperation: the check below is not vacuous
    first = controller.data1.time.values[0]
    inside = np.zeros(world.n_edge, dtype=bool)
    for part in controller.parts:
        block = part.stage1.block
        gamma = block.variables["mode"].solution.sel(time=first).transpose("site", "mode").values
        np.testing.assert_array_equal(controller.mode[part.region.sites], np.argmax(gamma, axis=1))
        used = block.expressions["link_at_arc"].solution.sel(time=first).values > 0.5
        # a link is applied where the solution has it between a helper and a client (Eqs. 20-21)
        edges = part.region.edges
        mode = controller.mode
        used &= world.kappa_ok[edges] & (mode[world.edge_helper[edges]] == HELPING) & needs_helper(mode[world.edge_assisted[edges]])
        np.testing.assert_array_equal(controller.links[edges], used)
        inside[part.region.edges] = True
    assert not controller.links[~inside].any()
    helper, assisted = world.edge_helper[controller.links], world.edge_assisted[controller.links]
    region_of = np.empty(world.n_site, dtype=int)
    for k, part in enumerate(controller.parts):
        region_of[part.region.sites] = k
    np.testing.assert_array_equal(region_of[helper], region_of[assisted])


def test_a_region_whose_radio_solve_fails_keeps_its_last_decision_while_the_others_take_their_new_one(regional_run):
    """Region 1's solve fails (stand-in report): its sites keep their carriers and its users their sites (repaired),
    the failure is recorded, and region 0, solved again from new inputs at the same call, gets its new decision."""
    from msrc_model.problems.solve import SolveReport

    inputs, run_controller, _ = regional_run
    controller = MSRCController(run_controller.scenario)  # its own: the stand-in solve is not to leak into other tests
    world = World(inputs)
    controller.reset(world)
    start = _weak_state(world, [])
    controller.radio(start)
    before_on, before_users = controller.band_on.copy(), controller.user_site.copy()
    failing = controller.parts[1]
    failing.radio.solve = lambda options, **kwargs: SolveReport("warning", "time_limit", has_solution=False)
    dark = np.zeros(world.n_site, dtype=bool)
    dark[[controller.parts[0].region.sites[0], failing.region.sites[0]]] = True  # new inputs in both regions
    events = len(controller.events)
    controller.radio(State(1, 30.0, start.battery_kwh, start.ev_kwh, start.parked, dark, start.site_power_kw))
    assert [e.stage for e in controller.events[events:]] == ["stage2"] and controller.radio_regions_solved[-1] == 3
    assert failing.radio_key is None  # solved again at the next call
    gone = controller.parts[0].region.sites[0]
    mine = controller.parts[0].region.users
    assert not (controller.user_site[mine] == gone).any()  # region 0: the new decision, no user on its dark site
    np.testing.assert_array_equal(controller.user_site[mine][controller.parts[0].user_site >= 0], controller.parts[0].user_site[controller.parts[0].user_site >= 0])
    sites = failing.region.sites[1:]  # region 1's awake sites: the carriers they had, none switched off by the trim
    np.testing.assert_array_equal(controller.band_on[sites], before_on[sites])
    awake_users = failing.region.users[np.isin(before_users[failing.region.users], sites)]
    np.testing.assert_array_equal(controller.user_site[awake_users], before_users[awake_users])
    assert not controller.band_on[failing.region.sites[0]].any()  # the dark site radiates nothing


def test_a_region_whose_inputs_did_not_change_is_not_solved_again(regional_run):
    inputs, run_controller, _ = regional_run
    controller = MSRCController(run_controller.scenario)
    world = World(inputs)
    controller.reset(world)
    state = State(0, 0.0, world.battery.initial_kwh.copy(), world.evs.initial_kwh.copy(), world.parked[:, 0].copy(),
                  np.zeros(world.n_site, dtype=bool), np.full(world.n_site, 1.0))
    controller.radio(state)
    first = (controller.user_site.copy(), controller.band_on.copy(), controller.band_share.copy())
    controller.radio(state)
    assert controller.radio_regions_solved[-1] == 0  # same inputs: every region's last solution stands
    for before, after in zip(first, (controller.user_site, controller.band_on, controller.band_share)):
        np.testing.assert_array_equal(before, after)
    # a site of one region asleep: that region is solved again, and the regions its carriers do not reach are not
    mode = controller.mode.copy()
    controller.mode[controller.parts[0].region.sites[0]] = SLEEP
    controller.radio(state)
    assert 1 <= controller.radio_regions_solved[-1] <= len(controller.parts)
    controller.mode = mode


# ---------------------------------------------------------------- regions side by side


def test_regions_solved_in_threads_give_the_same_run(regional_run):
    """controller.region_threads: the three regions solved side by side give the run one thread gives."""
    inputs, controller, results = regional_run
    threaded = load_scenario(SMALL, overrides=[*REGIONAL, "controller.region_threads=3"]).scenario
    again = run_outage(threaded, inputs, strategies=[MSRCController(threaded)]).sel(strategy="msrc")
    clocks = [name for name in results.data_vars if name.endswith(("_time", "wall_time")) and "call_time" not in name]
    assert "stage2_wall_time" in clocks and "stage1_wall_time" in clocks
    for name in results.data_vars:
        if name not in clocks:
            np.testing.assert_array_equal(again[name].values, results[name].values, err_msg=name)
    assert (np.nan_to_num(again.stage2_regions_solved.values) > 1).any()  # some call had regions to share out


def test_in_regions_runs_items_side_by_side_and_keeps_their_order(regional_run):
    """Two items that each wait for the other: only threads side by side get past the barrier."""
    import threading

    _, controller, _ = regional_run
    side_by_side = MSRCController(load_scenario(SMALL, overrides=[*REGIONAL, "controller.region_threads=2"]).scenario)
    barrier = threading.Barrier(2, timeout=20)

    def work(item):
        barrier.wait()  # raises BrokenBarrierError (the test fails) if the items ran one after the other
        return item * 10, threading.current_thread().name

    out = side_by_side.in_regions(work, [1, 2])
    assert [value for value, _ in out] == [10, 20]
    assert len({name for _, name in out}) == 2


def test_solver_banner_windows_overlapping_in_threads_give_standard_output_back():
    """A window entered in one thread and left while another's is open: descriptor 1 points where it did."""
    import os
    import sys
    import threading

    from msrc_model.problems.solve import _quiet_stdout

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        pytest.skip("standard output has no descriptor here")
    before = os.fstat(fd)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with _quiet_stdout():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second():
        a_in.wait(10)
        with _quiet_stdout():
            b_in.set()
            a_out.wait(10)  # leaves after the first window has closed

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    after = os.fstat(fd)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_an_error_in_one_region_stops_the_others_and_is_raised(regional_run):
    """Region 0 fails while region 1 solves: region 1's solve is asked to stop, region 2 never starts."""
    import threading

    _, controller, _ = regional_run
    side_by_side = MSRCController(load_scenario(SMALL, overrides=[*REGIONAL, "controller.region_threads=2"]).scenario)
    side_by_side.reset(World(regional_run[0]))
    stopped, started = threading.Event(), []
    for part in side_by_side.parts:
        part.cancel_solves = stopped.set  # stands in for HiGHS's cancel of the solve running now

    def work(item):
        started.append(item)
        if item == 0:
            raise ValueError("region 0 failed")
        assert stopped.wait(20), "the running region was not asked to stop"
        return item

    with pytest.raises(ValueError, match="region 0 failed"):
        side_by_side.in_regions(work, [0, 1, 2])
    assert stopped.is_set() and 2 not in started
