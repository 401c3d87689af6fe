"""Rules every strategy keeps whatever the quality of its decisions: no future information, Stage 1 re-planned at
once when a site goes dark, the radio problem solved again when only the dark sites change, and local V2G in the
independent baseline.

The runs are minutes of outage on the 7-site cluster with 20 users, stopped after the steps they check; every
solve stops by the scenario's work limits (the clock limits are only safety nets), so what is checked does not
depend on the machine's speed.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import ASSISTED, DARK, HELPING, NORMAL
from msrc_model.simulation.controller import MSRCController
from msrc_model.simulation.simulator import State, World, simulate
from msrc_model.simulation.strategies import Independent, Static

from conftest import REPO

SMALL = REPO / "models" / "small.yaml"
OVERRIDES = (
    "controller.max_duration_h=1",  # the inputs run an hour past the start; the runs stop soon after the cut
    "traffic.users=20",
    "battery.soc_initial=0.3",  # low batteries: V2G and its price matter
    "ev.arrivals_per_site=4",
    "ev.arrival_window_h=0.15",  # EVs arrive over the first 9 minutes: some before the cut, some after
    # EVs with little energy to give (about a kWh each) and staying for hours: Stage 1's plan and the
    # dispatch depend on every kWh
    "ev.capacity_mean_kwh=25",
    "ev.capacity_std_kwh=5",
    "ev.capacity_min_kwh=20",
    "ev.capacity_max_kwh=30",
    "ev.soc_initial_low=0.36",
    "ev.soc_initial_high=0.45",
)
STRATEGIES = ("independent", "static", "msrc")
TINY = 3  # a ring site with almost no battery and no EVs: it goes dark within minutes, off the 15-min grid
CUT_S = 240.0  # the cut T of the no-peeking tests: every input after it changes
LEAVING = 0  # the site where an EV parked since the start leaves 10 s after the cut
DECISION_FIELDS = ("mode", "band_on", "user_site", "ev_request_kw", "links", "band_share")


# ---------------------------------------------------------------- realisations


def realisation(scenario, tiny: bool) -> xr.Dataset:
    """The small scenario's trial 0, with each site's first EV parked from the outage start and, at LEAVING, that
    EV leaving 10 s after the cut. With ``tiny``, site TINY has 0.04 kWh of usable battery energy and no EVs
    (moved to the next site): it goes dark within a few minutes in any mode but deep sleep."""
    inputs = build_inputs(scenario).copy(deep=True)
    site = inputs.ev_site.values.copy()
    if tiny:
        soc = inputs.battery_soc_initial.values.copy()
        usable = 0.04 / (float(inputs.battery_discharge_efficiency) * float(inputs.battery_capacity_kwh[TINY]))
        soc[TINY] = float(inputs.battery_soc_min) + usable
        inputs["battery_soc_initial"] = inputs.battery_soc_initial.copy(data=soc)
        site[site == TINY] = TINY + 1
        inputs["ev_site"] = inputs.ev_site.copy(data=site)
    arrival, departure = inputs.ev_arrival_s.values.copy(), inputs.ev_departure_s.values.copy()
    for s in np.unique(site):
        first = np.flatnonzero(site == s)[np.argmin(arrival[site == s])]
        arrival[first] = 0.0
        if s == LEAVING:
            departure[first] = CUT_S + 10.0
    inputs["ev_arrival_s"] = inputs.ev_arrival_s.copy(data=arrival)
    inputs["ev_departure_s"] = inputs.ev_departure_s.copy(data=departure)
    t = inputs.time.values
    inputs["ev_present"] = inputs.ev_present.copy(data=(arrival[:, None] <= t[None, :]) & (t[None, :] < departure[:, None]))
    return inputs


def future_changed(inputs: xr.Dataset, cut_s: float) -> xr.Dataset:
    """The same realisation up to ``cut_s`` and a different one after it.

    Every EV arriving after the cut arrives at another time (still after it), at another site, stays another
    time and brings another energy; every EV parked at the cut leaves an hour later; seven more EVs, one per
    site, arrive after it; every time-indexed input is changed at the instants after the cut.
    """
    arrival, departure = inputs.ev_arrival_s.values, inputs.ev_departure_s.values
    future = arrival > cut_s
    staying = ~future & (departure > cut_s)
    assert future.sum() >= 3 and staying.sum() >= 3, "the realisation no longer has EVs arriving and leaving after the cut"
    n_site = inputs.sizes["site"]
    changed = inputs.copy(deep=True)
    new_arrival = np.where(future, cut_s + 1.0 + 0.5 * (arrival - cut_s), arrival)
    new_departure = np.where(future, new_arrival + 2.0 * (departure - arrival), np.where(staying, departure + 3600.0, departure))
    capacity, soc = inputs.ev_capacity_kwh.values, inputs.ev_soc_initial.values
    changed["ev_arrival_s"] = inputs.ev_arrival_s.copy(data=new_arrival)
    changed["ev_departure_s"] = inputs.ev_departure_s.copy(data=new_departure)
    changed["ev_site"] = inputs.ev_site.copy(data=np.where(future, (inputs.ev_site.values + 2) % n_site, inputs.ev_site.values))
    changed["ev_capacity_kwh"] = inputs.ev_capacity_kwh.copy(data=np.where(future, capacity.min() + capacity.max() - capacity, capacity))
    changed["ev_soc_initial"] = inputs.ev_soc_initial.copy(data=np.where(future, soc.min() + soc.max() - soc, soc))

    # seven more EVs, one per site, arriving after the cut with the largest battery, the fullest
    per_ev = [name for name in changed.data_vars if changed[name].dims == ("ev",)]
    extra = changed[per_ev].isel(ev=np.zeros(n_site, dtype=int)).assign_coords(ev=inputs.sizes["ev"] + np.arange(n_site))
    extra_arrival = cut_s + 5.0 + 20.0 * np.arange(n_site)
    for name, values in {
        "ev_site": np.arange(n_site), "ev_arrival_s": extra_arrival, "ev_departure_s": extra_arrival + 7200.0,
        "ev_capacity_kwh": np.full(n_site, capacity.max()), "ev_soc_initial": np.full(n_site, soc.max()),
    }.items():
        extra[name] = extra[name].copy(data=values)
    timed = [name for name in inputs.data_vars if "time" in inputs[name].dims]
    changed = changed.drop_vars([n for n in timed if "ev" in inputs[n].dims]).drop_dims("ev").merge(xr.concat([changed[per_ev], extra], dim="ev"))

    # every time-indexed input after the cut: EV presence follows the new EVs, anything else is changed outright
    after = changed.time.values > cut_s
    for name in timed:
        if name == "ev_present":
            t = changed.time.values
            present = (changed.ev_arrival_s.values[:, None] <= t[None, :]) & (t[None, :] < changed.ev_departure_s.values[:, None])
            changed[name] = xr.DataArray(present, dims=("ev", "time"), coords={"ev": changed.ev, "time": changed.time}, attrs=inputs[name].attrs)
            continue
        values = inputs[name].transpose("time", ...).values.copy()
        values[after] = ~values[after] if values.dtype == bool else values[after] * 0.5 + 1
        changed[name] = inputs[name].transpose("time", ...).copy(data=values).transpose(*inputs[name].dims)
    assert set(changed.data_vars) == set(inputs.data_vars)
    return changed


# ---------------------------------------------------------------- runs, recorded call by call


class _Stop(Exception):
    """Raised from a wrapped ``decide`` to end a run once the steps of interest are done."""


def make_strategy(name: str, scenario):
    return {"independent": Independent, "static": Static, "msrc": lambda: MSRCController(scenario)}[name]()


def run_until(world: World, strategy, until_s: float) -> dict:
    """Simulate ``strategy`` through the step starting at ``until_s``, then stop.

    Returns every ``decide`` call (time, step and dark sites of the state, the decision, and for the controller
    the V2G price it posts), copied as it was made; for the controller also every Stage-1 call (time, dark sites
    and parked EVs it saw, and what it set: modes, links, carrier sets, V2G price, objective) and every radio
    call time.
    """
    decisions, stage1_calls = [], []
    controller = isinstance(strategy, MSRCController)
    decide = strategy.decide

    def recording_decide(state: State):
        if state.time_s > until_s + 1e-9:
            raise _Stop
        decision = decide(state)
        snap = {"time_s": state.time_s, "dark": np.flatnonzero(state.dark).tolist()}
        for field in DECISION_FIELDS:
            value = getattr(decision, field)
            snap[field] = None if value is None else np.array(value, copy=True)
        if controller:
            snap["v2g_price"] = strategy.price.copy()  # Eq. 16, posted at the last Stage-1 call
            snap["stage1_calls_so_far"] = len(stage1_calls)
        decisions.append(snap)
        return decision

    strategy.decide = recording_decide
    if controller:
        stage1 = strategy.stage1

        def recording_stage1(state: State):
            stage1(state)
            stage1_calls.append({
                "time_s": state.time_s, "dark": np.flatnonzero(state.dark).tolist(), "parked_evs": int(state.parked.sum()),
                "mode": strategy.mode.copy(), "links": strategy.links.copy(), "carrier_cap": strategy.carrier_cap.copy(),
                "v2g_price": strategy.price.copy(), "objective": strategy.stage1_objectives[-1],
            })

        strategy.stage1 = recording_stage1
    with pytest.raises(_Stop):
        simulate(world, strategy)
    return {
        "decisions": decisions, "stage1": stage1_calls, "events": list(strategy.events),
        "radio": list(strategy.radio_call_times) if controller else [],
    }


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SMALL, OVERRIDES).scenario


@pytest.fixture(scope="module")
def runs(scenario):
    """``runs(tiny, changed, name)``: the strategy's run through the cut on that realisation (computed once)."""
    inputs, done = {}, {}

    def get(tiny: bool, changed: bool, name: str) -> dict:
        if (tiny, changed) not in inputs:
            base = realisation(scenario, tiny)
            inputs[tiny, changed] = future_changed(base, CUT_S) if changed else base
        if (tiny, changed, name) not in done:
            done[tiny, changed, name] = run_until(World(inputs[tiny, changed]), make_strategy(name, scenario), CUT_S)
        return done[tiny, changed, name]

    return get


