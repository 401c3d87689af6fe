"""The MSRC formulation as reusable linopy blocks (the paper's Eqs. 1-27).

One module per part of the paper's model:

========================  ==========================================
module                    equations
========================  ==========================================
``data``                  Eq. 1 (kappa, from the inputs), Eq. 5-6 radii per mode, Eq. 16 price
``cooperation``           Eqs. 5, 19-25: modes, bands, links
``association``           Eqs. 6-11: coverage, association, band shares, rates, capacity
``power``                 Eqs. 2-4: site power
``energy``                Eqs. 12-17: batteries, EVs, power balance
``objective``             Eqs. 18, 26, 27
``linearise``             McCormick envelopes, tangent cuts
``checks``                (none) options, inputs, host time axis, size
``quantities``            (none) units and meaning of every quantity
========================  ==========================================

:func:`add_msrc` adds the whole cluster to any linopy model, touching nothing
but that model (not even linopy's options: the blocks build under linopy's
v1 rules inside :func:`block_semantics`), with every name prefixed. See
``docs/model.md``, "Inside a host model".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

import linopy
import pandas as pd
import xarray as xr

from .association import add_association, add_traffic_flows
from .checks import (
    AGGREGATE_CHOICES,
    EV_MODEL_CHOICES,
    FINAL_BATTERY_CHOICES,
    MAX_VARIABLES,
    TRAFFIC_CHOICES,
    check_choice,
    check_inputs,
    check_size,
    host_time,
    variable_count,
)
from .context import Context, block_semantics, with_block_semantics
from .cooperation import add_band_activation, add_cooperation, add_modes
from ..physics import MODES
from .data import aggregate_users, model_data, reachable_required_share
from .energy import add_battery, add_ev_fleet, add_evs, add_power_balance, fleet_limits
from .objective import (
    LOG_UTILITY_BREAKPOINTS,
    add_eq26_remaining_time,
    add_eq27_log_utility,
    add_survival,
    eq18_objective,
    objective_terms,
    stage1_objective,
    stage2_objective,
    v2g_cost_expression,
)
from .power import add_site_power
from .quantities import quantity_attrs
from .site_level import add_site_offload, site_level_data

#: block quantities whose short name is also a dimension, and their name in :meth:`MSRCBlock.solution`
SOLUTION_NAMES = {"mode": "mode_active", "gamma": "mode_active", "link": "link_active"}

Aggregate = Literal[False, True, "class", "site"]
Traffic = Literal["pairs", "flows", "site"]
EvModel = Literal["vehicles", "fleet"]
FinalBattery = Literal["free", "cyclic", "at_least_initial"]

__all__ = ["MSRCBlock", "add_msrc", "block_semantics", "model_data", "aggregate_users", "MODES", "LOG_UTILITY_BREAKPOINTS"]


@dataclass
class MSRCBlock:
    """Handles to the MSRC cluster inside a host linopy model.

    Attributes
    ----------
    model:
        The host model.
    data:
        The model data the block was built from (time named as the host's).
    prefix:
        Prefix of every name the block added.
    variables, constraints, expressions:
        Every variable, constraint and named expression by short name, e.g.
        ``variables["mode"]``, ``constraints["eq12_battery_first_step"]``,
        ``expressions["site_power"]`` (kW, site x time): a caller that changes
        the model between solves reaches its parts through these handles.
    """

    model: linopy.Model
    data: xr.Dataset
    prefix: str
    time_dim: str
    variables: dict[str, linopy.Variable]
    constraints: dict[str, linopy.Constraint]
    expressions: dict[str, Any]
    _context: Context
    _fixed: list[str] = field(default_factory=list)

    @property
    def site_power(self) -> linopy.LinearExpression:
        """Power drawn by each site (kW), Eq. 4."""
        return self.expressions["site_power"]

    @property
    def total_power(self) -> linopy.LinearExpression:
        """Power drawn by the whole cluster (kW) per time step."""
        return self.expressions["site_power"].sum("site")

    @property
    def battery_power(self) -> linopy.LinearExpression:
        """Net power drawn from the site batteries (kW), site x time."""
        return self.expressions["battery_power"]

    @property
    def grid_import(self) -> linopy.Variable:
        """P_grid of Eq. 17 (kW), site x time: the coupling point for a host's network."""
        return self.variables["grid_import"]

    @with_block_semantics
    def solution(self) -> xr.Dataset:
        """The solved block as a Dataset: every variable and named expression by short name, with units.

        Variables and expressions keep their own dimensions (the host's time
        dimension included). Names that are also dimensions are renamed
        (:data:`SOLUTION_NAMES`: ``mode`` -> ``mode_active``, ``link`` ->
        ``link_active``). Each carries ``units`` and ``long_name``
        (:data:`msrc_model.formulation.quantities.QUANTITIES`). Raises
        ``ValueError`` when the host model has no solution.
        """
        try:
            solved = any(bool(v.solution.notnull().any()) for v in self.variables.values())
        except AttributeError:  # linopy: "Underlying model not optimized"
            solved = False
        if not solved:
            raise ValueError("the host model has no solution: solve it first")
        out = {}
        for short, variable in self.variables.items():
            out[SOLUTION_NAMES.get(short, short)] = variable.solution
        for short, expression in self.expressions.items():
            short = SOLUTION_NAMES.get(short, short)
            if short in out:
                continue
            if isinstance(expression, (linopy.Variable, linopy.LinearExpression)):
                out[short] = expression.solution
            elif isinstance(expression, xr.DataArray):
                out[short] = expression
        labelled = {}
        for short, values in out.items():
            units, long_name = quantity_attrs(short)
            labelled[short] = values.drop_attrs().rename(short).assign_attrs(units=units, long_name=long_name)
        return xr.Dataset(labelled, attrs={"prefix": self.prefix, "time_dim": self.time_dim})

    @with_block_semantics
    def v2g_cost(self) -> linopy.LinearExpression:
        """Cost of the V2G energy the block draws, at the Eq. 16 price (currency: price_per_kwh x kWh).

        Zero (an empty expression) when the block has no EVs.
        """
        cost = v2g_cost_expression(self._context)
        return (0.0 * self.variables["grid_import"]).sum() if cost is None else cost

    @with_block_semantics
    def cost(self, energy_value_per_kwh: float | xr.DataArray = 0.0) -> linopy.LinearExpression:
        """The block's cost in currency for a host that minimises cost.

        The V2G energy at the Eq. 16 price (:meth:`v2g_cost`) less
        ``energy_value_per_kwh`` (currency/kWh, scalar or per site) times the
        battery energy left at the end of the horizon: a value on stored
        energy, so that a cost-minimising host does not spend it as if it
        were free (or use ``final_battery`` in :func:`add_msrc`).
        """
        cost = self.v2g_cost()
        value = xr.DataArray(energy_value_per_kwh)
        if bool((value != 0).any()):
            end = self.variables["battery_energy"].isel({self.time_dim: -1}, drop=True)
            cost = cost - (value * end).sum()
        return cost

    def integer_variables(self) -> dict[str, linopy.Variable]:
        """The block's binary and integer variables by short name."""
        return {k: v for k, v in self.variables.items() if v.attrs.get("binary") or v.attrs.get("integer")}

    def fix_integers(self) -> list[str]:
        """Relax-and-fix: hold every binary and integer of the block at its solution, as continuous.

        After a MILP solve of the host, this turns the block into an LP with
        the same optimum, so that a second solve gives the host its duals
        (bus prices). :meth:`unfix_integers` undoes it. Returns the short
        names fixed. Raises ``ValueError`` before the host model is solved.
        """
        fixed = []
        for short, variable in self.integer_variables().items():
            if variable.solution.isnull().all():
                raise ValueError(f"{self.prefix}{self._context.separator}{short} has no solution: solve the model first")
            variable.fix()
            variable.relax()
            fixed.append(short)
        self._fixed = fixed
        return list(fixed)

    def unfix_integers(self) -> None:
        """Undo :meth:`fix_integers`: the block's integers get their bounds and integrality back."""
        for short in self._fixed:
            self.variables[short].unfix()
            self.variables[short].unrelax()
        self._fixed = []

    @with_block_semantics
    def objective_terms(self) -> dict[str, Any]:
        """The four scaled terms of Eq. 18."""
        return objective_terms(self._context)

    @with_block_semantics
    def eq18(self, weights: dict[str, float]):
        """Eq. 18 with weights keyed survival / service / v2g_cost / mode_switching."""
        return eq18_objective(self._context, weights)

    @with_block_semantics
    def eq26(self, power_estimate_kw: xr.DataArray):
        """Eq. 26 linearised: the least remaining battery time over sites (h)."""
        return add_eq26_remaining_time(self._context, power_estimate_kw)

    @with_block_semantics
    def eq27(self, breakpoints=None):
        """Eq. 27 by tangent cuts, scaled to [0, 1] (``breakpoints`` default: :data:`LOG_UTILITY_BREAKPOINTS`)."""
        return add_eq27_log_utility(self._context, breakpoints)

    @with_block_semantics
    def stage1_objective(
        self, weights: dict[str, float], power_estimate_kw: xr.DataArray, sites: xr.DataArray | None = None, every_step: bool = False
    ):
        """Stage-1 objective: Eq. 26 (over ``sites``, default all; over every step end with ``every_step``) in place of T_surv in Eq. 18."""
        return stage1_objective(self._context, weights, power_estimate_kw, sites, every_step)

    @with_block_semantics
    def stage2_objective(self, weights: dict[str, float], breakpoints=None):
        """Stage-2 objective: Eq. 27 with the step's energy and V2G cost."""
        return stage2_objective(self._context, weights, breakpoints)


@with_block_semantics
def add_msrc(
    model: linopy.Model,
    inputs: xr.Dataset,
    prefix: str = "msrc",
    *,
    time_dim: str | None = None,
    snapshots: pd.Index | None = None,
    snapshot_weightings_h: Any = None,
    step_s: float | None = None,
    max_duration_s: float | None = None,
    aggregate: Aggregate = False,
    traffic: Traffic = "pairs",
    binary_association: bool | None = None,
    fixed_modes: xr.DataArray | None = None,
    allow_dark: bool = False,
    survival: bool | None = None,
    exclusive_battery: bool = True,
    energy_floor: bool = True,
    final_battery: FinalBattery = "free",
    grid_limit_kw: float | xr.DataArray = 0.0,
    initial_battery_kwh: xr.DataArray | None = None,
    initial_ev_kwh: xr.DataArray | None = None,
    initial_mode: xr.DataArray | None = None,
    required_share: xr.DataArray | None = None,
    ev_model: EvModel = "vehicles",
    ev_fleet: tuple[xr.DataArray, xr.DataArray] | None = None,
    fixed_dark: xr.DataArray | None = None,
    integer_carriers: bool = True,
    integer_modes: bool = True,
    sla_shortfall: bool = False,
    band_share_mask: xr.DataArray | None = None,
    separator: str = "-",
    max_variables: int | None = MAX_VARIABLES,
) -> MSRCBlock:
    """Add an MSRC base-station cluster to a linopy model.

    Parameters
    ----------
    model:
        The host model; nothing outside it is touched.
    inputs:
        The inputs Dataset (:func:`msrc_model.build_inputs`) or model data
        already made by :func:`model_data`.
    prefix:
        Prefix of every variable, constraint and expression name.
    time_dim:
        Name of the host's time dimension: default the name of ``snapshots``,
        or ``time`` without them; a name other than the snapshots' raises.
    snapshots:
        The host's time coordinate, one label per model step, replacing the
        block's own (seconds since the outage start). The step lengths come
        from ``snapshot_weightings_h``, else from a datetime index's spacing,
        else from ``step_s``; arguments that contradict them raise.
    snapshot_weightings_h:
        Length of each snapshot, h (PyPSA's ``n.snapshot_weightings.generators``);
        unequal lengths give unequal model steps.
    step_s, max_duration_s:
        Model time step and horizon (s) when ``inputs`` is an inputs Dataset
        (default: the inputs' own grid, 30 s over the whole outage).
    aggregate:
        Aggregate users into traffic groups with continuous association, for
        slow-timescale problems: ``True`` or ``"class"`` by home site and
        class, ``"site"`` by home site alone.
    traffic:
        ``"pairs"``: per-pair band shares and Shannon rates (Eq. 8, Stage 2);
        ``"flows"``: band traffic per site within the band capacities
        (aggregated, the plan); ``"site"``: site power per mode and offload
        flows between sites, no users or bands (the Stage-1 planner, see
        :mod:`msrc_model.formulation.site_level`).
    binary_association:
        Binary x (default: true for single users, false for groups).
    fixed_modes:
        (site, time) modes 0-3, or 4 for dark, held fixed (Stage 2).
    allow_dark:
        Let the optimiser switch sites dark (full-horizon plan).
    survival:
        Add the network-alive indicator and T_surv (default: ``allow_dark``).
    exclusive_battery:
        Forbid simultaneous charge and discharge with a binary.
    energy_floor:
        Keep batteries above SOC_min; false lets the energy be a projection
        below it (Stage 1 scores it with Eq. 26).
    grid_limit_kw:
        Upper bound of P_grid (0 in an outage; a host may supply the cluster).
    initial_battery_kwh, initial_ev_kwh, initial_mode:
        State before the first step (default: the inputs' initial state).
    required_share:
        Per user, the share Eq. 10 obliges the network to serve.
    ev_model:
        ``"vehicles"``: every EV's energy (Eqs. 14-15); ``"fleet"``: EVs
        aggregated per site (slow-timescale planning).
    ev_fleet:
        (power limit kW, cumulative energy kWh) per site and step for the
        fleet model (default: from the EVs in the data, see ``fleet_limits``).
    fixed_dark:
        (site,) bool: sites already out of energy, dark over the whole horizon.
    integer_carriers:
        Band activation z is integer (default). False relaxes it to [0, 1]
        when the modes are fixed: the continuous Stage 2 of the paper, whose
        caller rounds a carrier with any activation up to on.
    integer_modes:
        Binary modes (default). False makes every mode, dark state and
        carrier a share of the step in [0, 1]: the site spends that share of
        the step in the mode, which the 30-s controller can realise inside a
        host's 15-min or hourly step. The block is then an LP (with
        ``exclusive_battery=False``): a host gets its prices directly and
        solves in seconds where the binary block is a hard MILP (see
        ``docs/model.md``, "Inside a host model").
    final_battery:
        End-of-horizon condition on the battery energy: ``"free"``,
        ``"cyclic"`` (back to the initial energy) or ``"at_least_initial"``.
    sla_shortfall:
        Per-user association only: Eq. 10's obligation gets a slack variable
        ``sla_shortfall`` (user, time; share of the user not served), so the
        block is feasible whatever the modes; Stage 2 penalises it far above
        every other term (:func:`msrc_model.formulation.objective.stage2_objective`).
    band_share_mask:
        (pair, band) bool, with ``fixed_modes`` and per-pair traffic only: build the block to be
        updated in place (:class:`msrc_model.problems.stages.RadioProblem`). Band shares exist on
        exactly these pairs and bands whatever the rates, the rates sit in one row
        (``eq8_pair_band_traffic``), and every SLA user has an Eq. 10 row; new modes, coverage and
        rates then change only bounds, right-hand sides and coefficients.
    separator:
        Between ``prefix`` and each short name (``msrc-mode``).
    max_variables:
        Refuse to build a block of more variables than this (estimated from
        the data before anything is added); ``None`` for no limit.

    Raises
    ------
    ValueError
        Before anything is added to ``model``: an option outside its allowed
        values, inputs lacking a variable the blocks read, a time axis that
        contradicts the snapshots, a name already in the model, or a block
        larger than ``max_variables``.
    """
    check_choice("aggregate", aggregate, AGGREGATE_CHOICES)
    check_choice("traffic", traffic, TRAFFIC_CHOICES)
    check_choice("ev_model", ev_model, EV_MODEL_CHOICES)
    check_choice("final_battery", final_battery, FINAL_BATTERY_CHOICES)
    if band_share_mask is not None and (fixed_modes is None or traffic != "pairs" or aggregate):
        raise ValueError("add_msrc: band_share_mask needs fixed_modes and per-pair traffic (traffic='pairs', no aggregate)")
    if not isinstance(model, linopy.Model):
        raise ValueError(f"add_msrc: model must be a linopy.Model, got {type(model).__name__}")
    for option, text in (("prefix", prefix), ("separator", separator)):
        if not isinstance(text, str) or not text or text != text.strip():
            raise ValueError(f"add_msrc: {option} must be a non-empty string without surrounding spaces, got {text!r}")
    taken = [name for name in (*model.variables, *model.constraints) if name.startswith(prefix + separator)]
    if taken:
        raise ValueError(f"add_msrc: the model already has {len(taken)} names starting {prefix + separator!r} (e.g. {taken[0]!r}); choose another prefix")
    ready_made = isinstance(inputs, xr.Dataset) and "pair_coverage" in inputs
    check_inputs(inputs, ready_made)
    if ready_made and step_s is None and snapshots is not None and snapshot_weightings_h is None:
        step = inputs.time_step_h
        step_s = float(step) * 3600.0 if step.ndim == 0 else None
        if step.ndim:
            snapshot_weightings_h = step.values
    host = host_time(snapshots, time_dim, step_s, max_duration_s, snapshot_weightings_h)
    time_dim = host.dim

    if ready_made:
        data = inputs
    elif host.steps_s is not None:
        data = model_data(inputs, steps_s=host.steps_s)
    else:
        data = model_data(inputs, step_s=host.step_s, max_duration_s=host.max_duration_s)
    if traffic == "site":
        if "site_mode_power_kw" not in data:
            data = site_level_data(data)
    elif aggregate:
        data = aggregate_users(data, by_class=aggregate != "site")
    steps_s = np.broadcast_to(data.time_step_h.values, (data.sizes["time"],)) * 3600.0
    if host.labels is not None:
        if len(host.labels) != data.sizes["time"]:
            raise ValueError(f"add_msrc: {len(host.labels)} snapshots for {data.sizes['time']} model steps")
        if ready_made and not np.allclose(steps_s, host.steps_s if host.steps_s is not None else host.step_s):
            raise ValueError("add_msrc: the snapshots' step lengths differ from those of the model data")
    check_size(variable_count(data, traffic, ev_model), max_variables, float(steps_s.sum()), data.sizes["time"])
    if ev_model == "fleet" and ev_fleet is None:
        ev_fleet = fleet_limits(data, initial_ev_kwh)
    if host.labels is not None:
        data = data.assign_coords(time=("time", host.labels.values))
        if ev_fleet is not None:
            ev_fleet = tuple(a.assign_coords(time=data.time.values) if "time" in a.dims else a for a in ev_fleet)
    if time_dim != "time":
        data = data.rename(time=time_dim)
        if ev_fleet is not None:
            ev_fleet = tuple(a.rename(time=time_dim) if "time" in a.dims else a for a in ev_fleet)
        for extra in (fixed_modes, initial_battery_kwh, initial_ev_kwh):
            if extra is not None and "time" in extra.dims:
                raise ValueError(f"add_msrc: give time-indexed arguments on the {time_dim!r} dimension")
    ctx = Context(model, data, prefix, time_dim, separator)
    add_modes(ctx, fixed_modes=fixed_modes, allow_dark=allow_dark, initial_mode=initial_mode, fixed_dark=fixed_dark)
    if fixed_modes is None:
        add_cooperation(ctx)
    elif required_share is None:
        required_share = reachable_required_share(ctx.data, fixed_modes)
    if traffic != "site":
        add_band_activation(ctx, integer=integer_carriers or fixed_modes is None)
    if survival is None:
        survival = allow_dark
    alive = 1.0
    if survival:
        add_survival(ctx)
        alive = ctx.variables["network_alive"]
    if traffic == "site":
        add_site_offload(ctx)
    elif traffic == "flows":
        add_traffic_flows(ctx, alive=alive, required_share=required_share)
    else:
        if binary_association is None:
            binary_association = not aggregate
        add_association(
            ctx, binary=binary_association, alive=alive, required_share=required_share, sla_shortfall=sla_shortfall,
            band_share_mask=band_share_mask,
        )
    if traffic != "site":
        add_site_power(ctx)
    add_battery(ctx, initial_energy_kwh=initial_battery_kwh, exclusive=exclusive_battery, energy_floor=energy_floor, final=final_battery)
    if ev_model == "fleet":
        add_ev_fleet(ctx, *ev_fleet)
    else:
        add_evs(ctx, initial_energy_kwh=initial_ev_kwh)
    add_power_balance(ctx, grid_limit_kw=grid_limit_kw)
    if not integer_modes:
        for short in ("mode", "dark", "band_on"):
            if short in ctx.variables:
                ctx.variables[short].relax()
    return MSRCBlock(model, ctx.data, prefix, time_dim, ctx.variables, ctx.constraints, ctx.expressions, ctx)
