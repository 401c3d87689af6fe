"""The V2G price of Eq. 16 and the remaining battery time it reads.

``rho(t) = rho_base (1 + alpha_urg exp(-T_rem / tau))``: energy bought from
EVs costs more the sooner the site's battery would run out on its own.
``T_rem`` is the usable battery energy over the site's load (h).

The V2G cost enters the objectives (Eqs. 18, 27 and the dispatch) divided by
:func:`v2g_cost_scale_per_h`, a fixed amount of currency per hour, so that a
higher posted price weighs more against survival and service.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .numeric import exp


def remaining_time_h(usable_kwh, load_kw, min_load_kw: float = 1e-3):
    """Hours the usable battery energy lasts at ``load_kw`` (the load taken as at least ``min_load_kw``)."""
    return usable_kwh / np.maximum(load_kw, min_load_kw)


def v2g_price_per_kwh(data: xr.Dataset, remaining_h):
    """Eq. 16: the V2G price (currency/kWh) at the given remaining battery time(s), h."""
    base = float(data.price_base_per_kwh)
    alpha = float(data.price_urgency_alpha)
    tau_h = float(data.price_urgency_tau_h)
    return base * (1.0 + alpha * exp(-remaining_h / tau_h))


def v2g_cost_scale_per_h(data: xr.Dataset) -> float:
    """Currency per hour that scales the V2G cost terms: rho_ref x P^V2X x N (every site at its V2X limit at the reference price).

    ``rho_ref`` is ``price_cost_reference_per_kwh`` (``pricing.cost_reference_per_kwh``),
    not the largest posted price, which would cancel any change of the price level.
    """
    return float(data.price_cost_reference_per_kwh) * max(float(data.ev_v2x_limit_kw), 1e-9) * data.sizes["site"]