def assert_same_calls(base: list[dict], other: list[dict], what: str) -> None:
    assert [c["time_s"] for c in other] == [c["time_s"] for c in base], f"{what}: calls at other times"
    for a, b in zip(base, other):
        assert a.keys() == b.keys()
        for key in a:
            where = f"{what} at {a['time_s']:g} s: {key}"
            if a[key] is None or b[key] is None:
                assert a[key] is None and b[key] is None, where
            else:
                np.testing.assert_array_equal(np.asarray(b[key]), np.asarray(a[key]), err_msg=where)


# ---------------------------------------------------------------- 1. no peeking


@pytest.mark.parametrize("tiny, name", [(True, n) for n in STRATEGIES] + [(False, "static")])
def test_no_decision_before_a_time_depends_on_any_input_after_it(runs, tiny, name):
    """Change everything after the cut T (EV arrivals and departures, the sites and energies of EVs arriving later,
    more EVs, every time-indexed input): every decision made before T is the same, call by call (a site going dark
    makes a second call in its step): modes, links, carriers on, user association, band shares, V2G requests, the
    V2G price, and every Stage-1 output (modes, links, carrier sets, price, objective) and radio call.

    With the tiny site the plans of msrc and static are shaped by a site about to go dark; without it (static
    only: its one plan is made at the start), static's plan is shaped by every site's energy, EVs included."""
    base, changed = runs(tiny, False, name), runs(tiny, True, name)

    def before(calls: list[dict]) -> list[dict]:
        return [c for c in calls if c["time_s"] < CUT_S]

    assert base["decisions"][-1]["time_s"] == CUT_S  # the runs went as far as the cut
    assert_same_calls(before(base["decisions"]), before(changed["decisions"]), f"{name}: decision")
    assert [c["dark"] for c in before(changed["decisions"])] == [c["dark"] for c in before(base["decisions"])]
    assert_same_calls(before(base["stage1"]), before(changed["stage1"]), f"{name}: Stage 1")
    assert [t for t in changed["radio"] if t < CUT_S] == [t for t in base["radio"] if t < CUT_S]
    if name == "msrc":
        # the comparison covers what it should: Stage 1 with EVs parked, and V2G requested
        assert len(base["stage1"]) >= 2 and all(c["parked_evs"] > 0 for c in base["stage1"])
        assert any(np.any(d["ev_request_kw"] > 0) for d in before(base["decisions"]))


