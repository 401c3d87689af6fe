"""The MSRC two-stage controller (Algorithm 1, Sec. IV) as a simulation strategy.

**Stage 1** (every ``stage1_interval_min``, and at once when a site goes
dark) solves :func:`msrc_model.problems.stages.build_stage1` over the horizon H cut
into blocks of ``stage1_block_h``: modes are binary in the first block and
mode time shares after it (move blocking); traffic and power are at site
level; the least projected remaining battery time over the sites still alive
is maximised (Eq. 26, with each site's normal-mode power as the fixed
denominator) together with service, V2G cost and mode switches (Eq. 18
weights). The first block's modes and links are applied.

**Stage 2** (every ``stage2_interval_s``) has two parts, both HiGHS problems:

* the radio problem, :class:`msrc_model.problems.stages.RadioProblem`: per-user
  association (continuous, as the paper words Stage 2), band shares and
  binary carrier activation with the modes fixed (Eq. 27 by tangent cuts,
  less the energy drawn); a user the solution splits over two sites goes to
  the one carrying the larger share. Its rates per share come from the
  Eq. 7 SINR under the fixed modes with every carrier they allow
  transmitting (``stage2_rates``), and its band shares go to the simulator.
  The pairs it is offered: each site's own and best-served users and those
  inside its nominal radius, a helper's linked (or dark) neighbours' users,
  and a user its best server no longer covers to any awake site. Its inputs
  are the modes, links and dark sites only, so
  it is solved again only when one of them changes; otherwise the previous
  solution is the solution (same inputs, same deterministic solve).
* the energy dispatch, :class:`msrc_model.problems.stages.DispatchProblem` (built once): battery and
  V2G power per site from the load the radio decision draws, what the
  battery and the *currently parked* EVs can give, and the V2G price posted
  at the last Stage-1 call (Eq. 16). It is solved again whenever one of these
  inputs differs from the last solve.

**Regions.** A cluster of more than ``controller.region_max_sites`` sites is cut into
regions (:mod:`msrc_model.formulation.regions`); both stages are then solved per
region, each with its own model, and the regions' decisions joined (:class:`RegionSolver`).

**No peeking.** Stage 1 sees the EVs parked now (with their energy) and
expects them to stay for the mean stay; with ``controller.plan_ev_arrivals``
it also expects new arrivals at the known rate until the arrival window
closes, each bringing the mean usable energy. It never reads the realised
arrival or departure times.

**Failed solves.** A solve that returns no usable solution (time limit with
no incumbent, numerical trouble, infeasible) is recorded as a
:class:`~msrc_model.simulation.simulator.SolverEvent` and the controller keeps its last
feasible decision, repaired for sites that went dark since (an assisted or
sleeping site whose helpers are all dark returns to normal).
"""

from __future__ import annotations

import time as _time
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

import numpy as np
import xarray as xr

from ..config.scenario import Scenario
from ..formulation import model_data, with_block_semantics
from ..formulation.regions import Region, cluster_regions, select_region
from ..formulation.site_level import site_level_data
from ..physics import ASSISTED, DARK, HELPING, NORMAL, SLEEP, awake, band_power_coefficients, needs_helper, numeric, peak_supply_kw, v2g_cost_scale_per_h
from ..problems.solve import STARTED_MIP_OPTIONS, SolveReport, highs_options
from ..problems.stages import DispatchProblem, RadioProblem, Stage1Problem, build_stage1
from .simulator import Decision, SolverEvent, State, World
from .strategies import configured_association

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def with_time_left(options: dict, started: float) -> dict:
    """``options`` with its safety-net clock (``time_limit``, s) less the time since ``started`` (``time.perf_counter``).

    The solves one controller call chains share one clock: each gets what the ones before it left
    (at least 1 ms, so that HiGHS still returns at once with what it has).
    """
    if "time_limit" not in options:
        return dict(options)
    return {**options, "time_limit": max(float(options["time_limit"]) - (_time.perf_counter() - started), 1e-3)}


def stopped_by_the_clock(report) -> bool:
    """A solve ended by its time limit with no usable solution: the call's clock is spent."""
    return report.termination == "time_limit" and not report.has_solution


def stage1_blocks_s(controller) -> np.ndarray:
    """Stage-1 block lengths (s): the Stage-1 interval, then the rest of H in blocks of about ``stage1_block_h``."""
    first = controller.stage1_interval_min * 60.0
    rest = max(controller.stage1_horizon_h * 3600.0 - first, 0.0)
    count = int(np.ceil(rest / (controller.stage1_block_h * 3600.0) - 1e-9)) if rest > 0 else 0
    return np.concatenate([[first], np.full(count, rest / max(count, 1))])


@dataclass
class RegionSolver:
    """One region's problems and its last radio solution (``controller.region_max_sites``; a 19-site cluster is one region).

    ``data1`` and ``data2`` are the region's Stage-1 (site-level) and Stage-2 model data, renumbered within it
    (:func:`msrc_model.formulation.regions.select_region`); for a cluster that is one region they are the
    whole cluster's. The radio solution is kept with the key of the inputs it was solved from, so that a
    region whose inputs did not change is not solved again.
    """

    region: Region
    data1: xr.Dataset
    data2: xr.Dataset
    stage1: Stage1Problem | None = None
    radio: RadioProblem | None = None
    radio_key: bytes | None = None
    user_site: np.ndarray | None = None  #: site (cluster index, -1: none) of each of the region's users
    band_on: np.ndarray | None = None  #: (region site, band) carriers on
    band_share: np.ndarray | None = None  #: (region user, band) band shares at the user's site
    split_users: float = 0.0
    sla_shortfall: np.ndarray | None = None  #: (class,) users' shares short of Eq. 10

    def cancel_solves(self) -> None:
        """Ask the region's solves running now to stop (an interruption, or another region's error)."""
        for problem in (self.stage1, self.radio):
            if problem is not None:
                problem.solver.cancel()

    def site_array(self, values: np.ndarray) -> xr.DataArray:
        """The region's part of a (site,) cluster array, on the region's site coordinates."""
        return xr.DataArray(np.asarray(values)[self.region.sites], dims="site", coords={"site": self.data1.site.values}, name="site")


