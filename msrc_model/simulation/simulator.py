"""The outage simulation: sites on batteries and parked EVs, a strategy deciding each step.

At t = 0 the grid fails. Every Stage-2 step (30 s by default) the strategy
returns a :class:`Decision` (modes, links, carriers, where each user is
served, how much V2G power each site asks for) and the simulator applies the
physics the same way for every strategy:

1. **Service.** A user is served by the site the strategy names only if that
   site is awake and covers it in its mode (Eq. 6 with the mode radii of
   Eq. 5). A site's capacity is the sum of its active carriers' capacities,
   less lambda_loss when helping (Eq. 9); it serves its users class by class
   in priority order (largest weight first), sharing what is left evenly
   within a class.
2. **Power.** Eqs. 2-4 from the carriers on and the traffic carried, split
   over the active carriers in proportion to their capacity.
3. **Energy.** Parked EVs give what the strategy asks, within each EV's
   power, its energy above the driver's reserve and the site's V2X limit
   (Eqs. 14-15); the battery gives the rest, within its power limit and
   above SOC_min (Eqs. 12-13). What a site asks from its EVs beyond its
   load recharges its battery, within P_ch^max and SOC_max (Sec. II-D). If the battery and the EVs together cannot
   carry a site's load over the step, the site goes **dark** for good: it
   draws nothing and its users are lost unless a neighbour covers them. The
   strategy is told at once and decides the step again.

The run ends when every site is dark or at ``controller.max_duration_h``.
Every number comes from the inputs Dataset through the physics layer
(:mod:`msrc_model.physics`); no optimisation code is imported here.
:func:`msrc_model.simulation.metrics.outage_metrics` turns the record into
the metrics of the paper's Tables II-IV (defined in ``docs/simulation.md``).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import xarray as xr

from ..physics import (
    ASSISTED,
    DARK,
    HELPING,
    SLEEP,
    BatteryLimits,
    EVLimits,
    RadioChannel,
    best_servers,
    home_site,
    pair_mode_coverage,
    remaining_time_h,
    carrier_totals,
    deliver,
    SitePowerModel,
    awake,
    transmitting_carriers,
    v2g_price_per_kwh,
)


@dataclass
class Decision:
    """What a strategy decides for one step (arrays over sites, users, edges).

    Attributes
    ----------
    mode:
        (site,) int: 0 normal, 1 helping, 2 assisted, 3 deep sleep.
    band_on:
        (site, band) bool: carriers switched on (z, Eq. 24-25).
    user_site:
        (user,) int: site index serving each user, -1 for none.
    ev_request_kw:
        (site,) kW: V2G power the site asks from its parked EVs.
    links:
        (edge,) bool: active cooperation links helper -> assisted (y, Eqs. 21-23).
    band_share:
        (user, band) share chi of the serving site's band each user is given
        (Eq. 8), or None: the simulator's scheduler shares the bands
        (:func:`msrc_model.physics.schedule_rates`), and fills what shares
        leave unused in the same way.
    """

    mode: np.ndarray
    band_on: np.ndarray
    user_site: np.ndarray
    ev_request_kw: np.ndarray
    links: np.ndarray
    band_share: np.ndarray | None = None


@dataclass
class Service:
    """What the network delivers in one step under a decision (the physics of Eqs. 6-11).

    Attributes
    ----------
    rate_mbps:
        (user,) Mbit/s served, summed over bands.
    site:
        (user,) serving site, -1 for a user served nothing.
    sinr_db:
        (user,) Eq. 7 SINR (dB) of the band carrying most of the user's rate, NaN when unserved.
    band_traffic_mbps:
        (site, band) Mbit/s carried (nu, Eq. 11).
    band_utilisation:
        (site, band) share of the band in use (rho, Eq. 11).
    band_on:
        (site, band) carriers on at awake sites (z).
    band_rate_mbps, band_share:
        (user, band) Mbit/s and share chi of the serving site's band (Eq. 8).
    band_sinr_db:
        (user, band) Eq. 7 SINR (dB) at the serving site, -inf when unserved.
    """

    rate_mbps: np.ndarray
    site: np.ndarray
    sinr_db: np.ndarray
    band_traffic_mbps: np.ndarray
    band_utilisation: np.ndarray
    band_on: np.ndarray
    band_rate_mbps: np.ndarray
    band_share: np.ndarray
    band_sinr_db: np.ndarray


@dataclass
class State:
    """What a strategy may see at the start of a step (no future information)."""

    step: int
    time_s: float
    battery_kwh: np.ndarray  # (site,) kWh
    ev_kwh: np.ndarray  # (ev,) kWh; 0 for EVs not yet arrived (their energy is not known before they come)
    parked: np.ndarray  # (ev,) bool: parked at the step's start; whether it stays the whole step is not known
    dark: np.ndarray  # (site,) bool
    site_power_kw: np.ndarray  # (site,) kW drawn in the previous step (0 before the first)


@dataclass
class SolverEvent:
    """A failed or degraded solve during a run, and what the controller did."""

    time_s: float
    stage: str
    reason: str


class Strategy(Protocol):
    """A control strategy: :meth:`reset` once per run, :meth:`decide` every step."""

    name: str
    events: list[SolverEvent]

    def reset(self, world: World) -> None: ...

    def decide(self, state: State) -> Decision: ...


class World:
    """Everything fixed during one outage realisation, in numpy arrays, read from the inputs Dataset."""

    def __init__(self, inputs: xr.Dataset):
        self.inputs = inputs
        self.n_site = inputs.sizes["site"]
        self.n_band = inputs.sizes["band"]
        self.n_user = inputs.sizes["user"]
        self.n_ev = inputs.sizes["ev"]
        self.n_edge = inputs.sizes["edge"]
        self.step_s = float(inputs.time_step_s)
        self.step_h = self.step_s / 3600.0
        self.n_steps = inputs.sizes["time"] - 1  # the inputs' instants run from 0 to the end, both included
        self.times_s = np.arange(self.n_steps) * self.step_s
        self.sample_every = max(int(round(float(inputs.stage1_interval_s) / self.step_s)), 1)  # per-user samples

        self.pair_user = inputs.pair_user.values
        self.pair_site = inputs.pair_site.values
        self.pair_of = np.full((self.n_user, self.n_site), -1, dtype=np.int64)
        self.pair_of[self.pair_user, self.pair_site] = np.arange(inputs.sizes["pair"])
        self.coverage = pair_mode_coverage(inputs)  # (pair, mode incl. dark)
        self.home = home_site(inputs)
        self.demand = inputs.demand_mbps.values
        self.user_class = inputs.user_class.values
        self.n_class = inputs.sizes["class"]
        self.class_order = np.argsort(-inputs.class_weight.values, kind="stable")
        self.capacity = inputs.capacity_mbps.values
        self.low_bands = inputs.band_assisted.values.astype(bool)
        self.helping_overhead = float(inputs.helping_overhead)
        self.edge_helper = inputs.edge_helper.values
        self.edge_assisted = inputs.edge_assisted.values
        self.kappa_ok = inputs.kappa_ok.values.astype(bool)

        self.battery = BatteryLimits.from_data(inputs)
        self.evs = EVLimits.from_data(inputs)
        arrival, departure = inputs.ev_arrival_s.values, inputs.ev_departure_s.values
        # the physics: an EV gives power in a step only if it is there for the whole step
        self.parked = (arrival[:, None] <= self.times_s[None, :]) & (departure[:, None] >= self.times_s[None, :] + self.step_s)
        # what a strategy may know at a step's start: the EVs there now (one may leave within the step)
        self.arrived = arrival[:, None] <= self.times_s[None, :]
        self.present = self.arrived & (departure[:, None] > self.times_s[None, :])

        # the radio channel (Eq. 7) and each user's best server with every site normal, every carrier on
        self.channel = RadioChannel.from_data(inputs)
        self.power = SitePowerModel.from_data(inputs)
        self.bandwidth = inputs.bandwidth_mhz.values.astype(float)
        every_carrier = np.ones((self.n_site, self.n_band), dtype=bool)
        self.best_server, self.best_sinr_db = best_servers(self.channel, self.pair_user, self.pair_site, every_carrier)
        self.uncoverable = self.best_server < 0  # no site serves them even with every site normal
        # every share is measured against all users' demand, the same for every strategy
        self.reference_demand = np.bincount(self.user_class, weights=self.demand, minlength=self.n_class)
        self.class_users = np.bincount(self.user_class, minlength=self.n_class)
        self._service_key: bytes | None = None
        self._service: Service | None = None
        self.class_names = [str(c) for c in inputs["class"].values]
        self.class_critical = inputs.class_critical.values.astype(bool)
        self.class_qos_target = inputs.class_qos_target.values

    def mode_carriers(self, mode: np.ndarray) -> np.ndarray:
        """(site, band) carriers each site's mode allows: all when normal or helping, B_low assisted (Eq. 25), none asleep or dark.

        ``mode`` holds the codes of every site, or of any subset of them (a region), in the order of the rows returned.
        """
        mode = np.asarray(mode)
        band_on = np.broadcast_to(awake(mode)[:, None], (mode.size, self.n_band)).copy()
        band_on[mode == ASSISTED] = self.low_bands
        return band_on

    def price_per_kwh(self, battery_kwh: np.ndarray, load_kw: np.ndarray) -> np.ndarray:
        """V2G price of Eq. 16 per site from the measured remaining battery time."""
        return v2g_price_per_kwh(self.inputs, remaining_time_h(self.battery.usable_kwh(battery_kwh), load_kw))

    def covers(self, site: np.ndarray, mode: np.ndarray) -> np.ndarray:
        """(user,) bool: the given site (-1: none) covers each user in that site's mode."""
        valid = site >= 0
        pair = np.where(valid, self.pair_of[np.arange(self.n_user), np.maximum(site, 0)], -1)
        ok = valid & (pair >= 0)
        return ok & self.coverage[np.maximum(pair, 0), mode[np.maximum(site, 0)]]

    def ev_available_kw(self, ev_kwh: np.ndarray, parked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per EV and per site, the V2G power (kW at the site bus) available over one step."""
        return self.evs.available_kw(ev_kwh, parked, self.step_h)

    def battery_available_kw(self, battery_kwh: np.ndarray) -> np.ndarray:
        """Per site, the battery power (kW at the bus) it can hold for one step above SOC_min."""
        return self.battery.available_kw(battery_kwh, self.step_h)

    def battery_room_kw(self, battery_kwh: np.ndarray, dark: np.ndarray) -> np.ndarray:
        """Per site, the power (kW at the bus) its battery can take for one step below SOC_max; 0 at a dark site."""
        return np.where(dark, 0.0, self.battery.charge_room_kw(battery_kwh, self.step_h))

    def serve(self, mode: np.ndarray, band_on: np.ndarray, user_site: np.ndarray, band_share: np.ndarray | None = None) -> Service:
        """The service a decision delivers (Eqs. 6-11), the same physics for every strategy.

        A user is served by the site the strategy names when that site's mode
        covers it (Eq. 6 distance, :func:`msrc_model.physics.pair_mode_coverage`)
        and only on the site's carriers that are on and where its Eq. 7 SINR,
        with every transmitting carrier of the other sites interfering,
        clears Gamma_min. Rates follow Eq. 8 under Eq. 9's capacity, shared by
        :func:`msrc_model.physics.schedule_rates`.
        """
        mode = np.asarray(mode)
        # only the carriers the mode allows radiate (Eqs. 24-25): none asleep or dark, B_low assisted
        band_on = transmitting_carriers(mode, band_on) & self.mode_carriers(mode)
        user_site = np.asarray(user_site)
        key = b"".join(
            [mode.astype(np.int8).tobytes(), band_on.tobytes(), user_site.astype(np.int64).tobytes()]
            + ([] if band_share is None else [np.asarray(band_share, dtype=float).tobytes()])
        )
        if key == self._service_key:
            return self._service
        site = np.where(self.covers(user_site, mode), user_site, -1)
        helping = np.where(mode == HELPING, 1.0 - self.helping_overhead, 1.0)
        band_capacity = band_on * self.capacity[None, :] * helping[:, None]
        sinr, rate, share = deliver(
            self.channel, site, band_on, band_on, band_capacity, self.demand, self.user_class, self.class_order, band_share
        )
        total = rate.sum(axis=1)
        served = total > 0
        serving = np.where(served, site, -1)
        main_band = np.argmax(rate, axis=1)
        service = Service(
            rate_mbps=total,
            site=serving,
            sinr_db=np.where(served, sinr[np.arange(self.n_user), main_band], np.nan),
            band_traffic_mbps=carrier_totals(serving, rate, self.n_site),
            band_utilisation=np.minimum(carrier_totals(serving, share, self.n_site), 1.0),
            band_on=band_on,
            band_rate_mbps=rate * served[:, None],
            band_share=share * served[:, None],
            band_sinr_db=np.where(served[:, None], sinr, -np.inf),
        )
        self._service_key, self._service = key, service
        return service

    def draw_kw(self, mode: np.ndarray, service: Service) -> np.ndarray:
        """The power (kW) each site draws for a service (Eqs. 2-4)."""
        return self.power.site_kw(service.band_on, service.band_traffic_mbps, mode == SLEEP, mode == DARK, service.band_utilisation)

    def serve_and_draw(self, mode: np.ndarray, band_on: np.ndarray, user_site: np.ndarray, band_share: np.ndarray | None = None):
        """:meth:`serve`, then the power (kW) each site draws for it: the service and the load."""
        service = self.serve(mode, band_on, user_site, band_share)
        return service, self.draw_kw(np.asarray(mode), service)


class Record:
    """Per-step arrays of one run (time first)."""

    def __init__(self, world: World):
        self.world = world
        w, n = world, world.n_steps
        self.mode = np.full((n, w.n_site), DARK, dtype=np.int8)
        self.band_on = np.zeros((n, w.n_site, w.n_band), dtype=bool)
        self.band_traffic = np.zeros((n, w.n_site, w.n_band), dtype=np.float32)  # Mbit/s
        self.links = np.zeros((n, w.n_edge), dtype=bool)
        self.site_power = np.zeros((n, w.n_site))
        self.battery_power = np.zeros((n, w.n_site))
        self.ev_power = np.zeros((n, w.n_site))
        self.battery_energy = np.zeros((n + 1, w.n_site))
        self.ev_energy = np.zeros((n + 1, w.n_ev))
        self.ev_drawn_kwh = np.zeros((n, w.n_ev))
        self.user_site = np.full((n, w.n_user), -1, dtype=np.int16)
        self.served_class = np.zeros((n, w.n_class))
        # per-user SINR and rate every ``sample_every`` steps (the Stage-1 interval), float32
        self.sample_every = world.sample_every
        self.sample_steps = np.arange(0, n, self.sample_every)
        self.user_sinr_db = np.full((len(self.sample_steps), w.n_user), np.nan, dtype=np.float32)
        self.user_rate_mbps = np.zeros((len(self.sample_steps), w.n_user), dtype=np.float32)
        self.served_site = np.zeros((n, w.n_site))
        self.price = np.zeros((n, w.n_site))
        self.decide_time = np.zeros(n)


def _check_modes(mode: np.ndarray, dark: np.ndarray, strategy: Strategy) -> None:
    """A decision's modes are mode codes, and dark only where the site is out of energy: a strategy may sleep a site, not darken it."""
    mode = np.asarray(mode)
    if mode.shape != dark.shape or not np.isin(mode, np.arange(DARK + 1)).all():
        raise ValueError(f"strategy {getattr(strategy, 'name', type(strategy).__name__)}: modes must be one code 0-{DARK} per site, got {mode.tolist()}")
    chosen = np.flatnonzero((mode == DARK) & ~dark)
    if chosen.size:
        raise ValueError(f"strategy {getattr(strategy, 'name', type(strategy).__name__)}: site(s) {chosen.tolist()} set dark with energy left (a strategy may sleep a site, not darken it)")


def simulate(world: World, strategy: Strategy, progress: Callable[[int], None] | None = None) -> Record:
    """Run one strategy through the outage; ``progress(steps_done)`` is called as it goes."""
    record = Record(world)
    battery = world.battery.initial_kwh.astype(float).copy()
    ev = world.evs.initial_kwh.astype(float).copy()
    dark = np.zeros(world.n_site, dtype=bool)
    last_power = np.zeros(world.n_site)
    strategy.reset(world)
    record.battery_energy[0], record.ev_energy[0] = battery, ev
    for k in range(world.n_steps):
        if dark.all():
            record.battery_energy[k + 1:] = battery
            record.ev_energy[k + 1:] = ev
            break
        parked = world.parked[:, k]
        seen_ev = np.where(world.arrived[:, k], ev, 0.0)
        state = State(k, float(world.times_s[k]), battery.copy(), seen_ev, world.present[:, k].copy(), dark.copy(), last_power.copy())
        started = _time.perf_counter()
        decision = strategy.decide(state)
        record.decide_time[k] = _time.perf_counter() - started
        _check_modes(decision.mode, dark, strategy)

        per_ev, ev_site_kw = world.ev_available_kw(ev, parked)
        battery_kw = world.battery_available_kw(battery)
        for attempt in range(world.n_site + 1):
            mode = np.where(dark, DARK, decision.mode).astype(np.int8)
            service, load = world.serve_and_draw(mode, decision.band_on, decision.user_site, decision.band_share)
            # V2G feeds the load; what a site asks beyond it recharges its battery, within the battery's room (Sec. II-D)
            storable = world.battery_room_kw(battery, dark)
            ev_take = np.clip(np.asarray(decision.ev_request_kw, dtype=float), 0.0, np.minimum(ev_site_kw, load + storable))
            short = load - ev_take > battery_kw
            ev_take = np.where(short, np.minimum(ev_site_kw, load), ev_take)
            from_battery = load - ev_take
            failing = (from_battery > battery_kw + 1e-12) & ~dark
            if not failing.any():
                break
            # sites that cannot carry this step go dark now; the strategy sees it and decides the step again
            dark = dark | failing
            state = State(k, float(world.times_s[k]), battery.copy(), seen_ev.copy(), world.present[:, k].copy(), dark.copy(), last_power.copy())
            started = _time.perf_counter()
            decision = strategy.decide(state)
            record.decide_time[k] += _time.perf_counter() - started
            _check_modes(decision.mode, dark, strategy)
        # split each site's V2G power over its parked EVs in proportion to what each can give
        ev_site = world.evs.site
        site_available = np.bincount(ev_site, weights=per_ev, minlength=world.n_site)
        share = np.where(site_available[ev_site] > 0, per_ev / np.maximum(site_available[ev_site], 1e-12), 0.0)
        ev_kw = ev_take[ev_site] * share
        drawn = world.evs.energy_drawn_kwh(ev_kw, world.step_h)
        ev = ev - drawn
        battery = world.battery.energy_after(battery, from_battery, world.step_h)

        record.mode[k] = mode
        record.band_on[k] = service.band_on
        record.band_traffic[k] = service.band_traffic_mbps
        awake_links = ~dark[world.edge_helper] & ~dark[world.edge_assisted]
        record.links[k] = np.asarray(decision.links, dtype=bool) & awake_links
        record.site_power[k] = load
        record.battery_power[k] = from_battery
        record.ev_power[k] = ev_take
        record.ev_drawn_kwh[k] = drawn
        record.battery_energy[k + 1] = battery
        record.ev_energy[k + 1] = ev
        record.user_site[k] = service.site
        rate = service.rate_mbps
        record.served_class[k] = np.bincount(world.user_class, weights=rate, minlength=world.n_class)
        record.served_site[k] = np.bincount(np.maximum(service.site, 0), weights=rate, minlength=world.n_site)
        if k % record.sample_every == 0:
            record.user_sinr_db[k // record.sample_every] = service.sinr_db
            record.user_rate_mbps[k // record.sample_every] = rate
        record.price[k] = world.price_per_kwh(state.battery_kwh, load)
        last_power = load
        if progress is not None:
            progress(k + 1)
    return record
