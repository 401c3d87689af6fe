"""The two stages of the MSRC controller (Sec. IV) as optimisation problems.

Stage 1 (every 15 min) fixes the cooperation modes over a horizon H from
aggregated traffic; Stage 2 (every 30 s) sets association, band shares, band
activation and battery / V2G power for one step with the modes fixed. Both
are built from the formulation blocks (:func:`msrc_model.formulation.add_msrc`)
and solved by HiGHS.

"""

from __future__ import annotations

from dataclasses import dataclass, field

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from ..formulation import MSRCBlock, add_msrc
from ..formulation.association import association_upper, available_capacity_per_band, band_share_terms
from ..formulation.context import block_semantics, loosest_rhs, with_block_semantics
from ..formulation.cooperation import band_on_bounds, fixed_mode_data
from ..formulation.data import coverage_in_modes, mode_onehot, reachable_required_share
from ..formulation.power import site_power_constant_kw
from ..physics import HELPING, MODES
from .solve import PersistentSolver, SolveReport


def usable_pairs(data: xr.Dataset, modes: xr.DataArray) -> xr.Dataset:
    """Model data keeping only the pairs some step's fixed modes allow (Eq. 6)."""
    allowed = coverage_in_modes(data, modes).max([d for d in modes.dims if d != "site"]) > 0
    return data.isel(pair=np.flatnonzero(allowed.values))


@with_block_semantics
def build_stage2(
    data: xr.Dataset,
    modes: xr.DataArray,
    weights: dict[str, float],
    *,
    initial_battery_kwh: xr.DataArray | None = None,
    initial_ev_kwh: xr.DataArray | None = None,
    breakpoints=None,
    binary_association: bool = True,
    exclusive_battery: bool = True,
    integer_carriers: bool = True,
    sla_shortfall: bool = False,
    band_share_mask: xr.DataArray | None = None,
) -> tuple[linopy.Model, MSRCBlock]:
    """Stage 2 for the steps of ``data`` (usually one 30-s step) with ``modes`` fixed.

    Per-user binary association over the pairs the modes allow, Shannon rates
    per band (Eq. 8), objective Eq. 27 with the step's energy (scaled x100 for
    the solver's tolerances). With ``sla_shortfall`` Eq. 10 has a penalised
    slack and the problem is feasible whatever the modes. With
    ``band_share_mask`` (pair, band) every pair of ``data`` is kept and the
    model is built to be updated (:class:`RadioProblem`, ``add_msrc``).
    """
    model = linopy.Model()
    block = add_msrc(
        model, data if band_share_mask is not None else usable_pairs(data, modes), fixed_modes=modes,
        binary_association=binary_association, exclusive_battery=exclusive_battery, integer_carriers=integer_carriers,
        sla_shortfall=sla_shortfall, initial_battery_kwh=initial_battery_kwh, initial_ev_kwh=initial_ev_kwh,
        band_share_mask=band_share_mask,
    )
    objective = block.stage2_objective(weights, breakpoints)
    model.add_objective(100.0 * (objective - float(objective.const)), sense="max")
    return model, block


def set_term_coefficients(constraint: linopy.Constraint, variable: linopy.Variable, values: xr.DataArray) -> None:
    """Give every term of ``constraint`` on an element of ``variable`` the coefficient ``values`` holds for that element.

    ``values`` is over (a subset of) the variable's dimensions; terms on other variables keep theirs.
    The pattern of non-zeros must stay the same (no value 0 where a term exists), so a kept solver
    model changes coefficients in place.
    """
    labels = variable.labels.values
    element = np.broadcast_to(values.broadcast_like(variable.labels).transpose(*variable.labels.dims).values, labels.shape)
    valid = labels >= 0
    order = np.argsort(labels[valid])
    known, value = labels[valid][order], element[valid][order]
    terms = constraint.vars.values
    position = np.clip(np.searchsorted(known, terms), 0, max(len(known) - 1, 0))
    hit = (terms >= 0) & (known[position] == terms) if len(known) else np.zeros(terms.shape, dtype=bool)
    if np.any(value[position[hit]] == 0):
        raise ValueError(f"{constraint.name}: a zero coefficient would change the pattern of non-zeros")
    coeffs = constraint.coeffs.values.copy()
    coeffs[hit] = value[position[hit]]
    constraint.update(coeffs=constraint.coeffs.copy(data=coeffs))


