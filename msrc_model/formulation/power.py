"""Base-station power (Eqs. 2-4) as a linear expression per site and time, in kW.

Per band, summed over the site's S sectors (traffic split evenly, so each
sector sees the site's utilisation and 1/S of its traffic):

``P^(b) = S (beta_0 + beta_5 P_TX + beta_6 L) z + S (beta_1 + u beta_2) rho + (beta_3 + u beta_4) nu``

with u the uplink-to-downlink ratio (UL traffic and utilisation follow DL),
rho and nu from Eq. 11. Eq. 4 adds standby power of switched-off bands at
awake sites and the deep-sleep power:

``P_i = scale [ sum_b P^(b) + sum_b P_std^(b) (awake - z) + P_sleep gamma_sleep ]``

A dark site draws nothing. Eq. 3 (effective traffic under cooperation) needs
no separate term: nu already counts the users a site serves, its own and the
ones it took over from neighbours.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .data import MODES, SLEEP


def add_site_power(ctx: Context) -> None:
    """The ``site_power`` expression (kW) of Eqs. 2-4."""
    data = ctx.data
    z = ctx.variables["band_on"]
    sectors = float(data.sectors_per_site)
    uplink = float(data.uplink_ratio)
    active_kw = sectors * (
        data.power_static_kw
        + data.power_tx_power_kw_per_w * data.tx_power_w
        + data.power_feeder_loss_kw_per_db * data.feeder_loss_db
    )
    utilisation_kw = sectors * (data.power_dl_utilisation_kw + uplink * data.power_ul_utilisation_kw)
    traffic_kw_per_mbps = data.power_dl_traffic_kw_per_mbps + uplink * data.power_ul_traffic_kw_per_mbps
    band_power = (
        active_kw * z
        + utilisation_kw * ctx.expressions["band_utilisation"]
        + traffic_kw_per_mbps * ctx.expressions["band_traffic"]
    ).sum("band")
    standby = (data.power_standby_kw * (ctx.expressions["awake"] - z)).sum("band")
    sleep = float(data.power_deep_sleep_kw) * ctx.expressions["gamma"].sel(mode=MODES[SLEEP], drop=True)
    ctx.expressions["site_power"] = float(data.power_scale) * (band_power + standby + sleep)


def band_power_coefficients(data) -> tuple:
    """Per band (numpy): kW of an active band at a site, kW per unit RB utilisation, kW per Mbit/s.

    The three parts of Eq. 2 summed over the site's sectors, before ``power_scale``.
    """
    sectors = float(data.sectors_per_site)
    uplink = float(data.uplink_ratio)
    active_kw = sectors * (
        data.power_static_kw.values
        + data.power_tx_power_kw_per_w.values * data.tx_power_w.values
        + data.power_feeder_loss_kw_per_db.values * data.feeder_loss_db.values
    )
    utilisation_kw = sectors * (data.power_dl_utilisation_kw.values + uplink * data.power_ul_utilisation_kw.values)
    traffic_kw_per_mbps = data.power_dl_traffic_kw_per_mbps.values + uplink * data.power_ul_traffic_kw_per_mbps.values
    return active_kw, utilisation_kw, traffic_kw_per_mbps


def site_power_kw(data, band_on, band_traffic_mbps, asleep, dark):
    """Eqs. 2-4 evaluated in numpy: the power (kW) each site draws.

    Parameters
    ----------
    data:
        Inputs or model data (the band power coefficients).
    band_on:
        (site, band) bool, carriers switched on.
    band_traffic_mbps:
        (site, band) Mbit/s carried on each band.
    asleep, dark:
        (site,) bool: deep sleep (P_sleep only) and out of energy (nothing).
    """
    active_kw, utilisation_kw, traffic_kw_per_mbps = band_power_coefficients(data)
    capacity = data.capacity_mbps.values
    band_on = np.asarray(band_on, dtype=bool)
    utilisation = np.minimum(band_traffic_mbps / capacity, 1.0)
    bands = band_on * (active_kw + utilisation_kw * utilisation + traffic_kw_per_mbps * band_traffic_mbps)
    standby = (~band_on) * data.power_standby_kw.values
    awake = ~(asleep | dark)
    power = np.where(awake, (bands + standby).sum(axis=1), 0.0) + np.where(asleep & ~dark, float(data.power_deep_sleep_kw), 0.0)
    return float(data.power_scale) * power
