"""Base-station power (Eqs. 2-4) as a linear expression per site and time, in kW.

The same sum as :func:`msrc_model.physics.site_power_kw`, with the carriers
z, the RB utilisation rho and the band traffic nu as decisions:

``P_i = scale [ sum_b (a^(b) z + u^(b) rho + c^(b) nu) + sum_b P_std^(b) (awake - z) + P_sleep gamma_sleep ]``

with the per-band coefficients a, u, c of Eq. 2 from
:func:`msrc_model.physics.band_power_coefficients`. A dark site draws
nothing. Eq. 3 (effective traffic under cooperation) needs no separate term:
nu already counts the users a site serves, its own and the ones it took over.
"""

from __future__ import annotations

import xarray as xr

from ..physics import MODES, SLEEP, band_power_coefficients
from .context import Context


def add_site_power(ctx: Context) -> None:
    """The ``site_power`` expression (kW) of Eqs. 2-4."""
    data = ctx.data
    z = ctx.variables["band_on"]
    active_kw, utilisation_kw, traffic_kw_per_mbps = band_power_coefficients(data)
    band_power = (
        active_kw * z
        + utilisation_kw * ctx.expressions["band_utilisation"]
        + traffic_kw_per_mbps * ctx.expressions["band_traffic"]
    ).sum("band")
    awake, gamma = ctx.expressions["awake"], ctx.expressions["gamma"]
    if isinstance(awake, xr.DataArray):
        # fixed modes: standby and deep sleep are a constant per site, the same as site_power_constant_kw
        standby = -(data.power_standby_kw * z).sum("band")
        ctx.expressions["site_power"] = float(data.power_scale) * (band_power + standby) + site_power_constant_kw(data, gamma, awake)
        return
    standby = (data.power_standby_kw * (awake - z)).sum("band")
    sleep = float(data.power_deep_sleep_kw) * gamma.sel(mode=MODES[SLEEP], drop=True)
    ctx.expressions["site_power"] = float(data.power_scale) * (band_power + standby + sleep)


def site_power_constant_kw(data: xr.Dataset, gamma: xr.DataArray, awake: xr.DataArray) -> xr.DataArray:
    """The part of Eqs. 2-4 the fixed modes decide (kW, site x time): standby of every band while awake, deep sleep.

    ``scale (sum_b P_std^(b) awake + P_sleep gamma_sleep)``; the carriers subtract their standby from it.
    """
    standby = (data.power_standby_kw * awake).sum("band")
    sleep = float(data.power_deep_sleep_kw) * gamma.sel(mode=MODES[SLEEP], drop=True)
    return float(data.power_scale) * (standby + sleep)