class RadioProblem:
    """The Stage-2 radio problem built once for every pair and updated in place at each call (Sec. IV-2).

    Built by :func:`build_stage2` with ``band_share_mask`` (continuous
    association, penalised SLA shortfall, no battery binary), it keeps every
    pair of ``data``; :meth:`set_state` then gives one call's modes, coverage,
    rates and carrier set as bounds, right-hand sides and coefficients,
    through the formulation's own functions for each, and the HiGHS model kept
    alive between calls gets only what changed
    (:class:`~msrc_model.problems.solve.PersistentSolver`). Every solve starts
    cold, so a kept model gives the result a fresh build gives.
    """

    @with_block_semantics
    def __init__(
        self,
        data: xr.Dataset,
        modes: xr.DataArray,
        weights: dict[str, float],
        *,
        band_share_mask: xr.DataArray,
        carriers: np.ndarray | None = None,
        integer_carriers: bool = False,
        breakpoints=None,
    ) -> None:
        self.band_share_mask = band_share_mask
        self.model, self.block = build_stage2(
            data, modes, weights, binary_association=False, exclusive_battery=False, integer_carriers=integer_carriers,
            breakpoints=breakpoints, sla_shortfall=True, band_share_mask=band_share_mask,
        )
        if carriers is not None:
            band_on = self.block.variables["band_on"]
            band_on.update(upper=np.minimum(band_on.upper, self._carrier_cap(carriers)))
        fixed = fixed_mode_data(modes)
        # Eq. 17's right-hand side holds minus the constant part of the site power: kept to swap that part
        self._power_balance_rhs = self.block.constraints["eq17_power_balance"].rhs + site_power_constant_kw(
            self.block.data, fixed["gamma"], fixed["awake"]
        )
        self.solver = PersistentSolver(self.model)

    def _carrier_cap(self, carriers: np.ndarray) -> xr.DataArray:
        band_on = self.block.variables["band_on"]
        cap = xr.DataArray(np.asarray(carriers, dtype=float), dims=("site", "band"), coords={"site": band_on.indexes["site"], "band": band_on.indexes["band"]})
        return cap * xr.ones_like(band_on.upper)

    @with_block_semantics
    def set_state(self, modes: xr.DataArray, coverage: np.ndarray, rates: np.ndarray, carriers: np.ndarray) -> None:
        """One call's data: modes (site, time codes), coverage (pair, mode, share), rates (pair, band, Mbit/s per share), carriers (site, band bool).

        The pairs and bands are those of the build. Only bounds, right-hand sides and the coefficients
        of Eqs. 8 (the traffic row) and 9 change.
        """
        block = self.block
        data = block.data.copy()
        data["pair_coverage"] = data.pair_coverage.copy(data=np.asarray(coverage, dtype=float))
        data["pair_rate_per_share_mbps"] = data.pair_rate_per_share_mbps.copy(data=np.asarray(rates, dtype=float))
        fixed = fixed_mode_data(modes)
        gamma, awake = fixed["gamma"], fixed["awake"]
        variables, constraints = block.variables, block.constraints
        x_upper = association_upper(data, gamma)
        variables["association"].update(upper=x_upper)
        lower, upper = band_on_bounds(data, gamma, awake)
        band_on = variables["band_on"]
        band_on.update(lower=lower * xr.ones_like(band_on.lower), upper=np.minimum(upper, self._carrier_cap(carriers)))
        constraints["eq24_awake_needs_band"].update(rhs=awake * xr.ones_like(constraints["eq24_awake_needs_band"].rhs))
        chi_upper, coefficient = band_share_terms(data.pair_rate_per_share_mbps, self.band_share_mask, x_upper)
        chi = variables["band_share"]
        chi.update(upper=chi_upper)
        set_term_coefficients(constraints["eq8_pair_band_traffic"], chi, -coefficient)
        helping = gamma.sel(mode=MODES[HELPING], drop=True)
        set_term_coefficients(constraints["eq9_capacity"], band_on, -available_capacity_per_band(data, helping))
        power = constraints["eq17_power_balance"]
        power.update(rhs=self._power_balance_rhs - site_power_constant_kw(data, gamma, awake))
        if "eq10_sla_served" in constraints:
            share = reachable_required_share(data, modes) * xr.ones_like(data.time, dtype=float)
            constraints["eq10_sla_served"].update(rhs=share)
            variables["sla_shortfall"].update(upper=share)

    def solve(self, options: dict, write_back: bool = True) -> SolveReport:
        """Solve from the state last set, cold (:meth:`PersistentSolver.solve`): the result does not depend on earlier solves.

        Without ``write_back`` the solution stays in HiGHS: read it with :meth:`values` (writing every
        variable of this model back took about 0.1 s a solve on ``models/msrc.yaml``).

        A warm start from the call's first LP would make the second (the carriers fixed) about 0.4 s
        faster on ``models/msrc.yaml``, but HiGHS keeps the column scaling of the first LP it solved
        and a warm solve uses it, so its result would differ from a fresh build's in the last digits
        and, at a degenerate optimum, pick another vertex (measured: the 30-min reference run's
        service continuity moved in the 5th digit).
        """
        return self.solver.solve(options, cold_start=True, write_back=write_back)

    def values(self, *names: str) -> list[xr.DataArray]:
        """The last solve's values of the named variables (as ``block.variables[name].solution`` after a write-back)."""
        return self.solver.variable_values(*(self.block.variables[name] for name in names))