@pytest.mark.parametrize("name", STRATEGIES)
def test_no_decision_depends_on_a_departure_within_its_own_step(runs, name):
    """The decision made at T is the same whether the EV parked at LEAVING since the start leaves 10 s after T or
    an hour later: a strategy deciding at T cannot know that the EV leaves in the next 30 s."""
    base, changed = runs(True, False, name), runs(True, True, name)

    def at_cut(calls: list[dict]) -> list[dict]:
        return [c for c in calls if c["time_s"] == CUT_S]

    assert at_cut(base["decisions"]), "no decision at the cut"
    assert_same_calls(at_cut(base["decisions"]), at_cut(changed["decisions"]), f"{name}: decision")
    assert_same_calls(at_cut(base["stage1"]), at_cut(changed["stage1"]), f"{name}: Stage 1")


# ---------------------------------------------------------------- 2. Stage 1 at once when a site goes dark


def test_stage1_replans_at_the_step_a_site_goes_dark_off_the_15_min_grid(runs, scenario):
    """Site TINY goes dark minutes into the outage, between two 15-min Stage-1 calls: Stage 1 runs at that very
    step, seeing the dark site, before the step's decision is made, and at no other time but the start."""
    run = runs(True, False, "msrc")
    dark_at = next(d["time_s"] for d in run["decisions"] if d["dark"])
    interval_s = scenario.controller.stage1_interval_min * 60.0
    assert 0 < dark_at < CUT_S and dark_at % interval_s != 0, "the tiny site no longer goes dark off the Stage-1 grid"
    assert [d["dark"] for d in run["decisions"] if d["dark"]][0] == [TINY]
    assert [(c["time_s"], c["dark"]) for c in run["stage1"]] == [(0.0, []), (dark_at, [TINY])]
    # the decision applied at that step is the one made after the new plan
    last_at_dark = [d for d in run["decisions"] if d["time_s"] == dark_at][-1]
    assert last_at_dark["dark"] == [TINY] and last_at_dark["stage1_calls_so_far"] == 2
    # and the radio problem was solved for it
    assert dark_at in run["radio"]


