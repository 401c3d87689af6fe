"""The MSRC cluster inside a PyPSA network (optional: ``pip install "msrc[pypsa]"``).

PyPSA builds its linopy model from its components, then lets the modeller add
to it. The cluster therefore joins in two steps:

1. :func:`attach_msrc`, before the model is built, adds PyPSA components that
   carry the cluster's draw: per site a *sink*, a generator that can only
   consume (``p_max_pu = 0``, ``p_min_pu = -1``, in MW), at the host's bus, or
   with ``site_buses=True`` at a bus of its own fed from the host's bus by a
   link with an efficiency (a rectifier, a feeder). PyPSA's own nodal
   balances, statistics and results then show the cluster like any load.
2. :meth:`MSRCCluster.build`, after ``n.optimize.create_model()`` (or as
   ``extra_functionality``), adds the MSRC block
   (:func:`msrc_model.formulation.add_msrc`) on the network's snapshots with
   their weightings as step lengths, ties each sink to the site's grid import
   (kW -> MW), and adds the block's cost in currency (V2G energy at the
   Eq. 16 price, less an optional value on the energy left in the batteries)
   to PyPSA's objective.

The block's names are ``msrc:NAME`` (a colon, not PyPSA's ``Component-attr``
dash), so PyPSA never takes them for a component's variables.

    cluster = attach_msrc(n, inputs, bus="grid")
    n.optimize(extra_functionality=cluster.build)          # a MILP: the block has binaries
    cluster.fix_and_resolve(n)                              # an LP with the modes fixed: bus prices
    cluster.solution()                                      # the block's results, with units
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pypsa
import xarray as xr

from ..formulation import MSRCBlock, add_msrc
from ..formulation.context import with_block_semantics
from ..physics import site_power_ceiling_kw

#: PyPSA's power unit is the MW, msrc's the kW
KW_PER_MW = 1000.0
#: separator of the block's names inside a PyPSA model: PyPSA maps ``Component-attr`` names to components
SEPARATOR = ":"
#: the block options :func:`attach_msrc` uses unless told otherwise: the cluster at an energy model's
#: timescale (site-level traffic, EVs as a fleet, modes as shares of the step: an LP), with batteries
#: that end the horizon where they began, so that a cost-minimising host does not spend them for free
HOST_DEFAULTS = {
    "traffic": "site",
    "ev_model": "fleet",
    "exclusive_battery": False,
    "integer_modes": False,
    "final_battery": "cyclic",
}


@dataclass
class MSRCCluster:
    """An MSRC cluster attached to a PyPSA network (see the module).

    Attributes
    ----------
    inputs:
        The cluster's inputs Dataset.
    sinks:
        Name of each site's sink generator in the network, by site.
    prefix:
        Prefix of the block's names (``prefix:short``).
    energy_value_per_kwh:
        Value (currency/kWh) on the battery energy left at the end of the horizon.
    grid_limit_kw:
        Per site, the most it can import (kW): its peak power plus battery and EV charging.
    block_options:
        Further arguments of :func:`msrc_model.formulation.add_msrc`.
    block:
        The block, once :meth:`build` has run.
    """

    inputs: xr.Dataset
    sinks: pd.Series
    prefix: str
    energy_value_per_kwh: float
    grid_limit_kw: np.ndarray
    block_options: dict[str, Any] = field(default_factory=dict)
    block: MSRCBlock | None = None

    @with_block_semantics
    def build(self, n: pypsa.Network, snapshots: Any = None) -> MSRCBlock:
        """Add the block to ``n.model`` and couple it (usable as PyPSA's ``extra_functionality``)."""
        model = getattr(n, "model", None)
        if model is None or "Generator-p" not in model.variables:
            raise ValueError("build the network's model first: n.optimize.create_model(), or pass build as extra_functionality")
        sns = n.snapshots if snapshots is None else pd.Index(snapshots)
        if isinstance(sns, pd.MultiIndex):
            raise ValueError("multi-period PyPSA networks are not supported: optimise one period's snapshots")
        weightings = n.snapshot_weightings.generators.reindex(sns)
        grid_limit = xr.DataArray(self.grid_limit_kw, dims="site", coords={"site": self.inputs.site.values})
        block = add_msrc(
            model, self.inputs, self.prefix, snapshots=sns.rename("snapshot"), snapshot_weightings_h=weightings.to_numpy(),
            separator=SEPARATOR, grid_limit_kw=grid_limit, **self.block_options,
        )
        sink_p = model.variables["Generator-p"].sel(name=list(self.sinks.values))
        sink_p = sink_p.assign_coords(name=list(self.sinks.index)).rename(name="site")
        # the sink consumes what the site imports: p (MW, negative) = -P_grid (kW) / 1000
        model.add_constraints(KW_PER_MW * sink_p + block.grid_import == 0, name=f"{self.prefix}{SEPARATOR}pypsa_coupling")
        cost = block.cost(self.energy_value_per_kwh)
        model.add_objective(model.objective.expression + cost, overwrite=True)
        self.block = block
        return block

    def _built(self) -> MSRCBlock:
        if self.block is None:
            raise ValueError("the cluster is not in a model yet: call build(n) after n.optimize.create_model()")
        return self.block

    def solution(self) -> xr.Dataset:
        """The block's solution (kW, kWh; see :meth:`msrc_model.formulation.MSRCBlock.solution`)."""
        return self._built().solution()

    def fix_and_resolve(self, n: pypsa.Network, **solve_options: Any) -> tuple[str, str]:
        """Relax-and-fix: hold the block's binaries at the MILP solution and solve again as an LP.

        The second solve has the same dispatch and gives the network its
        duals (``n.buses_t.marginal_price``), which a MILP does not have.
        The binaries stay fixed; ``block.unfix_integers()`` frees them.
        Returns PyPSA's (status, condition).
        """
        block = self._built()
        own = {variable.name for variable in block.integer_variables().values()}
        remaining = [
            name for name, variable in n.model.variables.items()
            if (variable.attrs.get("binary") or variable.attrs.get("integer")) and name not in own
        ]
        if remaining:
            raise ValueError(f"the network has integer variables of its own ({', '.join(remaining[:3])}); fix them too before resolving")
        block.fix_integers()
        return n.optimize.solve_model(**solve_options)


def attach_msrc(
    n: pypsa.Network,
    inputs: xr.Dataset,
    bus: str,
    *,
    site_buses: bool = False,
    link_efficiency: float = 1.0,
    name: str = "MSRC",
    prefix: str = "msrc",
    carrier: str = "MSRC cluster",
    energy_value_per_kwh: float = 0.0,
    **block_options: Any,
) -> MSRCCluster:
    """Attach an MSRC cluster to a PyPSA network at ``bus`` (before the model is built).

    Parameters
    ----------
    n:
        The host network.
    inputs:
        The cluster's inputs Dataset (:func:`msrc_model.build_inputs`).
    bus:
        The host's bus that supplies the cluster.
    site_buses:
        Give every site a bus of its own, fed from ``bus`` by a link of
        ``link_efficiency``; otherwise the sites' sinks sit at ``bus``.
    link_efficiency:
        Efficiency of the links into the site buses (0 < eta <= 1).
    name:
        Prefix of the PyPSA component names (``"MSRC A"``, ``"MSRC A supply"``).
    prefix:
        Prefix of the block's linopy names (``msrc:mode``). With the colon
        PyPSA never takes them for ``Component-attr`` names, whatever the prefix.
    carrier:
        Carrier of the added components.
    energy_value_per_kwh:
        Value (currency/kWh) on the battery energy left at the end; with
        ``final_battery`` (``"cyclic"``, ``"at_least_initial"``) among the
        block options, the alternative that keeps a cost-minimising host from
        emptying the batteries for free.
    block_options:
        Further arguments of :func:`msrc_model.formulation.add_msrc`
        (``aggregate``, ``traffic``, ``final_battery``, ``initial_battery_kwh``, ...),
        over :data:`HOST_DEFAULTS`.
        Time comes from the network's snapshots and weightings; ``snapshots``,
        ``time_dim``, ``step_s``, ``max_duration_s``, ``grid_limit_kw`` and
        ``separator`` are set here.
    """
    if not isinstance(n, pypsa.Network):
        raise ValueError(f"attach_msrc: n must be a pypsa.Network, got {type(n).__name__}")
    if bus not in n.buses.index:
        raise ValueError(f"attach_msrc: the network has no bus {bus!r}")
    if not 0.0 < float(link_efficiency) <= 1.0:
        raise ValueError(f"attach_msrc: link_efficiency must be in (0, 1], got {link_efficiency}")
    if not prefix or SEPARATOR in prefix or "-" in prefix:
        raise ValueError(f"attach_msrc: prefix {prefix!r} must be non-empty, without '-' or '{SEPARATOR}'")
    set_here = {"snapshots", "time_dim", "step_s", "max_duration_s", "snapshot_weightings_h", "grid_limit_kw", "separator"}
    clash = sorted(set_here & set(block_options))
    if clash:
        raise ValueError(f"attach_msrc: {', '.join(clash)} come from the network; leave them out")
    if "site" not in inputs.dims:
        raise ValueError("attach_msrc: inputs must be an inputs Dataset (xarray.open_dataset(path, group=\"inputs\") for a results file)")
    sites = [str(s) for s in inputs.site.values]
    # the most a site can import (kW): its peak power, its battery charging and its EVs charging at once
    peak_kw = np.full(len(sites), site_power_ceiling_kw(inputs) + float(inputs.battery_max_charge_kw) + float(inputs.ev_v2x_limit_kw))
    names = pd.Series({s: f"{name} {s}" for s in sites})
    taken = [c for c in names if c in n.generators.index or c in n.buses.index]
    if taken:
        raise ValueError(f"attach_msrc: the network already has components named {taken[0]!r}; choose another name")
    if carrier not in n.carriers.index:
        n.add("Carrier", carrier)
    for site, sink in names.items():
        at = bus
        i = sites.index(site)
        if site_buses:
            at = sink
            n.add("Bus", at, carrier=n.buses.at[bus, "carrier"])
            n.add("Link", f"{sink} supply", bus0=bus, bus1=at, efficiency=float(link_efficiency),
                  p_nom=peak_kw[i] / float(link_efficiency) / KW_PER_MW, carrier=carrier)
        n.add("Generator", sink, bus=at, p_nom=peak_kw[i] / KW_PER_MW, p_min_pu=-1.0, p_max_pu=0.0, marginal_cost=0.0, carrier=carrier)
    return MSRCCluster(inputs, names, prefix, float(energy_value_per_kwh), peak_kw, {**HOST_DEFAULTS, **block_options})