@dataclass(frozen=True)
class Stage1Handles:
    """The parts of the Stage-1 model that change from one call to the next.

    Attributes
    ----------
    battery_first_step:
        Eq. 12 at the first block; right-hand side: battery energy now (kWh, site).
    fleet_power:
        EV fleet power (kW, site x block); upper bound: the forecast V2G power.
    fleet_energy:
        Cumulative fleet energy (Eq. 14); right-hand side: the forecast usable energy (kWh, site x block).
    dark:
        Dark state (site x block); both bounds: the sites dark now.
    mode_switch_first:
        Eq. 18 switch counter at the first block; right-hand side: minus the one-hot mode before the call.
    eq26_min_over_sites:
        Eq. 26 rows (site x block end); a dark site's rows are switched off.
    eq26_rhs:
        The Eq. 26 right-hand side with every site in the minimum.
    eq26_off_rhs:
        The right-hand side that switches a row off: the largest value its left side takes within the
        variable bounds (:func:`msrc_model.formulation.context.loosest_rhs`), finite.
    mode_first:
        The binary modes of the first blocks (site x mode x block), when the later blocks plan time shares;
        bounds: [0, 1], or fixed by :meth:`Stage1Problem.fix_first_modes`.
    """

    battery_first_step: linopy.Constraint
    fleet_power: linopy.Variable
    fleet_energy: linopy.Constraint
    dark: linopy.Variable
    mode_switch_first: linopy.Constraint
    eq26_min_over_sites: linopy.Constraint
    eq26_rhs: xr.DataArray
    eq26_off_rhs: xr.DataArray
    mode_first: linopy.Variable | None = None


