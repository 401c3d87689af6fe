"""Site batteries and parked EVs: limits and efficiencies (Eqs. 12-15).

Energies are kWh in the battery; powers are kW at the site bus. A battery
gives ``eta_dis`` kWh at the bus per kWh it loses and never goes below
SOC_min E_SB; it stores ``eta_ch`` kWh per kWh it takes from the bus, at most
P_ch^max, and never goes above SOC_max E_SB (Eqs. 12-13). In an outage the
only source that can charge it is the parked EVs' surplus over the site's
load (Sec. II-D: "when excess EV energy is available, it can also be
recharged from the fleet"); an EV gives ``eta_ev`` kWh per kWh it loses and
never goes below its driver's reserve, SOC_e^min E_e^nom, or its energy on
arrival if that is lower (Eq. 14); the EVs of a site give at most the site's
V2X limit together (Eq. 15).

:class:`BatteryLimits` and :class:`EVLimits` hold these numbers for a
realisation as numpy arrays; the formulation reads the same numbers through
:func:`battery_floor_kwh` and :func:`ev_reserve_kwh`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr


def battery_initial_kwh(data: xr.Dataset) -> xr.DataArray:
    """SOC_0 E_SB per site, kWh: the battery energy at the outage start."""
    return (data.battery_soc_initial * data.battery_capacity_kwh).assign_attrs(units="kWh", long_name="battery energy at the outage start")


def ev_arrival_kwh(data: xr.Dataset) -> xr.DataArray:
    """Per EV, kWh: the energy it brings when it parks."""
    return (data.ev_soc_initial * data.ev_capacity_kwh).assign_attrs(units="kWh", long_name="EV energy on arrival")


def battery_floor_kwh(data: xr.Dataset) -> xr.DataArray:
    """SOC_min E_SB per site, kWh: the energy a battery keeps (Eq. 13)."""
    return (float(data.battery_soc_min) * data.battery_capacity_kwh).assign_attrs(units="kWh", long_name="battery energy floor SOC_min E_SB")


def ev_reserve_kwh(data: xr.Dataset) -> xr.DataArray:
    """Per EV, kWh: the driver's reserve SOC_e^min E_e^nom, or the energy on arrival if lower (Eq. 14)."""
    soc = xr.where(data.ev_soc_min < data.ev_soc_initial, data.ev_soc_min, data.ev_soc_initial)
    return (soc * data.ev_capacity_kwh).assign_attrs(units="kWh", long_name="EV energy kept for the driver")


def peak_supply_kw(data: xr.Dataset) -> float:
    """The most power (kW) the cluster's stores can give at once: every battery at P_dis^max and every site's V2X limit."""
    return (float(data.battery_max_discharge_kw) + float(data.ev_v2x_limit_kw)) * data.sizes["site"]


def usable_energy_kwh(energy_kwh, floor_kwh, efficiency):
    """Energy (kWh at the bus) a store holds above its floor: ``max(E - E_floor, 0) eta``."""
    return np.maximum(energy_kwh - floor_kwh, 0.0) * efficiency


