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
   above SOC_min (Eqs. 12-13). If the battery and the EVs together cannot
   carry a site's load over the step, the site goes **dark** for good: it
   draws nothing and its users are lost unless a neighbour covers them. The
   strategy is told at once and decides the step again.

The run ends when every site is dark or at ``controller.max_duration_h``.
:func:`outage_metrics` turns the record into the metrics of the paper's
Tables II-IV (defined in ``docs/simulation.md``).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from .formulation.data import HELPING, MODES, SLEEP, _home_site
from .formulation.power import site_power_kw
from .scenario import Scenario

DARK = len(MODES)  # mode code of a site out of energy
MODE_LABELS = {**{i: m for i, m in enumerate(MODES)}, DARK: "dark"}
TABLE3_TIME_H = 2.5  # the paper's Table III instant, h


def _attrs(units: str, long_name: str, **extra) -> dict:
    return {"units": units, "long_name": long_name, **extra}


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
    """

    mode: np.ndarray
    band_on: np.ndarray
    user_site: np.ndarray
    ev_request_kw: np.ndarray
    links: np.ndarray


@dataclass
class State:
    """What a strategy may see at the start of a step (no future information)."""

    step: int
    time_s: float
    battery_kwh: np.ndarray  # (site,) kWh
    ev_kwh: np.ndarray  # (ev,) kWh
    parked: np.ndarray  # (ev,) bool: parked for the whole step
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
    """Everything fixed during one outage realisation, in numpy arrays."""

    def __init__(self, scenario: Scenario, inputs: xr.Dataset):
        self.scenario = scenario
        self.inputs = inputs
        self.n_site = inputs.sizes["site"]
        self.n_band = inputs.sizes["band"]
        self.n_user = inputs.sizes["user"]
        self.n_ev = inputs.sizes["ev"]
        self.n_edge = inputs.sizes["edge"]
        self.step_s = float(inputs.time_step_s)
        self.step_h = self.step_s / 3600.0
        self.n_steps = int(np.floor(scenario.controller.max_duration_h * 3600.0 / self.step_s + 1e-9))
        self.times_s = np.arange(self.n_steps) * self.step_s

        self.pair_user = inputs.pair_user.values
        self.pair_site = inputs.pair_site.values
        self.pair_of = np.full((self.n_user, self.n_site), -1, dtype=np.int64)
        self.pair_of[self.pair_user, self.pair_site] = np.arange(inputs.sizes["pair"])
        self.coverage = np.stack(
            [
                inputs.pair_in_normal_radius.values,
                np.ones(inputs.sizes["pair"], dtype=bool),
                inputs.pair_in_assisted_radius.values,
                np.zeros(inputs.sizes["pair"], dtype=bool),
                np.zeros(inputs.sizes["pair"], dtype=bool),
            ],
            axis=1,
        )  # (pair, mode incl. dark)
        self.home = _home_site(inputs)
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

        capacity_kwh = inputs.battery_capacity_kwh.values
        self.battery_initial = inputs.battery_soc_initial.values * capacity_kwh
        self.battery_floor = float(inputs.battery_soc_min) * capacity_kwh
        self.eta_discharge = float(inputs.battery_discharge_efficiency)
        self.battery_max_kw = float(inputs.battery_max_discharge_kw)

        self.ev_site = inputs.ev_site.values
        self.ev_initial = inputs.ev_soc_initial.values * inputs.ev_capacity_kwh.values
        self.ev_reserve = np.minimum(float(inputs.ev_soc_min), inputs.ev_soc_initial.values) * inputs.ev_capacity_kwh.values
        self.ev_max_kw = float(inputs.ev_max_power_kw)
        self.v2x_limit_kw = float(inputs.ev_v2x_limit_kw)
        self.eta_ev = float(inputs.ev_efficiency)
        arrival, departure = inputs.ev_arrival_s.values, inputs.ev_departure_s.values
        self.parked = (arrival[:, None] <= self.times_s[None, :]) & (departure[:, None] >= self.times_s[None, :] + self.step_s)

        # demand each class had served before the outage: users their strongest site covers in normal mode
        home_pair = np.where(self.home >= 0, self.pair_of[np.arange(self.n_user), np.maximum(self.home, 0)], -1)
        self.covered_at_start = (home_pair >= 0) & self.coverage[np.maximum(home_pair, 0), 0]
        self.reference_demand = np.bincount(
            self.user_class, weights=self.demand * self.covered_at_start, minlength=self.n_class
        )
        self.class_names = [str(c) for c in inputs["class"].values]
        self.class_critical = inputs.class_critical.values.astype(bool)
        self.class_qos_target = inputs.class_qos_target.values

        pricing = scenario.pricing
        self.price_base, self.price_alpha, self.price_tau_h = pricing.base_price_per_kwh, pricing.urgency_alpha, pricing.urgency_tau_h

    def price_per_kwh(self, battery_kwh: np.ndarray, load_kw: np.ndarray) -> np.ndarray:
        """V2G price of Eq. 16 per site from the measured remaining battery time."""
        usable = np.maximum(battery_kwh - self.battery_floor, 0.0) * self.eta_discharge
        remaining_h = usable / np.maximum(load_kw, 1e-3)
        return self.price_base * (1.0 + self.price_alpha * np.exp(-remaining_h / self.price_tau_h))

    def covers(self, site: np.ndarray, mode: np.ndarray) -> np.ndarray:
        """(user,) bool: the given site (-1: none) covers each user in that site's mode."""
        valid = site >= 0
        pair = np.where(valid, self.pair_of[np.arange(self.n_user), np.maximum(site, 0)], -1)
        ok = valid & (pair >= 0)
        return ok & self.coverage[np.maximum(pair, 0), mode[np.maximum(site, 0)]]

    def ev_available_kw(self, ev_kwh: np.ndarray, parked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per EV and per site, the V2G power (kW at the site bus) available over one step."""
        usable = np.maximum(ev_kwh - self.ev_reserve, 0.0) * self.eta_ev
        per_ev = np.where(parked, np.minimum(self.ev_max_kw, usable / self.step_h), 0.0)
        per_site = np.minimum(np.bincount(self.ev_site, weights=per_ev, minlength=self.n_site), self.v2x_limit_kw)
        return per_ev, per_site

    def battery_available_kw(self, battery_kwh: np.ndarray) -> np.ndarray:
        """Per site, the battery power (kW at the bus) it can hold for one step above SOC_min."""
        usable = np.maximum(battery_kwh - self.battery_floor, 0.0) * self.eta_discharge
        return np.minimum(self.battery_max_kw, usable / self.step_h)

    def serve(self, mode: np.ndarray, band_on: np.ndarray, user_site: np.ndarray):
        """Rates each user gets (Mbit/s), the site serving it (-1) and traffic per site and band."""
        site = np.where(self.covers(user_site, mode), user_site, -1)
        awake = (mode != SLEEP) & (mode != DARK)
        band_on = band_on & awake[:, None]
        capacity = (band_on * self.capacity).sum(axis=1) * np.where(mode == HELPING, 1.0 - self.helping_overhead, 1.0)
        site = np.where((site >= 0) & (capacity[np.maximum(site, 0)] > 0), site, -1)
        served_mask = site >= 0
        rate = np.zeros(self.n_user)
        left = capacity.copy()
        for c in self.class_order:  # priority classes, four at most
            users = served_mask & (self.user_class == c)
            need = np.bincount(site[users], weights=self.demand[users], minlength=self.n_site)
            granted = np.minimum(need, left)
            ratio = np.where(need > 0, granted / np.where(need > 0, need, 1.0), 0.0)
            rate[users] = self.demand[users] * ratio[site[users]]
            left = left - granted
        carried = np.bincount(site[served_mask], weights=rate[served_mask], minlength=self.n_site)
        on_capacity = (band_on * self.capacity).sum(axis=1)
        band_traffic = np.where(on_capacity[:, None] > 0, carried[:, None] * band_on * self.capacity / np.maximum(on_capacity[:, None], 1e-12), 0.0)
        site = np.where(rate > 0, site, -1)
        return rate, site, band_traffic, band_on

    def serve_and_draw(self, mode: np.ndarray, band_on: np.ndarray, user_site: np.ndarray):
        """:meth:`serve`, then the power (kW) each site draws for it (Eqs. 2-4): rates, serving site, carriers on, load."""
        rate, site, band_traffic, band_on = self.serve(mode, band_on, user_site)
        load = site_power_kw(self.inputs, band_on, band_traffic, mode == SLEEP, mode == DARK)
        return rate, site, band_on, load


class Record:
    """Per-step arrays of one run (time first)."""

    def __init__(self, world: World):
        self.world = world
        w, n = world, world.n_steps
        self.mode = np.full((n, w.n_site), DARK, dtype=np.int8)
        self.band_on = np.zeros((n, w.n_site, w.n_band), dtype=bool)
        self.links = np.zeros((n, w.n_edge), dtype=bool)
        self.site_power = np.zeros((n, w.n_site))
        self.battery_power = np.zeros((n, w.n_site))
        self.ev_power = np.zeros((n, w.n_site))
        self.battery_energy = np.zeros((n + 1, w.n_site))
        self.ev_energy = np.zeros((n + 1, w.n_ev))
        self.ev_drawn_kwh = np.zeros((n, w.n_ev))
        self.user_site = np.full((n, w.n_user), -1, dtype=np.int16)
        self.served_class = np.zeros((n, w.n_class))
        self.served_site = np.zeros((n, w.n_site))
        self.price = np.zeros((n, w.n_site))
        self.decide_time = np.zeros(n)


def simulate(world: World, strategy: Strategy, progress: Callable[[int], None] | None = None) -> Record:
    """Run one strategy through the outage; ``progress(steps_done)`` is called as it goes."""
    record = Record(world)
    battery = world.battery_initial.astype(float).copy()
    ev = world.ev_initial.astype(float).copy()
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
        state = State(k, float(world.times_s[k]), battery.copy(), ev.copy(), parked.copy(), dark.copy(), last_power.copy())
        started = _time.perf_counter()
        decision = strategy.decide(state)
        record.decide_time[k] = _time.perf_counter() - started

        per_ev, ev_site_kw = world.ev_available_kw(ev, parked)
        battery_kw = world.battery_available_kw(battery)
        for attempt in range(world.n_site + 1):
            mode = np.where(dark, DARK, decision.mode).astype(np.int8)
            rate, serving, band_on, load = world.serve_and_draw(mode, np.asarray(decision.band_on, dtype=bool), np.asarray(decision.user_site))
            ev_take = np.clip(np.asarray(decision.ev_request_kw, dtype=float), 0.0, np.minimum(ev_site_kw, load))
            short = load - ev_take > battery_kw
            ev_take = np.where(short, np.minimum(ev_site_kw, load), ev_take)
            from_battery = load - ev_take
            failing = (from_battery > battery_kw + 1e-12) & ~dark
            if not failing.any():
                break
            # sites that cannot carry this step go dark now; the strategy sees it and decides the step again
            dark = dark | failing
            state = State(k, float(world.times_s[k]), battery.copy(), ev.copy(), parked.copy(), dark.copy(), last_power.copy())
            started = _time.perf_counter()
            decision = strategy.decide(state)
            record.decide_time[k] += _time.perf_counter() - started
        # split each site's V2G power over its parked EVs in proportion to what each can give
        site_available = np.bincount(world.ev_site, weights=per_ev, minlength=world.n_site)
        share = np.where(site_available[world.ev_site] > 0, per_ev / np.maximum(site_available[world.ev_site], 1e-12), 0.0)
        ev_kw = ev_take[world.ev_site] * share
        drawn = ev_kw * world.step_h / world.eta_ev
        ev = ev - drawn
        battery = battery - from_battery * world.step_h / world.eta_discharge

        record.mode[k] = mode
        record.band_on[k] = band_on
        awake_links = ~dark[world.edge_helper] & ~dark[world.edge_assisted]
        record.links[k] = np.asarray(decision.links, dtype=bool) & awake_links
        record.site_power[k] = load
        record.battery_power[k] = from_battery
        record.ev_power[k] = ev_take
        record.ev_drawn_kwh[k] = drawn
        record.battery_energy[k + 1] = battery
        record.ev_energy[k + 1] = ev
        record.user_site[k] = serving
        record.served_class[k] = np.bincount(world.user_class, weights=rate, minlength=world.n_class)
        record.served_site[k] = np.bincount(np.maximum(serving, 0), weights=rate * (serving >= 0), minlength=world.n_site)
        record.price[k] = world.price_per_kwh(state.battery_kwh, load)
        last_power = load
        if progress is not None:
            progress(k + 1)
    return record


def outage_metrics(record: Record) -> xr.Dataset:
    """The run's record and metrics as a Dataset (one strategy; no ``strategy`` dimension yet)."""
    w = record.world
    hours = w.times_s / 3600.0
    duration_h = w.n_steps * w.step_h
    dark = record.mode == DARK
    any_dark = dark.any(axis=0)
    first_dark = np.where(any_dark, hours[np.argmax(dark, axis=0)], np.nan)
    survival = float(np.nanmin(first_dark)) if any_dark.any() else duration_h
    all_dark_steps = dark.all(axis=1)
    all_dark = float(hours[np.argmax(all_dark_steps)]) if all_dark_steps.any() else np.nan

    reference = np.where(w.reference_demand > 0, w.reference_demand, 1.0)
    share = np.minimum(record.served_class / reference, 1.0)  # (time, class)
    total_share = np.minimum(record.served_class.sum(axis=1) / max(w.reference_demand.sum(), 1e-12), 1.0)
    # weighted satisfaction (the service term of Eq. 18): class shares weighted by w_c x users of the class
    class_weight = w.inputs.class_weight.values * np.bincount(w.user_class, weights=w.covered_at_start.astype(float), minlength=w.n_class)
    weighted = (share * class_weight).sum(axis=1) / max(class_weight.sum(), 1e-12)
    critical = w.class_critical
    below = (share[:, critical] < w.class_qos_target[critical] - 1e-9).any(axis=1) if critical.any() else np.zeros(w.n_steps, bool)
    critical_time = float(hours[np.argmax(below)]) if below.any() else np.nan
    table3_step = min(int(round(TABLE3_TIME_H * 3600.0 / w.step_s)), w.n_steps - 1)

    # EV utilisation: energy taken / energy the parked EVs could have given over the whole window
    parked_h = w.parked.sum(axis=1) * w.step_h
    offered = np.minimum(np.maximum(w.ev_initial - w.ev_reserve, 0.0), w.ev_max_kw * parked_h / w.eta_ev)
    taken = record.ev_drawn_kwh.sum()
    utilisation = float(taken / offered.sum()) if offered.sum() > 0 else np.nan

    # handovers: a user's serving site changes (gaps without service skipped), vectorised over users and steps
    served = pd.DataFrame(record.user_site.astype(float)).where(record.user_site >= 0)
    previous = served.ffill().shift(1)
    handovers = (served.notna() & previous.notna() & (served != previous)).to_numpy().sum(axis=0)
    switches = ((record.mode[1:] != record.mode[:-1]) & ~dark[1:] & ~dark[:-1]).sum(axis=0)
    cost = float((record.price * record.ev_power).sum() * w.step_h)

    site, band, cls = w.inputs.site.values, w.inputs.band.values, w.inputs["class"].values
    time = xr.DataArray(w.times_s, dims="time", attrs=_attrs("s", "start of the Stage-2 step since the outage start"))
    ds = xr.Dataset(
        coords={
            "time": time,
            "site": site,
            "band": band,
            "class": cls,
            "edge": w.inputs.edge.values,
            "user": w.inputs.user.values,
            "ev": w.inputs.ev.values,
        }
    )
    mode_attrs = _attrs("1", "cooperation mode", flag_values=list(range(DARK + 1)), flag_meanings=" ".join(MODE_LABELS[i] for i in range(DARK + 1)))
    ds["mode"] = (("site", "time"), record.mode.T, mode_attrs)
    ds["band_active"] = (("site", "band", "time"), record.band_on.transpose(1, 2, 0), _attrs("1", "carrier switched on (z, Eq. 24)"))
    ds["link_active"] = (("edge", "time"), record.links.T, _attrs("1", "cooperation link helper -> assisted in use (y, Eq. 23)"))
    ds["site_power"] = (("site", "time"), record.site_power.T, _attrs("kW", "power drawn by the site (Eqs. 2-4)"))
    ds["battery_power"] = (("site", "time"), record.battery_power.T, _attrs("kW", "power the battery gives at the site bus"))
    ds["ev_power"] = (("site", "time"), record.ev_power.T, _attrs("kW", "V2G power parked EVs give at the site bus"))
    ds["battery_energy"] = (("site", "time"), record.battery_energy[:-1].T, _attrs("kWh", "battery energy at the start of the step"))
    ds["battery_energy_end"] = (("site",), record.battery_energy[-1], _attrs("kWh", "battery energy at the end of the run"))
    ds["ev_energy"] = (("ev", "time"), record.ev_energy[:-1].T, _attrs("kWh", "EV battery energy at the start of the step"))
    ds["ev_energy_end"] = (("ev",), record.ev_energy[-1], _attrs("kWh", "EV battery energy at the end of the run"))
    ds["user_site"] = (("user", "time"), record.user_site.T, _attrs("1", "index of the site serving the user, -1 for none"))
    ds["served_share"] = (("class", "time"), share.T, _attrs("1", "served share of the demand the class had served before the outage"))
    ds["served_share_total"] = (("time",), total_share, _attrs("1", "served share of all demand served before the outage"))
    ds["served_mbps"] = (("site", "time"), record.served_site.T, _attrs("Mbit/s", "traffic the site serves"))
    ds["v2g_price"] = (("site", "time"), record.price.T, _attrs("currency/kWh", "V2G price rho(t) of Eq. 16 from the measured remaining time"))
    ds["decide_time"] = (("time",), record.decide_time, _attrs("s", "wall time the strategy took to decide the step"))

    ds["survival_time"] = ((), survival, _attrs("h", "T_surv: first time a site goes dark (the run length if none does)"))
    ds["survival_censored"] = ((), bool(not any_dark.any()), _attrs("1", "no site went dark within the run: survival_time is a lower bound"))
    ds["site_dark_time"] = (("site",), first_dark, _attrs("h", "time the site goes dark (NaN: never within the run)"))
    ds["all_dark_time"] = ((), all_dark, _attrs("h", "time every site is dark (NaN: not within the run)"))
    ds["critical_service_time"] = ((), critical_time, _attrs("h", "first time a critical class falls below its QoS target (NaN: never)"))
    ds["served_share_table3"] = (("class",), share[table3_step], _attrs("1", f"served share of each class at t = {TABLE3_TIME_H} h, or the last step of a shorter run (Table III)"))
    ds["table3_time"] = ((), float(hours[table3_step]), _attrs("h", "time of served_share_table3"))
    ds["service_continuity"] = ((), float(weighted.mean()), _attrs("1", "weighted satisfaction (Eq. 18 service term, class weights) averaged over the run window (Table IV)"))
    ds["served_share_weighted"] = (("time",), weighted, _attrs("1", "served shares of the classes weighted by class weight x users (Eq. 18 service term)"))
    ds["ev_utilisation"] = ((), utilisation, _attrs("1", "energy taken from EVs / energy parked EVs could have given (Table IV)"))
    ds["ev_energy_taken"] = ((), float(taken), _attrs("kWh", "energy taken from EV batteries"))
    ds["handovers_per_user"] = ((), float(handovers.mean()), _attrs("1", "changes of serving site per user (Table IV)"))
    ds["mode_switches_per_site"] = ((), float(switches.mean()), _attrs("1", "mode changes per site while awake (Table IV)"))
    ds["v2g_cost"] = ((), cost, _attrs("currency", "V2G energy bought at the Eq. 16 price"))
    return ds
