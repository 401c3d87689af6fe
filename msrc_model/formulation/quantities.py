"""Units and meaning of every variable and named expression the blocks add (by short name).

:meth:`msrc_model.formulation.MSRCBlock.solution` labels its Dataset from this
table; a block quantity missing here is a defect (a test checks it).
"""

from __future__ import annotations

#: short name -> (units, long_name)
QUANTITIES: dict[str, tuple[str, str]] = {
    # cooperation (Eqs. 5, 18-25)
    "mode": ("1", "cooperation mode indicator gamma_{i,m} (Eq. 19)"),
    "mode_active": ("1", "cooperation mode indicator gamma_{i,m} (Eq. 19)"),
    "dark": ("1", "site out of energy: no mode, no carrier, no power"),
    "awake": ("1", "site awake: in a mode other than sleep, not dark"),
    "mode_switch": ("1", "entry into a mode, theta_{i,m} (Eq. 18)"),
    "band_on": ("1", "carrier active z_i^(b) (Eqs. 24-25)"),
    "link": ("1", "cooperation link y_ij on an undirected edge (Eqs. 22-23)"),
    "link_active": ("1", "cooperation link y_ij on an undirected edge (Eqs. 22-23)"),
    "link_at_arc": ("1", "cooperation link y_ij on a directed arc helper -> client (Eq. 23)"),
    "helping_capacity": ("Mbit/s", "active capacity of a helping site, gamma_help sum_b z C^(b) (Eq. 9)"),
    # traffic (Eqs. 6-11)
    "association": ("1", "association x_{i,u}: share of the demand entity the site serves (Eq. 6)"),
    "band_share": ("1", "band share chi_{i,u}^(b) given to the pair (Eq. 8)"),
    "pair_band_traffic": ("Mbit/s", "traffic of the pair on a band, its rate per share times chi (Eq. 8)"),
    "pair_rate": ("Mbit/s", "rate the site delivers to the demand entity r_{i,u} (Eq. 8)"),
    "served_share": ("1", "share of the demand entity served, sum_i x_{i,u} (Eq. 6)"),
    "sla_shortfall": ("1", "share of the SLA obligation not served (slack of Eq. 10)"),
    "band_flow": ("Mbit/s", "traffic the site carries on the band nu_i^(b) (Eqs. 9, 11)"),
    "band_traffic": ("Mbit/s", "traffic the site carries on the band nu_i^(b) (Eq. 11)"),
    "band_utilisation": ("1", "resource-block utilisation rho_i^(b) (Eq. 11)"),
    "carrier_set": ("1", "share of the step the site spends in normal mode on a carrier set (Eq. 24)"),
    "offload": ("Mbit/s", "client traffic a helper carries on the arc f_ij (Eqs. 6, 9, 20-23)"),
    "site_served_mbps": ("Mbit/s", "traffic the site serves, its own and taken over"),
    "site_weighted_service": ("1/s", "weighted service of the site, sum w_u r_u / D_u"),
    # power and energy (Eqs. 2-4, 12-17)
    "site_power": ("kW", "site power P_i^total (Eq. 4)"),
    "battery_charge": ("kW", "battery charging power P_ch at the site bus (Eq. 13)"),
    "battery_discharge": ("kW", "battery discharging power P_dis at the site bus (Eq. 13)"),
    "battery_charging": ("1", "battery charging (1) or discharging (0) (Sec. II-D-1)"),
    "battery_energy": ("kWh", "battery energy at the end of the step (Eq. 12)"),
    "battery_power": ("kW", "net battery discharge power at the site bus"),
    "ev_discharge": ("kW", "V2G power from the EV at the site bus (Eq. 15)"),
    "ev_charge": ("kW", "charging power into the EV at the site bus (Eq. 15)"),
    "ev_energy": ("kWh", "energy in the EV battery at the end of the step (Eq. 14)"),
    "ev_fleet_power": ("kW", "V2G power from the site's parked EV fleet (Eqs. 14-15)"),
    "ev_power": ("kW", "net V2G power from the EVs to the site (Eq. 15)"),
    "grid_import": ("kW", "power from the grid or the host into the site, P_grid (Eq. 17)"),
    # objectives (Eqs. 18, 26, 27)
    "network_alive": ("1", "network alive n(t): every site powered (Eq. 18)"),
    "survival_time_h": ("h", "network survival time T_surv^min (Eq. 18)"),
    "eq26_min_remaining_time": ("h", "least remaining battery time over sites (Eq. 26)"),
    "eq26_min_remaining_time_h": ("h", "least remaining battery time over sites (Eq. 26)"),
    "eq27_utility": ("1", "log utility phi_u of the served ratio (Eq. 27)"),
    "eq27_served_ratio": ("1", "served ratio r_u / D_u of a user, summed over its pairs (Eq. 27)"),
    "v2g_cost": ("currency", "cost of the V2G energy at the Eq. 16 price"),
}


def quantity_attrs(short: str) -> tuple[str, str]:
    """(units, long_name) of a block quantity; the scaled Eq. 18 terms (``objective_*``) are dimensionless."""
    if short in QUANTITIES:
        return QUANTITIES[short]
    if short.startswith("objective_"):
        return "1", f"scaled {short.removeprefix('objective_')} term of Eq. 18"
    raise KeyError(f"no units recorded for block quantity {short!r}")