# ---------------------------------------------------------------- 3. the radio cache key holds the dark sites


def _planned(scenario, world: World, monkeypatch) -> tuple[MSRCController, list[float], list[float]]:
    """A controller whose Stage 1 always sets the same plan (site 0 helping site 5, site 2 on its first two
    carriers, the others normal); the Stage-1 model is not built. Returns it and its Stage-1 and radio call times."""
    monkeypatch.setattr(MSRCController, "_build_stage1", lambda self: None)
    controller = MSRCController(scenario)
    controller.reset(world)
    arc = int(np.flatnonzero((world.edge_helper == 0) & (world.edge_assisted == 5) & world.kappa_ok)[0])
    stage1_times, radio_times = [], []

    def fixed_plan(state: State) -> None:
        stage1_times.append(state.time_s)
        mode = np.full(world.n_site, NORMAL)
        mode[0], mode[5] = HELPING, ASSISTED
        links = np.zeros(world.n_edge, dtype=bool)
        links[arc] = True
        cap = np.ones((world.n_site, world.n_band), dtype=bool)
        cap[2, 2:] = False
        controller.mode, controller.links, controller.carrier_cap = mode, links, cap

    radio = controller.radio

    def counted_radio(state: State) -> None:
        radio_times.append(state.time_s)
        radio(state)

    controller.stage1, controller.radio = fixed_plan, counted_radio
    return controller, stage1_times, radio_times