@dataclass
class Stage1Problem:
    """The Stage-1 model, built once, the handles through which each call sets its state, and its solver."""

    model: linopy.Model
    block: MSRCBlock
    handles: Stage1Handles
    solver: PersistentSolver = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.solver = PersistentSolver(self.model)

    def solve(self, options: dict, start: np.ndarray | None = None, write_back: bool = True) -> SolveReport:
        """Solve from the state last set; HiGHS keeps the model between calls and gets only what changed.

        ``start``: a first incumbent, the column values of an earlier solve of this model (:meth:`column_values`).
        Without ``write_back`` the solution stays in HiGHS (:meth:`column_values`), not on the model's variables.
        """
        return self.solver.solve(options, start=start, write_back=write_back)

    def column_values(self) -> np.ndarray:
        """The last solution as HiGHS column values, to pass back as a ``start``."""
        return self.solver.column_values()

    @with_block_semantics
    def fix_first_modes(self, modes: np.ndarray | None) -> None:
        """Fix the first block's binary modes to ``modes`` (site codes, :mod:`msrc_model.physics.modes`), or free them (None).

        A site given a code outside 0-3 (dark, or -1) is left free: Eq. 19 decides it.
        """
        binary = self.handles.mode_first
        if binary is None:
            raise ValueError("this Stage-1 model has no binary first block (build it with integer_blocks)")
        if modes is None:
            binary.update(lower=xr.zeros_like(binary.lower), upper=xr.ones_like(binary.upper))
            return
        codes = xr.DataArray(np.asarray(modes), dims="site", coords={"site": binary.indexes["site"]})
        fixed = ((codes >= 0) & (codes < len(binary.indexes["mode"]))) * xr.ones_like(binary.lower)
        onehot = mode_onehot(codes) * xr.ones_like(binary.lower)
        binary.update(lower=onehot.where(fixed > 0, 0.0), upper=onehot.where(fixed > 0, 1.0))

    @with_block_semantics
    def set_state(
        self, battery_kwh: xr.DataArray, ev_fleet: tuple[xr.DataArray, xr.DataArray], dark: xr.DataArray, mode_before: xr.DataArray
    ) -> None:
        """Set the model's data for one call: only bounds and right-hand sides change.

        Parameters
        ----------
        battery_kwh:
            (site,) battery energy now, kWh.
        ev_fleet:
            (power limit kW, cumulative usable energy kWh) per site and block.
        dark:
            (site,) bool, sites out of energy: dark throughout, left out of Eq. 26.
        mode_before:
            (site,) mode code before the call (:mod:`msrc_model.physics.modes`), for the switch counter.
        """
        h = self.handles
        h.battery_first_step.update(rhs=xr.ones_like(h.battery_first_step.rhs) * battery_kwh)
        power, energy = ev_fleet
        h.fleet_power.update(upper=power)
        h.fleet_energy.update(rhs=energy)
        dark_share = dark.astype(float) * xr.ones_like(self.block.data.time, dtype=float)
        h.dark.update(lower=dark_share, upper=dark_share)
        h.mode_switch_first.update(rhs=-(xr.ones_like(h.mode_switch_first.rhs) * mode_onehot(mode_before)))
        h.eq26_min_over_sites.update(rhs=h.eq26_rhs.where(~dark.astype(bool), h.eq26_off_rhs))


