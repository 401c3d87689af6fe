"""The physics of a base-station cluster on batteries, once, in plain numpy and xarray.

Every other layer calls these functions; none re-derives what they compute.
No optimisation code is imported here (no linopy).

========================  ===============================================
module                    what it defines
========================  ===============================================
``modes``                 the mode codes (normal, helping, assisted, sleep, dark)
``coverage``              each user's home site, coverage per mode (Eqs. 5-6)
``power``                 site power (Eqs. 2-4), traffic split over carriers
``storage``               battery and EV limits and efficiencies (Eqs. 12-15)
``price``                 the V2G price (Eq. 16)
``service``               SINR (Eq. 7), Shannon rates (Eq. 8), the band scheduler (Eqs. 8-11)
========================  ===============================================

The functions read the inputs Dataset (:func:`msrc_model.build_inputs`) or
model data made from it; both carry the same variables.
"""

from .coverage import home_site, pair_mode_coverage
from .modes import ASSISTED, DARK, HELPING, MODE_NAMES, MODES, NORMAL, SLEEP, awake, needs_helper
from .power import (
    SitePowerModel,
    band_power_coefficients,
    band_traffic_mbps,
    reference_site_power_kw,
    site_power_ceiling_kw,
    site_power_kw,
)
from .price import remaining_time_h, v2g_cost_scale_per_h, v2g_price_per_kwh
from .service import (
    RadioChannel,
    best_servers,
    carrier_totals,
    deliver,
    schedule_rates,
    shannon_spectral_efficiency,
    transmitting_carriers,
)
from .storage import (
    BatteryLimits,
    EVLimits,
    battery_floor_kwh,
    battery_initial_kwh,
    ev_arrival_kwh,
    ev_bus_limits_kw,
    ev_reserve_kwh,
    peak_supply_kw,
    usable_energy_kwh,
)

__all__ = [
    "ASSISTED",
    "DARK",
    "HELPING",
    "MODES",
    "MODE_NAMES",
    "NORMAL",
    "SLEEP",
    "BatteryLimits",
    "RadioChannel",
    "SitePowerModel",
    "best_servers",
    "carrier_totals",
    "deliver",
    "schedule_rates",
    "shannon_spectral_efficiency",
    "transmitting_carriers",
    "EVLimits",
    "awake",
    "band_power_coefficients",
    "site_power_ceiling_kw",
    "band_traffic_mbps",
    "battery_floor_kwh",
    "battery_initial_kwh",
    "ev_arrival_kwh",
    "ev_bus_limits_kw",
    "ev_reserve_kwh",
    "home_site",
    "needs_helper",
    "peak_supply_kw",
    "pair_mode_coverage",
    "reference_site_power_kw",
    "remaining_time_h",
    "site_power_kw",
    "usable_energy_kwh",
    "v2g_cost_scale_per_h",
    "v2g_price_per_kwh",
]