def test_radio_problem_is_solved_again_when_only_the_dark_sites_change(scenario, monkeypatch):
    """With the same modes, links and carrier sets, a site going dark alone makes the radio problem be solved again
    (no user is left on it); while nothing changes the last solution is reused, and a reused decision is the
    decision a fresh controller makes from the same plan and state."""
    world = World(realisation(scenario, tiny=False))  # site TINY is made dark by hand here
    controller, stage1_times, radio_times = _planned(scenario, world, monkeypatch)
    dark = np.zeros(world.n_site, dtype=bool)
    dark[TINY] = True

    def state(k: int, dark_sites: np.ndarray) -> State:
        """Step k's state: batteries, EVs and last loads change from step to step, the radio inputs need not."""
        battery = world.battery.initial_kwh - 0.02 * k
        ev = world.evs.initial_kwh - 0.01 * k * world.parked[:, k]
        return State(k, k * world.step_s, battery, ev, world.parked[:, k].copy(), dark_sites.copy(), np.full(world.n_site, 1.0 + 0.1 * k))

    none = np.zeros(world.n_site, dtype=bool)
    decisions = [controller.decide(state(0, none)), controller.decide(state(1, none))]
    assert radio_times == [0.0]  # nothing changed: reused
    for field in ("mode", "band_on", "user_site", "links", "band_share"):
        np.testing.assert_array_equal(getattr(decisions[1], field), getattr(decisions[0], field), err_msg=field)
    assert (decisions[1].user_site == TINY).any()
    decisions.append(controller.decide(state(2, dark)))
    assert stage1_times == [0.0, 60.0]  # the same plan again: modes, links and carrier sets unchanged
    assert radio_times == [0.0, 60.0], "the radio problem was not solved again when a site went dark"
    assert controller.radio_call_times == [0.0, 60.0]
    assert not (decisions[2].user_site == TINY).any()
    decisions.append(controller.decide(state(3, dark)))
    assert radio_times == [0.0, 60.0]  # the same key: reused

    fresh, fresh_stage1, fresh_radio = _planned(scenario, world, monkeypatch)
    again = fresh.decide(state(3, dark))
    assert fresh_radio == [90.0]
    for field in DECISION_FIELDS:
        np.testing.assert_array_equal(getattr(decisions[3], field), getattr(again, field), err_msg=field)


# ---------------------------------------------------------------- 4. the independent baseline's local V2G


def test_independent_takes_v2g_from_parked_evs_while_its_battery_could_still_carry_the_load(scenario):
    """Low batteries and EVs parked from the start: at every step a site is awake with a parked EV that can give
    power, the independent baseline draws it (up to its load at least), also while the battery alone could still
    carry the load (so it is the strategy asking, not the simulator's last resort before a site goes dark)."""
    world = World(realisation(scenario, tiny=False))
    strategy = Independent()
    record = simulate(world, strategy)
    assert (strategy.decision.ev_request_kw > 0).all()
    checked = 0
    for k in range(world.n_steps):
        awake = record.mode[k] != DARK
        if not awake.any():
            break
        _, available = world.ev_available_kw(record.ev_energy[k], world.parked[:, k])
        load = record.site_power[k]
        battery_could = world.battery_available_kw(record.battery_energy[k]) >= load
        sites = awake & (available > 1e-9) & (load > 0)
        assert (record.ev_power[k, sites] >= np.minimum(available, load)[sites] - 1e-9).all(), f"step {k}"
        assert (record.ev_power[k, sites] > 0).all(), f"step {k}"
        checked += int((sites & battery_could).sum())
    assert checked >= 20, "too few steps with a parked EV and a battery still able to carry its site"
    assert record.ev_power.sum() * world.step_h > 0