@with_block_semantics
def build_stage1(
    data: xr.Dataset,
    weights: dict[str, float],
    power_estimate_kw: xr.DataArray | None = None,
    *,
    initial_battery_kwh: xr.DataArray | None = None,
    ev_fleet: tuple[xr.DataArray, xr.DataArray] | None = None,
    initial_mode: xr.DataArray | None = None,
    dark: xr.DataArray | None = None,
    integer_blocks: int | None = None,
    every_step: bool = False,
) -> Stage1Problem:
    """Stage 1 over the steps of ``data`` (e.g. 6 x 1 h): modes and links from site-level traffic.

    Site power per mode and offload flows between sites
    (:mod:`msrc_model.formulation.site_level`), EVs as a fleet per site,
    battery energy as a projection scored by Eq. 26 over the sites not yet
    ``dark`` (site bool), with the denominator ``power_estimate_kw`` (kW per
    site; default each site's normal-mode power). With ``integer_blocks`` the
    modes are binary in that many first blocks only; later blocks plan the
    share of time each site spends in each mode (move blocking). With
    ``every_step`` Eq. 26's minimum runs over every block end, not only the
    horizon's. The model is returned with the handles a caller needs to
    solve it again and again from new states (:class:`Stage1Problem`).
    """
    model = linopy.Model()
    block = add_msrc(
        model, data, traffic="site", ev_model="fleet", ev_fleet=ev_fleet,
        energy_floor=False, exclusive_battery=False,
        initial_battery_kwh=initial_battery_kwh, initial_mode=initial_mode, fixed_dark=dark,
    )
    if power_estimate_kw is None:
        power_estimate_kw = block.data.site_mode_power_kw.sel(mode="normal", drop=True)
    binary = None
    if integer_blocks is not None and integer_blocks < block.data.sizes["time"]:
        # move blocking: binary modes for the first blocks, mode time shares after them
        mode = block.variables["mode"]
        mode.relax()
        first = block.data.time.values[:integer_blocks]
        binary = model.add_variables(
            binary=True, coords=[mode.indexes["site"], mode.indexes["mode"], pd.Index(first, name="time")], name="msrc-mode_binary_blocks"
        )
        model.add_constraints(mode.sel(time=first) - binary == 0, name="msrc-mode_binary_blocks")
    alive = None if dark is None else ~dark.astype(bool)
    model.add_objective(100.0 * block.stage1_objective(weights, power_estimate_kw, alive, every_step=every_step), sense="max")
    eq26 = block.constraints["eq26_min_over_sites"]
    handles = Stage1Handles(
        battery_first_step=block.constraints["eq12_battery_first_step"],
        fleet_power=block.variables["ev_fleet_power"],
        fleet_energy=block.constraints["eq14_fleet_energy"],
        dark=block.variables["dark"],
        mode_switch_first=block.constraints["eq18_mode_switch_first"],
        eq26_min_over_sites=eq26,
        eq26_rhs=eq26.rhs.copy(),
        eq26_off_rhs=loosest_rhs(model, eq26),
        mode_first=binary,
    )
    return Stage1Problem(model, block, handles)


@with_block_semantics
def build_dispatch(
    load_kw: np.ndarray,
    battery_available_kw: np.ndarray,
    ev_available_kw: np.ndarray,
    price_per_kwh: np.ndarray,
    weights: dict[str, float],
    *,
    battery_scale_kw: float,
    cost_scale: float,
    battery_room_kw: np.ndarray | None = None,
) -> linopy.Model:
    """Stage-2 energy dispatch for one step: battery and V2G power per site (Eqs. 13, 15, 17).

    ``battery_power + ev_power = load`` at every site, each within what the
    battery and the parked EVs can give over the step (kW); with
    ``battery_room_kw`` the battery may also take up to that much (negative
    ``battery_power``), from the EVs' surplus over the load. The objective is
    the energy part of Stage 2: lambda_1 times the battery power drawn (the
    reserve that survival rests on, scaled by ``battery_scale_kw``) plus
    lambda_3 times the V2G cost at the posted price (Eq. 16, scaled by
    ``cost_scale``), minimised.
    """
    site = pd.Index(np.arange(len(load_kw)), name="site")
    model = linopy.Model()
    room = np.zeros(len(load_kw)) if battery_room_kw is None else np.asarray(battery_room_kw, dtype=float)
    battery = model.add_variables(
        lower=xr.DataArray(-room, coords=[site]), upper=xr.DataArray(battery_available_kw, coords=[site]), name="battery_power"
    )
    ev = model.add_variables(lower=0.0, upper=xr.DataArray(ev_available_kw, coords=[site]), name="ev_power")
    model.add_constraints(battery + ev == xr.DataArray(load_kw, coords=[site]), name="eq17_power_balance")
    set_dispatch_objective(model, price_per_kwh, weights, battery_scale_kw=battery_scale_kw, cost_scale=cost_scale)
    return model