@dataclass(frozen=True)
class BatteryLimits:
    """The site batteries of a realisation (per site, numpy)."""

    capacity_kwh: np.ndarray
    initial_kwh: np.ndarray
    floor_kwh: np.ndarray
    ceiling_kwh: np.ndarray
    discharge_efficiency: float
    charge_efficiency: float
    max_discharge_kw: float
    max_charge_kw: float

    @classmethod
    def from_data(cls, data: xr.Dataset) -> BatteryLimits:
        capacity = data.battery_capacity_kwh.values
        return cls(
            capacity_kwh=capacity,
            initial_kwh=battery_initial_kwh(data).values,
            floor_kwh=battery_floor_kwh(data).values,
            ceiling_kwh=float(data.battery_soc_max) * capacity,
            discharge_efficiency=float(data.battery_discharge_efficiency),
            charge_efficiency=float(data.battery_charge_efficiency),
            max_discharge_kw=float(data.battery_max_discharge_kw),
            max_charge_kw=float(data.battery_max_charge_kw),
        )

    def usable_kwh(self, energy_kwh: np.ndarray) -> np.ndarray:
        """Energy each battery can still give at the bus, kWh."""
        return usable_energy_kwh(energy_kwh, self.floor_kwh, self.discharge_efficiency)

    def available_kw(self, energy_kwh: np.ndarray, step_h: float) -> np.ndarray:
        """Power (kW at the bus) each battery can hold for a step of ``step_h`` hours above SOC_min."""
        return np.minimum(self.max_discharge_kw, self.usable_kwh(energy_kwh) / step_h)

    def charge_room_kw(self, energy_kwh: np.ndarray, step_h: float) -> np.ndarray:
        """Power (kW at the bus) each battery can take for a step of ``step_h`` hours below SOC_max."""
        room_kwh = np.maximum(self.ceiling_kwh - energy_kwh, 0.0)
        return np.minimum(self.max_charge_kw, room_kwh / (self.charge_efficiency * step_h))

    def energy_after(self, energy_kwh: np.ndarray, bus_kw: np.ndarray, step_h: float) -> np.ndarray:
        """Battery energy (kWh) after giving ``bus_kw`` at the bus for ``step_h`` hours (Eq. 12).

        Negative ``bus_kw`` charges: the battery stores ``eta_ch`` of what it takes.
        """
        given = np.maximum(bus_kw, 0.0)
        taken = np.maximum(-bus_kw, 0.0)
        return energy_kwh - given * step_h / self.discharge_efficiency + taken * step_h * self.charge_efficiency


def ev_bus_limits_kw(max_power_kw: float, efficiency: float) -> tuple[float, float]:
    """Per EV, the largest discharge and charge power at the site bus, kW.

    The per-EV limit P_max applies at the EV battery: discharging, the bus
    gets eta P_max; charging, the bus gives P_max / eta for the battery to
    store P_max.
    """
    return max_power_kw * efficiency, max_power_kw / max(efficiency, 1e-12)


@dataclass(frozen=True)
class EVLimits:
    """The EVs of a realisation (per EV, numpy) and the sites' V2X limit."""

    site: np.ndarray
    initial_kwh: np.ndarray
    reserve_kwh: np.ndarray
    efficiency: float
    max_power_kw: float
    v2x_limit_kw: float
    n_site: int

    @classmethod
    def from_data(cls, data: xr.Dataset) -> EVLimits:
        return cls(
            site=data.ev_site.values,
            initial_kwh=ev_arrival_kwh(data).values,
            reserve_kwh=ev_reserve_kwh(data).values,
            efficiency=float(data.ev_efficiency),
            max_power_kw=float(data.ev_max_power_kw),
            v2x_limit_kw=float(data.ev_v2x_limit_kw),
            n_site=data.sizes["site"],
        )

    @property
    def max_bus_kw(self) -> float:
        """Largest V2G power of one EV at the site bus, kW: P_max applies at the EV battery (see :func:`ev_bus_limits_kw`)."""
        return ev_bus_limits_kw(self.max_power_kw, self.efficiency)[0]

    def usable_kwh(self, energy_kwh: np.ndarray) -> np.ndarray:
        """Energy each EV can still give at the bus above its reserve, kWh."""
        return usable_energy_kwh(energy_kwh, self.reserve_kwh, self.efficiency)

    def available_kw(self, energy_kwh: np.ndarray, parked: np.ndarray, step_h: float) -> tuple[np.ndarray, np.ndarray]:
        """Per EV and per site, the V2G power (kW at the bus) parked EVs can hold for one step (Eqs. 14-15)."""
        per_ev = np.where(parked, np.minimum(self.max_bus_kw, self.usable_kwh(energy_kwh) / step_h), 0.0)
        per_site = np.minimum(np.bincount(self.site, weights=per_ev, minlength=self.n_site), self.v2x_limit_kw)
        return per_ev, per_site

    def energy_drawn_kwh(self, bus_kw: np.ndarray, step_h: float) -> np.ndarray:
        """Energy (kWh) EVs lose to give ``bus_kw`` at the bus for ``step_h`` hours."""
        return bus_kw * step_h / self.efficiency
