"""Cooperation modes, band activation and cooperation links (Eqs. 5, 19-25).

Variables (per site and time unless said):

``mode`` gamma_{i,m}(t)
    binary, one of normal / helping / assisted / sleep (Sec. II-A);
``dark``
    binary, the site is out of energy: no mode, no band, no power (the fifth
    state the outage simulation needs; fixed to 0 unless allowed);
``band_on`` z_i^(b)(t)
    binary carrier activation;
``link`` y_ij(t)
    cooperation link on each undirected edge of the cooperation graph,
    continuous in [0, 1] and exact (see ``add_cooperation``);
``mode_switch``
    continuous >= 0, entries into a mode (theta of Eq. 18).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..physics import ASSISTED, DARK, HELPING, MODES, NORMAL, SLEEP
from .context import Context, pick, total_by
from .data import mode_onehot


def mode_of(ctx: Context, m: int):
    """gamma_{i,m}(t) for one mode: a variable slice, or data when modes are fixed."""
    return ctx.expressions["gamma"].sel(mode=MODES[m], drop=True)


def fixed_mode_data(fixed_modes: xr.DataArray, time_dim: str = "time") -> dict[str, xr.DataArray]:
    """gamma (site, mode, time), dark and awake (site, time) as data from (site, time) mode codes 0-3, or 4 for dark."""
    fixed = fixed_modes.transpose("site", time_dim)
    gamma = mode_onehot(fixed).transpose("site", "mode", time_dim)
    dark = (fixed == DARK).astype(float)
    return {"gamma": gamma, "dark": dark, "awake": 1.0 - gamma.sel(mode=MODES[SLEEP], drop=True) - dark}


def band_on_bounds(data: xr.Dataset, gamma: xr.DataArray, awake: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """(lower, upper) of the carrier activation z (site, band, time) under fixed modes: Eqs. 5, 24 (sleep side) and 25.

    A helper keeps its widest band on (Eq. 5), an assisted site only its low bands (Eq. 25), a site
    asleep or dark none (Eq. 24).
    """
    high = ~data.band_assisted.astype(bool)
    widest = data.band == data.band.values[int(np.argmax(data.band_reach_m.values))]
    upper = awake * (1.0 - high * gamma.sel(mode=MODES[ASSISTED], drop=True))
    lower = widest * gamma.sel(mode=MODES[HELPING], drop=True)
    return lower, upper


def add_modes(
    ctx: Context,
    fixed_modes: xr.DataArray | None = None,
    allow_dark: bool = False,
    initial_mode: xr.DataArray | None = None,
    fixed_dark: xr.DataArray | None = None,
) -> None:
    """Modes, dark state, Eq. 19 and the mode-switch counter of Eq. 18.

    Parameters
    ----------
    fixed_modes:
        Optional (site, time) integers 0-3 (a mode) or 4 (dark): the modes
        are then data (Stage 2), held by equal bounds.
    allow_dark:
        Let the optimiser mark a site dark (the full-horizon plan).
    initial_mode:
        Mode of each site before the first step (default normal), for the
        switch counter.
    fixed_dark:
        Optional (site,) bool: sites already out of energy, dark throughout.
    """
    t = ctx.time_dim
    if fixed_modes is not None:
        # modes are data (Stage 2): no mode variables, Eqs. 19-23 hold for the given modes
        ctx.expressions.update(fixed_mode_data(fixed_modes, t))
        return
    gamma = ctx.add_variables("mode", ("site", "mode", t), binary=True)
    if fixed_dark is None:
        dark = ctx.add_variables("dark", ("site", t), lower=0.0, upper=1.0 if allow_dark else 0.0, integer=True)
    else:
        already = xr.ones_like(ctx.data[t], dtype=float) * fixed_dark.astype(float)
        dark = ctx.add_variables("dark", ("site", t), lower=already, upper=xr.ones_like(already) if allow_dark else already, integer=True)
    ctx.expressions["gamma"], ctx.expressions["dark"] = gamma, dark
    ctx.add_constraints("eq19_one_mode", gamma.sum("mode") + dark == 1)

    if initial_mode is None:
        initial_mode = xr.DataArray(np.full(ctx.data.sizes["site"], NORMAL), dims="site", coords={"site": ctx.data.site})
    initial = mode_onehot(initial_mode)
    switch = ctx.add_variables("mode_switch", ("site", "mode", t), lower=0.0, upper=1.0)
    first = ctx.data[t].values[0]
    ctx.add_constraints(
        "eq18_mode_switch_first", switch.sel({t: [first]}) - gamma.sel({t: [first]}) >= -initial
    )
    if ctx.data.sizes[t] > 1:
        ctx.add_constraints("eq18_mode_switch", switch - gamma + gamma.shift({t: 1}) >= 0)
    ctx.expressions["awake"] = 1 - mode_of(ctx, SLEEP) - dark


def add_cooperation(ctx: Context) -> None:
    """Eqs. 20-23: who may help whom, and the cooperation links."""
    data, t = ctx.data, ctx.time_dim
    sites = ctx.index("site")
    helper = data.edge_helper
    assisted = data.edge_assisted
    helper_label = ctx.labelled(helper, "site")
    assisted_label = ctx.labelled(assisted, "site")
    helping = mode_of(ctx, HELPING)
    client = mode_of(ctx, ASSISTED) + mode_of(ctx, SLEEP)  # a site that needs help

    if data.sizes["edge"] == 0:  # no neighbours: nobody can help or be helped (Eqs. 20-21)
        ctx.add_constraints("eq20_helper_needs_client", helping <= 0)
        ctx.add_constraints("eq21_client_needs_helper", client <= 0)
        return
    client_at_arc = pick(client, "site", assisted)
    helping_at_arc = pick(helping, "site", helper)
    ctx.add_constraints("eq20_helper_needs_client", helping - total_by(client_at_arc, helper_label, sites) <= 0)
    capable = helping_at_arc.where(data.kappa_ok)
    ctx.add_constraints(
        "eq21_client_needs_helper", client - total_by(capable.fillna(0), assisted_label, sites) <= 0
    )

    # one link variable per undirected edge: the arc with helper < assisted
    forward = np.flatnonzero(helper.values < assisted.values)
    link_of_arc = np.empty(data.sizes["edge"], dtype=int)
    link_of_arc[forward] = np.arange(len(forward))
    link_of_arc[data.edge_reverse.values[forward]] = np.arange(len(forward))
    ctx.data = ctx.data.assign_coords(link=("link", np.arange(len(forward)), {"long_name": "undirected cooperation edge"}))
    ctx.data["link_site_a"] = ("link", helper.values[forward])
    ctx.data["link_site_b"] = ("link", assisted.values[forward])
    # continuous is exact: at binary modes every bound on a link is 0 or 1 and no objective term prices it
    link = ctx.add_variables("link", ("link", t), lower=0.0, upper=1.0)
    link_index = xr.DataArray(link_of_arc, dims="edge", coords={"edge": data.edge})
    link_at_arc = pick(link, "link", link_index)
    ctx.expressions["link_at_arc"] = link_at_arc

    ctx.add_constraints("eq22_link_limit", total_by(link_at_arc, helper_label, sites) <= float(data.max_links))
    ctx.add_constraints("eq23_link_if_helping", link_at_arc - helping_at_arc - client_at_arc >= -1)
    # Eq. 23 bounds links from below only: a link nothing needs may read 1 in
    # the solution; results report the links the modes require.


def add_band_activation(ctx: Context, integer: bool = True) -> None:
    """Band activation z and its coupling to the modes (Eqs. 5, 24, 25).

    With the modes fixed and ``integer=False``, z is the continuous share of
    a carrier's activation (the LP relaxation a fast Stage 2 solves).
    """
    data, t = ctx.data, ctx.time_dim
    awake = ctx.expressions["awake"]
    high = ~data.band_assisted.astype(bool)
    widest = data.band == data.band.values[int(np.argmax(data.band_reach_m.values))]
    if isinstance(awake, xr.DataArray):
        # fixed modes: Eqs. 5, 24 (sleep side) and 25 are bounds on z
        lower, upper = band_on_bounds(data, ctx.expressions["gamma"], awake)
        z = ctx.add_variables("band_on", ("site", "band", t), lower=lower, upper=upper, integer=integer)
        ctx.add_constraints("eq24_awake_needs_band", z.sum("band") >= awake)
        return
    z = ctx.add_variables("band_on", ("site", "band", t), binary=True)
    ctx.add_constraints("eq24_awake_needs_band", z.sum("band") - awake >= 0)
    # big-M forms of Eqs. 24-25 with M the number of bands concerned (data-derived)
    ctx.add_constraints("eq24_sleep_bands_off", z.sum("band") - data.sizes["band"] * awake <= 0)
    if bool(high.any()):
        count = int(high.sum())
        ctx.add_constraints(
            "eq25_assisted_low_bands", z.sel(band=data.band.values[high.values]).sum("band") + count * mode_of(ctx, ASSISTED) <= count
        )
    ctx.add_constraints(
        "eq5_helping_band", z.sel(band=data.band.values[widest.values][0], drop=True) - mode_of(ctx, HELPING) >= 0
    )
