"""Site power, Eqs. 2-4, in kW.

Per band b, summed over the site's S sectors (traffic split evenly, so each
sector sees the site's utilisation rho and 1/S of its traffic nu):

``P^(b) = S (beta_0 + beta_5 P_TX + beta_6 L) z + S (beta_1 + u beta_2) rho + (beta_3 + u beta_4) nu``

with u the uplink-to-downlink ratio (uplink traffic and utilisation follow
the downlink). Eq. 4 adds the standby power of switched-off carriers at awake
sites and the deep-sleep power, and scales the total by the calibration
factor ``power_scale``:

``P_i = scale [ sum_b P^(b) + sum_b P_std^(b) (awake - z) + P_sleep gamma_sleep ]``

A dark site draws nothing. Eq. 3 (effective traffic under cooperation) needs
no term of its own: nu counts every user a site serves, its own and those it
took over. The formulation (:mod:`msrc_model.formulation.power`) writes the
same sum with decision variables, from :func:`band_power_coefficients`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .coverage import home_site


def band_power_coefficients(data: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Per band: kW of an active carrier, kW per unit RB utilisation, kW per Mbit/s (Eq. 2, before ``power_scale``).

    The three parts of Eq. 2 summed over the site's sectors, as DataArrays over ``band``.
    """
    sectors = float(data.sectors_per_site)
    uplink = float(data.uplink_ratio)
    active_kw = sectors * (
        data.power_static_kw
        + data.power_tx_power_kw_per_w * data.tx_power_w
        + data.power_feeder_loss_kw_per_db * data.feeder_loss_db
    )
    utilisation_kw = sectors * (data.power_dl_utilisation_kw + uplink * data.power_ul_utilisation_kw)
    traffic_kw_per_mbps = data.power_dl_traffic_kw_per_mbps + uplink * data.power_ul_traffic_kw_per_mbps
    return (
        active_kw.assign_attrs(units="kW", long_name="power of an active carrier over the site's sectors (Eq. 2)"),
        utilisation_kw.assign_attrs(units="kW", long_name="power per unit RB utilisation (Eq. 2)"),
        traffic_kw_per_mbps.assign_attrs(units="kW/(Mbit/s)", long_name="power per Mbit/s carried (Eq. 2)"),
    )


def site_power_ceiling_kw(data: xr.Dataset) -> float:
    """The most a site draws (kW, Eq. 4): every carrier on, fully utilised and carrying its capacity."""
    active_kw, utilisation_kw, traffic_kw_per_mbps = band_power_coefficients(data)
    return float(data.power_scale) * float((active_kw + utilisation_kw + traffic_kw_per_mbps * data.capacity_mbps).sum("band"))


def band_traffic_mbps(site_traffic_mbps: np.ndarray, band_on: np.ndarray, capacity_mbps: np.ndarray) -> np.ndarray:
    """(site, band) Mbit/s: each site's traffic split over its active carriers in proportion to their capacity."""
    band_on = np.asarray(band_on, dtype=bool)
    on_capacity = (band_on * capacity_mbps).sum(axis=1)
    split = np.asarray(site_traffic_mbps)[:, None] * band_on * capacity_mbps / np.maximum(on_capacity[:, None], 1e-12)
    return np.where(on_capacity[:, None] > 0, split, 0.0)


@dataclass(frozen=True)
class SitePowerModel:
    """Eqs. 2-4 with the coefficients read once from the data (numpy), for callers that evaluate it every step."""

    active_kw: np.ndarray  # (band,) kW of an active carrier
    utilisation_kw: np.ndarray  # (band,) kW per unit RB utilisation
    traffic_kw_per_mbps: np.ndarray  # (band,) kW per Mbit/s
    capacity_mbps: np.ndarray  # (band,) C^(b), Mbit/s
    standby_kw: np.ndarray  # (band,) P_std, kW
    deep_sleep_kw: float  # P_sleep, kW
    scale: float  # calibration factor

    @classmethod
    def from_data(cls, data: xr.Dataset) -> SitePowerModel:
        active_kw, utilisation_kw, traffic_kw_per_mbps = (c.values for c in band_power_coefficients(data))
        return cls(
            active_kw=active_kw,
            utilisation_kw=utilisation_kw,
            traffic_kw_per_mbps=traffic_kw_per_mbps,
            capacity_mbps=data.capacity_mbps.values.astype(float),
            standby_kw=data.power_standby_kw.values.astype(float),
            deep_sleep_kw=float(data.power_deep_sleep_kw),
            scale=float(data.power_scale),
        )

    def site_kw(
        self,
        band_on: np.ndarray,
        band_traffic: np.ndarray,
        asleep: np.ndarray,
        dark: np.ndarray,
        utilisation: np.ndarray | None = None,
    ) -> np.ndarray:
        """(site,) kW, see :func:`site_power_kw`."""
        band_on = np.asarray(band_on, dtype=bool)
        asleep, dark = np.asarray(asleep, dtype=bool), np.asarray(dark, dtype=bool)  # 0/1 flags too: ~ on integers flips bits
        if utilisation is None:
            utilisation = np.minimum(band_traffic / self.capacity_mbps, 1.0)
        bands = band_on * (self.active_kw + self.utilisation_kw * utilisation + self.traffic_kw_per_mbps * band_traffic)
        standby = (~band_on) * self.standby_kw
        is_awake = ~(asleep | dark)
        power = np.where(is_awake, (bands + standby).sum(axis=1), 0.0) + np.where(asleep & ~dark, self.deep_sleep_kw, 0.0)
        return self.scale * power


def site_power_kw(
    data: xr.Dataset,
    band_on: np.ndarray,
    band_traffic: np.ndarray,
    asleep: np.ndarray,
    dark: np.ndarray,
    utilisation: np.ndarray | None = None,
) -> np.ndarray:
    """Eqs. 2-4: the power (kW) each site draws.

    Parameters
    ----------
    data:
        Inputs or model data (the band power coefficients, capacities, P_std, P_sleep, scale).
    band_on:
        (site, band) bool, carriers switched on (z).
    band_traffic:
        (site, band) Mbit/s carried on each carrier (nu).
    asleep, dark:
        (site,) bool: deep sleep (P_sleep only) and out of energy (nothing).
    utilisation:
        (site, band) RB utilisation rho = sum of the users' band shares (Eq. 11);
        None: nu / C, at most 1 (the site-level estimate).
    """
    return SitePowerModel.from_data(data).site_kw(band_on, band_traffic, asleep, dark, utilisation)


def reference_site_power_kw(data: xr.Dataset) -> xr.DataArray:
    """Power (kW) of each site in normal mode, every carrier on, serving all its home users in full.

    An a-priori estimate (the V2G price of Eq. 16 before any decision, the
    Stage-1 survival denominator); the optimisation and the simulator compute
    the real power.
    """
    home = home_site(data)
    n_sites = data.sizes["site"]
    served = home >= 0  # users with no feasible site belong to no site
    demand = np.bincount(home[served], weights=data.demand_mbps.values[served], minlength=n_sites)
    capacity = data.capacity_mbps.values
    every_band = np.ones((n_sites, capacity.size), dtype=bool)
    traffic = band_traffic_mbps(demand, every_band, capacity)
    awake = np.zeros(n_sites, dtype=bool)
    power = site_power_kw(data, every_band, traffic, asleep=awake, dark=awake)
    return xr.DataArray(power, dims="site", coords={"site": data.site.values}, attrs={"units": "kW", "long_name": "reference site power"})