def dispatch_objective_coefficients(
    price_per_kwh: np.ndarray, weights: dict[str, float], *, battery_scale_kw: float, cost_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-site costs of the dispatch objective, minimised: lambda_1 / scale on battery kW, lambda_3 price / scale on V2G kW."""
    price = np.asarray(price_per_kwh, dtype=float)
    return np.full(price.shape, weights["survival"] / battery_scale_kw), weights["v2g_cost"] * price / cost_scale


def set_dispatch_objective(
    model: linopy.Model, price_per_kwh: np.ndarray, weights: dict[str, float], *, battery_scale_kw: float, cost_scale: float
) -> None:
    """Set (or replace) the dispatch objective (:func:`dispatch_objective_coefficients`) on a :func:`build_dispatch` model."""
    battery, ev = model.variables["battery_power"], model.variables["ev_power"]
    site = battery.indexes["site"]
    battery_cost, ev_cost = dispatch_objective_coefficients(price_per_kwh, weights, battery_scale_kw=battery_scale_kw, cost_scale=cost_scale)
    model.add_objective(
        battery * xr.DataArray(battery_cost, coords=[site]) + ev * xr.DataArray(ev_cost, coords=[site]), sense="min", overwrite=True
    )


class DispatchProblem:
    """The Stage-2 energy dispatch (:func:`build_dispatch`) built once and solved again and again.

    Each :meth:`solve` sets the step's loads, limits and prices as bounds,
    right-hand sides and objective coefficients and passes only those to
    the HiGHS model kept alive between calls (:class:`~msrc_model.problems.solve.PersistentSolver`).
    """

    def __init__(self, n_sites: int, weights: dict[str, float], *, battery_scale_kw: float, cost_scale: float) -> None:
        zeros = np.zeros(n_sites)
        self.weights = weights
        self.battery_scale_kw = battery_scale_kw
        self.cost_scale = cost_scale
        self.model = build_dispatch(zeros, zeros, zeros, zeros, weights, battery_scale_kw=battery_scale_kw, cost_scale=cost_scale)
        self.solver = PersistentSolver(self.model)
        with block_semantics():
            battery, ev = self.model.variables["battery_power"], self.model.variables["ev_power"]
            # the objective's terms (site x [battery, ev]) once; each step swaps in its coefficients
            self._objective_terms = linopy.merge([1.0 * battery, 1.0 * ev], dim="_term").data
        labels = self._objective_terms.vars.transpose("site", "_term").values
        assert (labels[:, 0] == battery.labels.values).all() and (labels[:, 1] == ev.labels.values).all()

    @with_block_semantics
    def solve(
        self,
        load_kw: np.ndarray,
        battery_available_kw: np.ndarray,
        ev_available_kw: np.ndarray,
        price_per_kwh: np.ndarray,
        options: dict,
        battery_room_kw: np.ndarray | None = None,
    ) -> SolveReport:
        """Solve the dispatch for one step (arguments as :func:`build_dispatch`, kW and currency/kWh per site)."""
        model = self.model
        battery, ev = model.variables["battery_power"], model.variables["ev_power"]
        site = battery.indexes["site"]
        room = np.zeros(len(load_kw)) if battery_room_kw is None else np.asarray(battery_room_kw, dtype=float)
        battery.update(lower=xr.DataArray(-room, coords=[site]), upper=xr.DataArray(np.asarray(battery_available_kw, dtype=float), coords=[site]))
        ev.update(upper=xr.DataArray(np.asarray(ev_available_kw, dtype=float), coords=[site]))
        model.constraints["eq17_power_balance"].update(rhs=xr.DataArray(np.asarray(load_kw, dtype=float), coords=[site]))
        costs = dispatch_objective_coefficients(price_per_kwh, self.weights, battery_scale_kw=self.battery_scale_kw, cost_scale=self.cost_scale)
        terms = self._objective_terms
        objective = linopy.LinearExpression(terms.assign(coeffs=(terms.coeffs.dims, np.stack(costs, axis=1))), model)
        model.add_objective(objective, sense="min", overwrite=True)
        return self.solver.solve(options)