def combined_report(reports: list[SolveReport], elapsed_s: float) -> SolveReport:
    """One Stage-1 call's report from its regions': the sums of their objectives and bounds, the largest gap.

    Its status is the first failed region's (else the first region's), with ``time_limit`` if any region
    stopped at its clock. A cluster that is one region gets its one report back, with ``elapsed_s`` as its time.
    """
    if len(reports) == 1:
        reports[0].solve_time_s = elapsed_s
        return reports[0]
    solved = [r for r in reports if r.has_solution]
    first = next((r for r in reports if not r.has_solution), reports[0])
    gaps = np.asarray([r.gap for r in solved], dtype=float)
    termination = "time_limit" if any(r.termination == "time_limit" for r in reports) else first.termination
    return SolveReport(
        first.status, termination, has_solution=len(solved) == len(reports),
        objective=float(sum(r.objective for r in solved)), dual_bound=float(sum(r.dual_bound for r in solved)),
        gap=float(np.nanmax(gaps)) if np.isfinite(gaps).any() else float("nan"), solve_time_s=elapsed_s,
    )


class MSRCController:
    """Algorithm 1: Stage 1 every 15 min over H, Stage 2 every step."""

    name = "msrc"

    def __init__(
        self, scenario: Scenario, fail_stage1_at_s: tuple[float, ...] = (), fail_stage2_at_s: tuple[float, ...] = ()
    ) -> None:
        self.scenario = scenario
        self.weights = scenario.objective.model_dump()
        self.events: list[SolverEvent] = []
        # test hooks: the Stage-1 calls at these times, and the first radio call at or after
        # each of these times, get a time limit too short to find anything
        self.fail_stage1_at_s = set(fail_stage1_at_s)
        self.fail_stage2_at_s = set(fail_stage2_at_s)

    # ------------------------------------------------------------------ setup
    def reset(self, world: World) -> None:
        c = self.scenario.controller
        self.world = world
        self.events = []
        inputs = world.inputs
        no_evs = {"ev": []}
        # the whole cluster's model data: the site-level numbers come from the physics on the whole cluster
        self.data1 = site_level_data(model_data(inputs, steps_s=stage1_blocks_s(c)).isel(no_evs))
        self.data2 = model_data(inputs, step_s=world.step_s, max_duration_s=world.step_s).isel(no_evs)
        positions = np.column_stack([inputs.site_x_m.values, inputs.site_y_m.values])
        # a user belongs to its best server's region: Stage 1's site-level data counts its traffic there
        regions = cluster_regions(self.data1, positions, world.best_server, c.region_max_sites)
        if len(regions) == 1:
            self.parts = [RegionSolver(regions[0], self.data1, self.data2)]
        else:
            self.parts = [RegionSolver(r, select_region(self.data1, r), select_region(self.data2, r)) for r in regions]
        self.stage1_every = int(round(c.stage1_interval_min * 60.0 / world.step_s))

        self.mode = np.full(world.n_site, NORMAL)
        self.links = np.zeros(world.n_edge, dtype=bool)
        self.known_dark = np.zeros(world.n_site, dtype=bool)
        self.radio_key: bytes | None = None
        self.user_site = world.best_server.copy()
        self.band_on = np.ones((world.n_site, world.n_band), dtype=bool)
        self.carrier_cap = np.ones((world.n_site, world.n_band), dtype=bool)  # Stage 1's carrier set per site
        self.widest_band = int(np.argmax(inputs.band_reach_m.values))
        active_kw, utilisation_kw, _ = band_power_coefficients(inputs)
        self.carrier_cost_kw = (active_kw + utilisation_kw).values  # (band,) kW of a carrier on at full load (Eq. 2)
        self.band_share: np.ndarray | None = None
        self.dispatch_key: bytes | None = None
        self.ev_request = np.zeros(world.n_site)
        self.price = np.full(world.n_site, float(inputs.price_base_per_kwh))

        self.stage1_times: list[float] = []
        self.stage1_gaps: list[float] = []
        self.stage1_bounds: list[float] = []
        self.stage1_objectives: list[float] = []
        self.stage1_net_hit: list[bool] = []
        self.stage1_update_times: list[float] = []
        self.stage1_wall_times: list[float] = []
        self.radio_wall_times: list[float] = []
        self.radio_times: list[float] = []
        self.radio_call_times: list[float] = []
        self.sla_shortfall: list[np.ndarray] = []
        self.radio_build_times: list[float] = []
        self.radio_regions_solved: list[float] = []
        self.dispatch_times: list[float] = []
        self.dispatch_reused = 0
        # built once: each step changes only its loads, limits and prices (the cost term scaled as Eq. 18's)
        self.dispatch_problem = DispatchProblem(
            world.n_site, self.weights, battery_scale_kw=peak_supply_kw(inputs), cost_scale=v2g_cost_scale_per_h(inputs)
        )
        self.split_users: list[float] = []
        self._build_stage1()

        # what the controller may know about EVs: the statistics, not the realisation
        self.ev_rate_per_h = float(inputs.ev_arrival_rate_per_h) if c.plan_ev_arrivals else 0.0
        self.ev_window_h = float(inputs.ev_arrival_window_h)
        self.ev_mean_stay_h = float(inputs.ev_mean_stay_h)
        self.ev_mean_usable_kwh = float(inputs.ev_expected_usable_kwh)

    @property
    def stage1_problem(self) -> Stage1Problem:
        """The Stage-1 problem of the first region (of the cluster, when it is one region)."""
        return self.parts[0].stage1

    @property
    def radio_problem(self) -> RadioProblem | None:
        """The radio problem of the first region (of the cluster, when it is one region); None before the first radio call."""
        return self.parts[0].radio

    # ------------------------------------------------------------------ helpers
    def _options(self, time_limit: float, solution_limit: int | None = None) -> dict:
        options = highs_options(self.scenario.solver, time_limit_s=time_limit)
        if solution_limit is not None:
            options.setdefault("mip_max_improving_sols", int(solution_limit))
        return options

    def ev_forecast(self, state: State) -> tuple[xr.DataArray, xr.DataArray]:
        """Per site and Stage-1 block: expected V2G power limit (kW) and cumulative usable energy (kWh)."""
        w = self.world
        now_h = state.time_s / 3600.0
        starts = self.data1.time.values / 3600.0
        ends = starts + np.atleast_1d(self.data1.time_step_h.values)
        mu = max(self.ev_mean_stay_h, 1e-9)
        # parked EVs stay on average mu more hours (exponential stays are memoryless)
        stay = mu * (numeric.exp(-starts / mu) - numeric.exp(-ends / mu)) / (ends - starts)  # mean presence over each block
        evs = w.evs
        usable = np.where(state.parked, evs.usable_kwh(state.ev_kwh), 0.0)
        count_now = np.bincount(evs.site, weights=state.parked.astype(float), minlength=w.n_site)
        energy_now = np.bincount(evs.site, weights=np.minimum(usable, evs.max_bus_kw * mu), minlength=w.n_site)
        # arrivals expected at the known rate until the arrival window closes
        window_left_h = max(self.ev_window_h - now_h, 0.0)
        arrived_by_end = self.ev_rate_per_h * np.minimum(window_left_h, ends)
        present_new = self.ev_rate_per_h * mu * (1.0 - numeric.exp(-np.minimum(ends, window_left_h) / mu))
        count = count_now[:, None] * stay[None, :] + present_new[None, :]
        power = np.minimum(evs.v2x_limit_kw, evs.max_bus_kw * count)
        energy = energy_now[:, None] + arrived_by_end[None, :] * self.ev_mean_usable_kwh
        coords = {"site": w.inputs.site.values, "time": self.data1.time.values}
        return (
            xr.DataArray(power, dims=("site", "time"), coords=coords),
            xr.DataArray(energy, dims=("site", "time"), coords=coords),
        )

    def in_regions(self, work: Callable[[_Item], _Result], items: Sequence[_Item]) -> list[_Result]:
        """``work`` on each item (a region's solve), in order, in up to ``controller.region_threads`` threads at once.

        Each region has its own models and HiGHS releases Python's lock while it solves, so regions solve side by
        side on as many cores; a solve does not depend on the others, so the results do not depend on the count.
        An interruption (Ctrl-C) or an error in one region cancels the regions not started and stops the solves
        running (HiGHS's cancel) before it is raised, as a solve in the calling thread would be stopped.
        """
        threads = min(self.scenario.controller.region_threads, len(items))
        if threads <= 1:
            return [work(item) for item in items]
        stop = threading.Event()  # set at the first error: no region starts after it

        def guarded(item: _Item) -> _Result:
            if stop.is_set():
                raise CancelledError
            try:
                return work(item)
            except BaseException:
                stop.set()
                raise

        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="msrc-region")
        futures = [pool.submit(guarded, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            for part in self.parts:
                part.cancel_solves()
            raise
        finally:
            pool.shutdown(wait=True)

    def _repair(self, dark: np.ndarray) -> None:
        """Keep the last plan valid after sites went dark: drop their links, orphans go normal."""
        w = self.world
        self.links &= ~dark[w.edge_helper] & ~dark[w.edge_assisted]
        client = needs_helper(self.mode) & ~dark
        helped = np.bincount(w.edge_assisted[self.links], minlength=w.n_site) > 0
        self.mode = np.where(client & ~helped, NORMAL, self.mode)
        helping = self.mode == HELPING
        serving = np.bincount(w.edge_helper[self.links], minlength=w.n_site) > 0
        self.mode = np.where(helping & ~serving & ~dark, NORMAL, self.mode)
        self.links &= (self.mode[w.edge_helper] == HELPING) & needs_helper(self.mode[w.edge_assisted])

    # ------------------------------------------------------------------ Stage 1
    def _build_stage1(self) -> None:
        """Build the Stage-1 problem once; each call changes only its data (bounds and right-hand sides)."""
        w = self.world
        started = _time.perf_counter()
        for part in self.parts:  # one model per region
            data = part.data1
            zeros = xr.zeros_like(data.site_mode_power_kw.sel(mode="normal", drop=True) * data.time_step_h * xr.ones_like(data.time, dtype=float))
            part.stage1 = build_stage1(
                data,
                self.weights,
                initial_battery_kwh=part.site_array(w.battery.initial_kwh),
                ev_fleet=(zeros, zeros),
                dark=part.site_array(np.zeros(w.n_site, dtype=bool)),
                integer_blocks=1,
                every_step=True,
            )
        self.stage1_model_build_time = _time.perf_counter() - started

    @with_block_semantics
    def stage1(self, state: State) -> None:
        """One Stage-1 call: each region's model gets the state and is solved; the regions' first blocks are applied."""
        w = self.world
        started = _time.perf_counter()
        power, energy = self.ev_forecast(state)
        times = self.data1.time.values
        mode_before = np.where(state.dark, DARK, self.mode)
        for part in self.parts:
            sites = part.region.sites
            part.stage1.set_state(
                battery_kwh=part.site_array(state.battery_kwh),
                ev_fleet=(power.isel(site=sites), energy.isel(site=sites)),
                dark=part.site_array(state.dark),
                mode_before=part.site_array(mode_before),
            )
        self.stage1_update_times.append(_time.perf_counter() - started)
        limit = self.scenario.controller.stage1_time_limit_s
        if any(abs(state.time_s - t) < 1e-9 for t in self.fail_stage1_at_s):
            limit = 1e-6
        options = self._options(limit, self.scenario.controller.stage1_solution_limit)
        if self.scenario.controller.stage1_method == "previous_start":
            self._repair(state.dark)  # the plan applied now, read by every region's solve: repaired once, before them
        call_started = _time.perf_counter()
        # each region to its own gap and clock
        reports = self.in_regions(lambda part: self._stage1_solve(part, options, state.dark), self.parts)
        self.stage1_wall_times.append(_time.perf_counter() - call_started)
        report = combined_report(reports, float(sum(r.solve_time_s for r in reports)))
        self.stage1_times.append(report.solve_time_s)
        self.stage1_gaps.append(report.gap if report.gap is not None else np.nan)
        self.stage1_bounds.append(report.dual_bound)
        self.stage1_objectives.append(report.objective)
        self.stage1_net_hit.append(report.termination == "time_limit")
        normal_kw = self.data1.site_mode_power_kw.sel(mode="normal").values
        self.price = w.price_per_kwh(state.battery_kwh, np.where(state.site_power_kw > 0, state.site_power_kw, normal_kw))
        self._repair(state.dark)  # a region whose solve failed keeps its last plan, valid for the sites gone dark
        mode, links, cap = self.mode.copy(), self.links.copy(), self.carrier_cap.copy()
        for part, part_report in zip(self.parts, reports):
            if not part_report.has_solution:
                self.events.append(SolverEvent(state.time_s, "stage1", part_report.message))
                continue
            sites, block = part.region.sites, part.stage1.block
            gamma = block.variables["mode"].solution.sel(time=times[0]).transpose("site", "mode").values
            mode[sites] = np.where(state.dark[sites], NORMAL, np.argmax(gamma, axis=1))
            if "link_at_arc" in block.expressions:
                links[part.region.edges] = block.expressions["link_at_arc"].solution.sel(time=times[0]).values > 0.5
            else:  # a region with no arcs: no links
                links[part.region.edges] = False
            cap[sites] = self.stage1_carrier_sets(block, times[0], mode[sites])
        client = needs_helper(mode)
        links &= w.kappa_ok & (mode[w.edge_helper] == HELPING) & client[w.edge_assisted]
        links &= ~state.dark[w.edge_helper] & ~state.dark[w.edge_assisted]
        self.mode, self.links, self.carrier_cap = mode, links, cap

    def _stage1_solve(self, part: RegionSolver, options: dict, dark: np.ndarray) -> SolveReport:
        """One region's Stage-1 solve by ``controller.stage1_method``; ``dark`` is the cluster's (site,) bool."""
        problem, method = part.stage1, self.scenario.controller.stage1_method
        if method == "lp_rounding":
            return self._stage1_lp_rounding(problem, options, dark, None, part)
        if method == "rounded_start":
            return self._stage1_rounded_start(problem, options, dark, part)
        if method == "previous_start":
            return self._stage1_previous_start(problem, options, dark, part, repair=False)  # stage1 repaired the plan
        return problem.solve(options)

    def _stage1_lp_rounding(self, problem, options: dict, dark: np.ndarray, started: float | None = None, part: RegionSolver | None = None):
        """Stage 1 as an LP with the first block's modes rounded (``controller.stage1_method: lp_rounding``).

        The LP (every block's modes as time shares) bounds the objective; its first-block shares are rounded
        (:meth:`round_modes`) and the model solved again with those modes fixed. If that is infeasible, it is
        tried with the sleeping clients assisted instead, then with every site normal. The report's gap is the rounded plan's
        distance to the LP bound. Every solve shares the one safety-net clock of ``options``, started at
        ``started`` (default: now); a solve stopped by it with nothing ends the call. ``problem`` is the Stage-1
        problem of ``part`` (default: the first region), ``dark`` the cluster's (site,) bool.
        """
        started = _time.perf_counter() if started is None else started
        part = self.parts[0] if part is None else part
        dark = dark[part.region.sites]
        relaxed = problem.solve({**with_time_left(options, started), "solve_relaxation": True})
        if not relaxed.has_solution:
            relaxed.solve_time_s = _time.perf_counter() - started
            return relaxed
        first = self.data1.time.values[0]
        shares = problem.block.variables["mode"].solution.sel(time=first).transpose("site", "mode").values
        report = None
        candidates = (
            self.round_modes(shares, dark, part=part), self.round_modes(shares, dark, sleep=False, part=part), np.full(len(dark), NORMAL)
        )
        for candidate in candidates:
            problem.fix_first_modes(np.where(dark, -1, candidate))  # dark sites free: Eq. 19 keeps them dark
            report = problem.solve(with_time_left(options, started))
            if report.has_solution or stopped_by_the_clock(report):
                break
        problem.fix_first_modes(None)
        report.solve_time_s = _time.perf_counter() - started
        if report.has_solution:
            report.dual_bound = relaxed.objective
            report.gap = max(relaxed.objective - report.objective, 0.0) / max(abs(report.objective), 1e-9)
        return report

    def _stage1_previous_start(self, problem, options: dict, dark: np.ndarray, part: RegionSolver | None = None, repair: bool = True):
        """Stage 1 from the plan applied now (``controller.stage1_method: previous_start``).

        The modes applied now, kept valid for the sites gone dark (:meth:`_repair`; those sites are left free,
        Eq. 19 keeps them dark), are fixed in the first block and the model is solved with them: that plan is
        HiGHS's first incumbent, and the branch and bound runs with the sub-MIP and search heuristics off
        (:data:`STARTED_MIP_OPTIONS`), which took most of a plain MIP's time, to
        ``controller.previous_start_gap``: the start is the answer whenever it is within that gap, so it is tighter
        than ``solver.mip_gap`` lest the plan applied now be kept where a slightly better one starts cooperating.
        If those modes cannot be completed, the plain MIP runs to ``solver.mip_gap``, heuristics on. Both parts
        share the one safety-net clock of ``options``: the second gets what the first left, and none if the first
        stopped at it (that report is returned). The report's time covers both parts; its gap is the branch and
        bound's, proven either way. ``problem`` is the Stage-1 problem of ``part`` (default: the first region),
        ``dark`` the cluster's (site,) bool. Without ``repair`` the caller has repaired the plan applied now already
        (:meth:`stage1`, once before its regions' solves, which then only read it).
        """
        started = _time.perf_counter()
        sites = (self.parts[0] if part is None else part).region.sites
        if repair:
            self._repair(dark)
        problem.fix_first_modes(np.where(dark[sites], -1, self.mode[sites]))
        previous = problem.solve(options, write_back=False)  # only its column values are wanted, as the start
        problem.fix_first_modes(None)
        if stopped_by_the_clock(previous):
            previous.solve_time_s = _time.perf_counter() - started
            return previous
        rest = with_time_left(options, started)
        if previous.has_solution:
            gap = {"mip_rel_gap": float(self.scenario.controller.previous_start_gap)}
            report = problem.solve({**STARTED_MIP_OPTIONS, **rest, **gap}, start=problem.column_values())
        else:
            report = problem.solve(rest)
        report.solve_time_s = _time.perf_counter() - started
        return report

    def _stage1_rounded_start(self, problem, options: dict, dark: np.ndarray, part: RegionSolver | None = None):
        """Stage 1 from a rounded start (``controller.stage1_method: rounded_start``).

        The LP-and-rounding plan (:meth:`_stage1_lp_rounding`) is the answer when its distance to the LP's bound is
        within ``solver.mip_gap``: that bound is above the MIP's optimum, so the gap is proven. Otherwise it is
        HiGHS's first incumbent and the branch and bound runs to the gap with the sub-MIP and search heuristics
        off (:data:`STARTED_MIP_OPTIONS`), which took most of a plain MIP's time. When the rounding finds no plan,
        the plain MIP runs, heuristics on. The report's time covers both parts, which share the one safety-net
        clock of ``options``: the branch and bound gets what the rounding left, and does not run if the rounding
        stopped at the clock with nothing.
        """
        started = _time.perf_counter()
        rounded = self._stage1_lp_rounding(problem, options, dark, started, part)
        if (rounded.has_solution and rounded.gap <= options["mip_rel_gap"]) or stopped_by_the_clock(rounded):
            return rounded
        rest = with_time_left(options, started)
        if rounded.has_solution:
            report = problem.solve({**STARTED_MIP_OPTIONS, **rest}, start=problem.column_values())
        else:  # no rounded plan to start from: the plain MIP, with HiGHS's heuristics to find a first point
            report = problem.solve(rest)
        report.solve_time_s = _time.perf_counter() - started
        return report

    def round_modes(self, shares: np.ndarray, dark: np.ndarray, sleep: bool = True, part: RegionSolver | None = None) -> np.ndarray:
        """(site,) modes of a region (``part``; default: the first) from its first-block mode shares (site x mode): clients, then enough helpers for each.

        A site whose assisted and sleep shares together pass 1/2 is a client (asleep if its sleep share is the
        larger and ``sleep``, else assisted). Its eligible neighbours (kappa_ij >= kappa_min, not clients, not
        dark) become helpers in order of their helping share until the SLA rates they reach (Eq. 10, as Stage 1
        counts them) cover the client's, at most K_max of them (Eq. 22); a client they cannot cover stays
        normal. Every other site is normal.
        """
        data = (self.parts[0] if part is None else part).data1
        n_site, kappa_ok = data.sizes["site"], data.kappa_ok.values.astype(bool)
        client_share = shares[:, ASSISTED] + shares[:, SLEEP]
        client = (client_share > 0.5) & ~dark
        asleep = client & (shares[:, SLEEP] > shares[:, ASSISTED]) & sleep
        mode = np.where(asleep, SLEEP, np.where(client, ASSISTED, NORMAL))
        helper, assisted = data.edge_helper.values, data.edge_assisted.values
        arcs = np.flatnonzero(kappa_ok & client[assisted] & ~client[helper] & ~dark[helper])
        # per client, its eligible arcs by falling helping share at the helper (ties: the lower site index)
        arcs = arcs[np.lexsort((helper[arcs], -shares[helper[arcs], HELPING], assisted[arcs]))]
        reach = np.where(
            asleep[assisted[arcs]], data.arc_sla_reach_sleep_mbps.values[arcs], data.arc_sla_reach_assisted_mbps.values[arcs]
        )
        need = np.where(asleep, data.site_sla_mbps.values, data.site_sla_outside_mbps.values)
        group_start = np.r_[True, np.diff(assisted[arcs]) != 0] if arcs.size else np.zeros(0, dtype=bool)
        position = np.arange(arcs.size)
        first_of_group = np.maximum.accumulate(np.where(group_start, position, 0))
        rank = position - first_of_group
        reached_before = np.cumsum(reach) - reach  # over all arcs before this one
        before = reached_before - reached_before[first_of_group]  # over the client's arcs before this one
        # an arc is taken while the helpers before it reach less than the client needs (the first always)
        taken = ((before < need[assisted[arcs]] - 1e-9) | group_start) & (rank < int(data.max_links))
        covered = np.bincount(assisted[arcs[taken]], weights=reach[taken], minlength=n_site) >= need - 1e-9
        keep = client & covered
        mode = np.where(client & ~keep, NORMAL, mode)
        chosen = arcs[taken & keep[assisted[arcs]]]
        mode[helper[chosen]] = HELPING
        return mode

    @with_block_semantics
    def stage1_carrier_sets(self, block, first_time: float, mode: np.ndarray) -> np.ndarray:
        """(site, band) carriers of the set a normal site spends most of Stage 1's first block on (Eq. 24); all others keep every carrier."""
        sets = self.data1.carrier_set_band.values
        share = block.variables["carrier_set"].solution.sel(time=first_time).transpose("site", "carrier_set").fillna(0.0).values
        # the largest share; a tie goes to the set with more carriers (the later code in the table)
        chosen = share.shape[1] - 1 - np.argmax(share[:, ::-1] > share.max(axis=1, keepdims=True) - 1e-6, axis=1)
        cap = sets[chosen]
        cap[mode != NORMAL] = True
        return cap

    # ------------------------------------------------------------------ Stage 2: radio
    def allowed_pairs(self, dark: np.ndarray) -> np.ndarray:
        """Pairs offered to Stage 2: a site's own and best-served users, users inside its nominal radius, users of
        linked or dark neighbours it helps, and users whose best server no longer covers them (to any awake site)."""
        w = self.world
        helper_for = np.zeros((w.n_site, w.n_site), dtype=bool)
        helper_for[w.edge_helper[self.links], w.edge_assisted[self.links]] = True
        dark_neighbour = w.kappa_ok & dark[w.edge_assisted] & (self.mode[w.edge_helper] == HELPING)
        helper_for[w.edge_helper[dark_neighbour], w.edge_assisted[dark_neighbour]] = True
        home = w.home[w.pair_user]
        own = (w.pair_site == home) | (w.pair_site == w.best_server[w.pair_user])
        nominal = w.inputs.pair_in_normal_radius.values.astype(bool)
        best = w.best_server[w.pair_user]  # Stage 1 counts a client's users by best server
        helps = (helper_for[w.pair_site, np.maximum(home, 0)] & (home >= 0)) | (helper_for[w.pair_site, np.maximum(best, 0)] & (best >= 0))
        # a user its best server no longer covers (asleep, dark, assisted out of radius) may go to any awake
        # site: in the physics a normal site serves whoever its SINR reaches, not only its own cell
        modes = np.where(dark, DARK, self.mode)
        orphan = ~w.covers(w.best_server, modes)[w.pair_user]
        return own | nominal | helps | (orphan & awake(modes)[w.pair_site])

    @with_block_semantics
    def radio(self, state: State) -> None:
        """One radio call: each region whose inputs changed since its last solution is solved again, then the regions' decisions are joined."""
        w = self.world
        modes = np.where(state.dark, DARK, self.mode)
        carriers = self.stage2_carriers(modes)
        rates = self.stage2_rates(modes, carriers)  # the Eq. 7 SINR on the whole cluster: every region's carriers interfere
        # with the modes fixed the Eq. 7 SINR is known: in normal mode it decides, as in the simulator (Eq. 5);
        # a pair not offered (allowed_pairs) covers nothing
        coverage = self.data2.pair_coverage.values.copy()
        coverage[:, NORMAL] = 1.0
        coverage[~self.allowed_pairs(state.dark)] = 0.0
        limit = self.scenario.controller.stage2_time_limit_s
        due = {t for t in self.fail_stage2_at_s if state.time_s >= t - 1e-9}
        if due:  # the first radio call at or after each given time that solves anything
            limit = 1e-6
        options = self._options(limit, self.scenario.controller.stage2_solution_limit)
        todo = []  # (region, its inputs' key, its modes, carriers, coverage and rates) for every region to solve
        for part in self.parts:
            r = part.region
            inputs = (modes[r.sites], carriers[r.sites], coverage[r.pairs], rates[r.pairs])
            key = b"".join(a.tobytes() for a in inputs)
            if key != part.radio_key:  # same inputs, same deterministic solve: its last solution stands
                todo.append((part, key, inputs))
        # built once for every pair, with band shares wherever a band can carry anything (no interference)
        envelope_started = _time.perf_counter()
        envelope = self.stage2_rates(modes, np.zeros_like(carriers)) if any(item[0].radio is None for item in todo) else None
        envelope_time = _time.perf_counter() - envelope_started  # part of the first call's build

        def update_and_solve(item) -> tuple[float, SolveReport, float]:
            part, _, (part_modes, part_carriers, part_coverage, part_rates) = item
            started = _time.perf_counter()
            fixed = xr.DataArray(part_modes[:, None], dims=("site", "time"), coords={"site": part.data2.site.values, "time": part.data2.time.values})
            if part.radio is None:
                # the radio problem never charges a battery: no charge/discharge binary; Eq. 10 with a penalised slack
                part.radio = RadioProblem(
                    part.data2, fixed, self.weights,
                    band_share_mask=part.data2.pair_rate_per_share_mbps.copy(data=envelope[part.region.pairs] > 0),
                    integer_carriers=self.scenario.controller.stage2_integer_carriers,
                    breakpoints=self.scenario.formulation.tangent_breakpoints,
                )
            part.radio.set_state(fixed, part_coverage, part_rates, part_carriers)  # Stage 1's carrier set caps the carriers (Eq. 24)
            build = _time.perf_counter() - started

            def exact_rates(on: np.ndarray) -> np.ndarray:
                """(region pair, band) Mbit/s per share with the region's carriers ``on``: the Eq. 7 SINR of the carriers that will transmit."""
                chosen = carriers.copy()  # the other regions' carriers as offered: the worst case of their choice
                chosen[part.region.sites] = on
                return self.stage2_rates(modes, chosen)[part.region.pairs]

            def exact_state(rates: np.ndarray) -> None:
                part.radio.set_state(fixed, part_coverage, rates, part_carriers)

            report, seconds = self._solve_radio(part, options, part_modes, exact_rates, exact_state)
            return build, report, seconds

        call_started = _time.perf_counter()
        outcomes = self.in_regions(update_and_solve, todo)
        self.radio_wall_times.append(_time.perf_counter() - call_started + envelope_time)
        build_time = envelope_time + float(sum(build for build, _, _ in outcomes))
        solve_time = float(sum(seconds for _, _, seconds in outcomes))
        solved, failed = len(todo), []
        for (part, key, _), (_, report, _) in zip(todo, outcomes):
            if report.has_solution:
                part.radio_key = key
            else:
                part.radio_key = None  # solved again at the next call
                failed.append(report)
        if solved:
            self.fail_stage2_at_s -= due
        self.radio_build_times.append(build_time)
        self.radio_times.append(solve_time)
        self.radio_regions_solved.append(float(solved))
        for report in failed:
            self.events.append(SolverEvent(state.time_s, "stage2", report.message))
        if failed and len(self.parts) == 1:
            self.split_users.append(np.nan)
            self.sla_shortfall.append(np.full(len(w.inputs["class"]), np.nan))
            self._repair_radio(modes)
            return
        # the regions' solutions joined; a region whose solve failed keeps the last decision, repaired
        kept = [part for part in self.parts if part.radio_key is not None]
        users = np.full(w.n_user, -1)
        on = np.zeros((w.n_site, w.n_band), dtype=bool)
        shares = np.zeros((w.n_user, w.n_band))  # a failed region's users: none, the scheduler shares its carriers
        for part in kept:
            users[part.region.users] = part.user_site
            on[part.region.sites] = part.band_on
            shares[part.region.users] = part.band_share
        self.split_users.append(float(sum(part.split_users for part in kept)))
        self.sla_shortfall.append(np.sum([part.sla_shortfall for part in kept], axis=0) if kept else np.full(len(w.inputs["class"]), np.nan))
        band_on = self.trim_carriers(on, modes, users, shares)
        if failed:
            repaired_on, repaired_users = self.repaired_radio(modes)
            for part in self.parts:
                if part.radio_key is None:
                    band_on[part.region.sites] = repaired_on[part.region.sites]
                    users[part.region.users] = repaired_users[part.region.users]
        self.band_share = shares
        self.band_on = band_on
        self.user_site = self.placed(users, modes, band_on)

    def _solve_radio(
        self, part: RegionSolver, options: dict, modes: np.ndarray,
        exact_rates: Callable[[np.ndarray], np.ndarray] | None = None, exact_state: Callable[[np.ndarray], None] | None = None,
    ) -> tuple[SolveReport, float]:
        """Solve a region's radio problem from the state set; keep its decision on ``part``. Returns the report and the solve time (s).

        With continuous carriers (the default) the LP's activations are rounded and it is solved again with the
        carriers fixed (exact carriers); both solves share the one safety-net clock of ``options``. Before the
        second solve ``exact_state(rates)`` sets the rates the rounded carriers give (``exact_rates(on)``): the first LP
        counts every carrier it may switch on as interfering, so a cell-edge user can look unreachable to it (and
        get no share, not even an SLA user's) although the carriers it keeps reach that user; and a critical user
        the rounding leaves unreachable gets one carrier back (:meth:`keep_critical_carriers`).
        """
        problem = part.radio
        band_on = problem.block.variables["band_on"]
        clock = _time.perf_counter()
        report = problem.solve(options, write_back=False)  # the solution is read from HiGHS (problem.values)
        solve_time = report.solve_time_s
        if report.has_solution and not self.scenario.controller.stage2_integer_carriers:
            activation, share = problem.values("band_on", "band_share")
            on = self.round_carriers(activation.isel(time=0).transpose("site", "band").values, modes)
            if exact_rates is not None and exact_state is not None:
                data = problem.block.data
                rates = exact_rates(on)
                kept = self.keep_critical_carriers(
                    on, share.isel(time=0).transpose("pair", "band").fillna(0.0).values, rates,
                    data.pair_user.values, data.pair_site.values, self.world.class_critical[self.world.user_class[part.region.users]],
                    self.carrier_cost_kw,
                )
                if not np.array_equal(kept, on):  # a carrier given back transmits too: the rates again
                    on, rates = kept, exact_rates(kept)
                exact_state(rates)
            fixed_on = xr.DataArray(on[:, :, None].astype(float), dims=("site", "band", "time"), coords=band_on.upper.coords)
            band_on.update(lower=fixed_on, upper=fixed_on)
            report = problem.solve(with_time_left(options, clock), write_back=False)
            solve_time += report.solve_time_s
        if not report.has_solution:
            return report, solve_time
        block = problem.block
        # each user goes to the site carrying the largest share of it (no user on two sites)
        names = ["association", "band_on", "band_share", *(["sla_shortfall"] if "sla_shortfall" in block.variables else [])]
        solution = dict(zip(names, problem.values(*names)))
        x = solution["association"].isel(time=0).values
        pair_user, pair_site = block.data.pair_user.values, block.data.pair_site.values  # within the region
        n_user = part.region.users.size
        order = np.lexsort((-x, pair_user))
        first = order[np.r_[True, np.diff(pair_user[order]) != 0]] if order.size else order
        first = first[x[first] > 1e-6]
        site = np.full(n_user, -1)
        site[pair_user[first]] = part.region.sites[pair_site[first]]
        part.user_site = site
        part.band_on = solution["band_on"].isel(time=0).transpose("site", "band").values > 0.5
        # the band shares chi Stage 2 gave each user at its site (Eq. 8), handed to the simulator
        chi = solution["band_share"].isel(time=0).transpose("pair", "band").fillna(0.0).values
        shares = np.zeros((n_user, self.world.n_band))
        shares[pair_user[first]] = chi[first]
        part.band_share = shares
        part.split_users = float((np.bincount(pair_user[x > 1e-6], minlength=n_user) > 1).sum())
        shortfall = np.zeros(n_user)
        if "sla_shortfall" in solution:
            shortfall = solution["sla_shortfall"].isel(time=0).fillna(0.0).values
        user_class = self.world.user_class[part.region.users]
        part.sla_shortfall = np.bincount(user_class, weights=shortfall, minlength=len(self.world.inputs["class"]))
        return report, solve_time

    def placed(self, users: np.ndarray, modes: np.ndarray, band_on: np.ndarray) -> np.ndarray:
        """``users`` (site per user, -1: none) with every user given no site put where the baselines put it.

        That is its best server if that covers it, else the linked helper whose carriers (``band_on``) reach it
        best (:func:`~msrc_model.simulation.strategies.configured_association`). Stage 2's rates count every
        carrier it may switch on as interfering, so a user can look unreachable to it while the carriers it
        chooses reach it: a handset does not drop off the network for want of an optimiser's share, and the
        simulator's scheduler serves it from what the carriers have left, at the SINR they actually give.
        """
        return np.where(users >= 0, users, configured_association(self.world, modes, self.links, band_on))

    def stage2_carriers(self, modes: np.ndarray) -> np.ndarray:
        """(site, band) carriers Stage 2 may switch on: those the mode allows (Eqs. 24-25), within Stage 1's carrier set."""
        return self.world.mode_carriers(modes) & self.carrier_cap

    def _mode_minimum(self, on: np.ndarray, modes: np.ndarray, preference: np.ndarray) -> np.ndarray:
        """``on`` with an awake site that has no carrier given its most preferred one (Eq. 24) and every helper its widest band (Eq. 5)."""
        on = on.copy()
        empty = awake(modes) & ~on.any(axis=1)
        on[np.flatnonzero(empty), np.argmax(preference[empty], axis=1)] = True
        on[modes == HELPING, self.widest_band] = True
        return on

    def round_carriers(self, activation: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """(site, band) carriers on from the LP's activations: on at 1/2 or more, and every awake site its most active one."""
        return self._mode_minimum(activation >= 0.5, modes, activation) & self.world.mode_carriers(modes)

    @staticmethod
    def keep_critical_carriers(
        on: np.ndarray, share: np.ndarray, rates: np.ndarray, pair_user: np.ndarray, pair_site: np.ndarray,
        critical_user: np.ndarray, carrier_cost_kw: np.ndarray,
    ) -> np.ndarray:
        """``on`` (site, band) with one carrier back for each critical user the rounding left unreachable.

        ``share`` (pair, band) is the first LP's band share chi; ``rates`` (pair, band) the Mbit/s per share
        the rounded carriers ``on`` give (0 below Gamma_min); ``pair_user``, ``pair_site`` index the users and
        sites of ``on``; ``critical_user`` (user,) marks the emergency and voice users; ``carrier_cost_kw``
        (band,) ranks the carriers by the power they add.

        Rounding at 1/2 can switch off the only carrier on which a cell-edge critical user clears Gamma_min (it
        needs a small share of it, so its activation is small) while another band of its site, one the
        neighbours' carriers drown at that user, stays on. A critical user the LP served (a share on some pair)
        that no carrier left on reaches at any site the LP gave it a share at gets back the cheapest carrier
        its LP shares were on. The static baseline never drops such a user at the start, and neither may Stage 2.
        """
        served = share > 1e-9  # (pair, band)
        used_pair = served.any(axis=1) & critical_user[pair_user]
        if not used_pair.any():
            return on
        reached = np.zeros(critical_user.size, dtype=bool)
        np.logical_or.at(reached, pair_user[used_pair], ((rates[used_pair] > 0) & on[pair_site[used_pair]]).any(axis=1))
        pair, band = np.nonzero(served & (used_pair & ~reached[pair_user])[:, None])
        if pair.size == 0:
            return on
        order = np.lexsort((band, carrier_cost_kw[band], pair_user[pair]))  # per user, its cheapest LP carrier first
        first = order[np.r_[True, np.diff(pair_user[pair][order]) != 0]]
        on = on.copy()
        on[pair_site[pair[first]], band[first]] = True
        return on

    def trim_carriers(self, on: np.ndarray, modes: np.ndarray, users: np.ndarray, shares: np.ndarray) -> np.ndarray:
        """Switch off the carriers no user has a share of, keeping one per awake site (the widest it had on) and a helper's widest band."""
        used = np.zeros_like(on)
        mine = users >= 0
        np.logical_or.at(used, users[mine], shares[mine] > 1e-9)
        widest_on = np.where(on, self.world.inputs.band_reach_m.values[None, :], -np.inf)
        return self._mode_minimum(on & used, modes, widest_on)

    def stage2_rates(self, modes: np.ndarray, carriers: np.ndarray) -> np.ndarray:
        """(pair, band) Mbit/s per unit band share, B log2(1 + SINR) (Eq. 8), under the fixed modes.

        The Eq. 7 SINR counts every carrier Stage 2 may switch on
        (``carriers``, site x band) as transmitting: the worst case of the
        carriers it is about to choose.
        """
        w = self.world
        sinr = w.channel.sinr_db(w.pair_user, w.pair_site, carriers)
        return w.channel.spectral_efficiency(sinr) * w.bandwidth[None, :]

    def repaired_radio(self, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last radio decision kept valid under new modes: (site, band) carriers by Eqs. 24-25, (user,) sites that still cover (else -1)."""
        w = self.world
        allowed = self.stage2_carriers(modes)
        band_on = self.band_on & allowed
        empty = awake(modes) & ~band_on.any(axis=1)
        band_on[empty] = allowed[empty]
        band_on[modes == HELPING, self.widest_band] = True  # Eq. 5: helpers keep their widest band
        return band_on, np.where(w.covers(self.user_site, modes), self.user_site, -1)

    def _repair_radio(self, modes: np.ndarray) -> None:
        """Keep the last radio decision valid under new modes (:meth:`repaired_radio`), users given no site placed where the baselines put them."""
        band_on, users = self.repaired_radio(modes)
        self.band_on = band_on
        self.user_site = self.placed(users, modes, band_on)
        self.band_share = None  # the scheduler shares the bands of the repaired decision

    # ------------------------------------------------------------------ Stage 2: energy dispatch
    @with_block_semantics
    def dispatch(self, state: State) -> None:
        w = self.world
        _, ev_available = w.ev_available_kw(state.ev_kwh, state.parked)
        battery_available = w.battery_available_kw(state.battery_kwh)
        battery_room = w.battery_room_kw(state.battery_kwh, state.dark)
        load = np.minimum(self.load_kw, ev_available + battery_available)  # a site that cannot carry its load goes dark anyway
        key = np.concatenate([load, ev_available, battery_available, battery_room, self.price]).tobytes()
        if key == self.dispatch_key:
            self.dispatch_reused += 1
            return
        problem = self.dispatch_problem
        report = problem.solve(
            load, battery_available, ev_available, self.price, self._options(self.scenario.controller.stage2_time_limit_s),
            battery_room_kw=battery_room,
        )
        self.dispatch_times.append(report.solve_time_s)
        if not report.has_solution:
            self.events.append(SolverEvent(state.time_s, "dispatch", report.message))
            return
        self.ev_request = problem.model.variables["ev_power"].solution.values
        self.dispatch_key = key

    # ------------------------------------------------------------------ Algorithm 1
    def decide(self, state: State) -> Decision:
        newly_dark = state.dark & ~self.known_dark
        if state.step % self.stage1_every == 0 or newly_dark.any():
            self.stage1(state)
            self.known_dark = state.dark.copy()
        key = np.concatenate([self.mode, self.links, state.dark, self.carrier_cap.ravel()]).astype(np.int8).tobytes()
        if key != self.radio_key:
            self.radio_call_times.append(state.time_s)
            self.radio(state)
            self.radio_key = key
            # the load the radio decision draws: it changes only with the radio inputs (demand is constant)
            modes = np.where(state.dark, DARK, self.mode)
            self.load_kw = self.world.serve_and_draw(modes, self.band_on, self.user_site, self.band_share)[1]
        self.dispatch(state)
        share = None if self.band_share is None else self.band_share.copy()
        return Decision(self.mode.copy(), self.band_on.copy(), self.user_site.copy(), self.ev_request.copy(), self.links.copy(), share)

    def statistics(self) -> dict[str, np.ndarray]:
        """Solve times (s) and gaps of every call, for the results and the benchmark."""
        return {
            "stage1_solve_time": np.asarray(self.stage1_times),
            "stage1_update_time": np.asarray(self.stage1_update_times),
            "stage1_model_build_time": np.asarray([self.stage1_model_build_time]),
            "stage1_gap": np.asarray(self.stage1_gaps),
            "stage1_objective": np.asarray(self.stage1_objectives),
            "stage1_bound": np.asarray(self.stage1_bounds),
            "stage1_time_limit_hit": np.asarray(self.stage1_net_hit, dtype=float),
            "stage1_wall_time": np.asarray(self.stage1_wall_times),
            "stage2_solve_time": np.asarray(self.radio_times),
            "stage2_build_time": np.asarray(self.radio_build_times),
            "stage2_wall_time": np.asarray(self.radio_wall_times),
            "dispatch_solve_time": np.asarray(self.dispatch_times),
            "stage2_split_users": np.asarray(self.split_users),
            "stage2_call_time": np.asarray(self.radio_call_times),
            "stage2_sla_shortfall": np.asarray(self.sla_shortfall).reshape(len(self.sla_shortfall), -1),
            "stage2_regions_solved": np.asarray(self.radio_regions_solved),
            "controller_regions": np.asarray([float(len(self.parts))]),
        }
