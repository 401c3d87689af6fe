"""The metrics of the paper's Tables II-IV from a simulation record (defined in ``docs/simulation.md``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..physics import DARK, MODE_NAMES
from .simulator import Record

TABLE3_TIME_H = 2.5  # the paper's Table III instant, h


def _attrs(units: str, long_name: str, **extra) -> dict:
    return {"units": units, "long_name": long_name, **extra}


def outage_metrics(record: Record) -> xr.Dataset:
    """The run's record and metrics as a Dataset (one strategy; no ``strategy`` dimension yet)."""
    w = record.world
    hours = w.times_s / 3600.0
    duration_h = w.n_steps * w.step_h
    dark = record.mode == DARK
    any_dark = dark.any(axis=0)
    first_dark = np.where(any_dark, hours[np.argmax(dark, axis=0)], np.nan)
    survival = float(np.nanmin(first_dark)) if any_dark.any() else duration_h
    all_dark_steps = dark.all(axis=1)
    all_dark = float(hours[np.argmax(all_dark_steps)]) if all_dark_steps.any() else np.nan

    has_demand = w.reference_demand > 0
    reference = np.where(has_demand, w.reference_demand, 1.0)
    share = np.where(has_demand, np.minimum(record.served_class / reference, 1.0), np.nan)  # (time, class); NaN: no users
    total_share = np.minimum(record.served_class.sum(axis=1) / max(w.reference_demand.sum(), 1e-12), 1.0)
    # weighted satisfaction (the service term of Eq. 18): class shares weighted by w_c x users of the class
    class_weight = w.inputs.class_weight.values * w.class_users
    weighted = (np.where(has_demand, share, 0.0) * class_weight).sum(axis=1) / max(class_weight.sum(), 1e-12)
    critical = w.class_critical
    watched = critical & has_demand
    below = (share[:, watched] < w.class_qos_target[watched] - 1e-9).any(axis=1) if watched.any() else np.zeros(w.n_steps, bool)
    critical_time = float(hours[np.argmax(below)]) if below.any() else np.nan
    table3_step = min(int(round(TABLE3_TIME_H * 3600.0 / w.step_s)), w.n_steps - 1)

    # EV utilisation: energy taken / energy the parked EVs could have given over the whole window
    parked_h = w.parked.sum(axis=1) * w.step_h
    evs = w.evs
    offered = np.minimum(np.maximum(evs.initial_kwh - evs.reserve_kwh, 0.0), evs.max_power_kw * parked_h)  # P_max at the EV battery
    taken = record.ev_drawn_kwh.sum()
    utilisation = float(taken / offered.sum()) if offered.sum() > 0 else np.nan

    # handovers: a user's serving site changes (gaps without service skipped), vectorised over users and steps
    served = pd.DataFrame(record.user_site.astype(float)).where(record.user_site >= 0)
    previous = served.ffill().shift(1)
    handovers = (served.notna() & previous.notna() & (served != previous)).to_numpy().sum(axis=0)
    switches = ((record.mode[1:] != record.mode[:-1]) & ~dark[1:] & ~dark[:-1]).sum(axis=0)
    cost = float((record.price * record.ev_power).sum() * w.step_h)

    site, band, cls = w.inputs.site.values, w.inputs.band.values, w.inputs["class"].values
    time = xr.DataArray(w.times_s, dims="time", attrs=_attrs("s", "start of the Stage-2 step since the outage start"))
    ds = xr.Dataset(
        coords={
            "time": time,
            "site": site,
            "band": band,
            "class": cls,
            "edge": w.inputs.edge.values,
            "user": w.inputs.user.values,
            "ev": w.inputs.ev.values,
        }
    )
    mode_attrs = _attrs("1", "cooperation mode", flag_values=list(range(DARK + 1)), flag_meanings=" ".join(MODE_NAMES))
    ds["mode"] = (("site", "time"), record.mode.T, mode_attrs)
    ds["band_active"] = (("site", "band", "time"), record.band_on.transpose(1, 2, 0), _attrs("1", "carrier switched on (z, Eq. 24)"))
    ds["band_traffic"] = (
        ("site", "band", "time"), record.band_traffic.transpose(1, 2, 0), _attrs("Mbit/s", "traffic each carrier serves (nu, Eq. 11), float32")
    )
    ds["link_active"] = (("edge", "time"), record.links.T, _attrs("1", "cooperation link helper -> assisted in use (y, Eq. 23)"))
    ds["site_power"] = (("site", "time"), record.site_power.T, _attrs("kW", "power drawn by the site (Eqs. 2-4)"))
    ds["battery_power"] = (("site", "time"), record.battery_power.T, _attrs("kW", "power the battery gives at the site bus (negative: recharging from EVs)"))
    ds["ev_power"] = (("site", "time"), record.ev_power.T, _attrs("kW", "V2G power parked EVs give at the site bus"))
    ds["battery_energy"] = (("site", "time"), record.battery_energy[:-1].T, _attrs("kWh", "battery energy at the start of the step"))
    ds["battery_energy_end"] = (("site",), record.battery_energy[-1], _attrs("kWh", "battery energy at the end of the run"))
    ds["ev_energy"] = (("ev", "time"), record.ev_energy[:-1].T, _attrs("kWh", "EV battery energy at the start of the step"))
    ds["ev_energy_end"] = (("ev",), record.ev_energy[-1], _attrs("kWh", "EV battery energy at the end of the run"))
    ds["user_site"] = (("user", "time"), record.user_site.T, _attrs("1", "index of the site serving the user, -1 for none"))
    ds["served_share"] = (("class", "time"), share.T, _attrs("1", "served share of the class's demand (all its users; NaN: the class has no users)"))
    ds["served_share_total"] = (("time",), total_share, _attrs("1", "served share of all users' demand"))
    sample_time = xr.DataArray(w.times_s[record.sample_steps], dims="sample_time", attrs=_attrs("s", "time of the per-user samples (every Stage-1 interval)"))
    ds = ds.assign_coords(sample_time=sample_time)
    ds["user_sinr"] = (("user", "sample_time"), record.user_sinr_db.T, _attrs("dB", "Eq. 7 SINR of the band carrying most of the user's rate (NaN: not served)"))
    ds["user_rate"] = (("user", "sample_time"), record.user_rate_mbps.T, _attrs("Mbit/s", "rate served to the user (Eq. 8)"))
    ds["uncoverable_users"] = ((), int(w.uncoverable.sum()), _attrs("1", "users no site reaches at Gamma_min even with every site normal (counted in every share)"))
    ds["uncoverable_demand_share"] = ((), float(w.demand[w.uncoverable].sum() / max(w.demand.sum(), 1e-12)), _attrs("1", "share of all demand the uncoverable users request"))
    ds["served_mbps"] = (("site", "time"), record.served_site.T, _attrs("Mbit/s", "traffic the site serves"))
    ds["v2g_price"] = (("site", "time"), record.price.T, _attrs("currency/kWh", "V2G price rho(t) of Eq. 16 from the measured remaining time"))
    ds["decide_time"] = (("time",), record.decide_time, _attrs("s", "wall time the strategy took to decide the step"))

    ds["survival_time"] = ((), survival, _attrs("h", "T_surv: first time a site goes dark (the run length if none does)"))
    ds["survival_censored"] = ((), bool(not any_dark.any()), _attrs("1", "no site went dark within the run: survival_time is a lower bound"))
    ds["site_dark_time"] = (("site",), first_dark, _attrs("h", "time the site goes dark (NaN: never within the run)"))
    ds["all_dark_time"] = ((), all_dark, _attrs("h", "time every site is dark (NaN: not within the run)"))
    ds["critical_service_time"] = ((), critical_time, _attrs("h", "first time a critical class falls below its QoS target (NaN: never)"))
    ds["served_share_table3"] = (("class",), share[table3_step], _attrs("1", f"served share of each class at t = {TABLE3_TIME_H} h, or the last step of a shorter run (Table III)"))
    ds["table3_time"] = ((), float(hours[table3_step]), _attrs("h", "time of served_share_table3"))
    ds["service_continuity"] = ((), float(weighted.mean()), _attrs("1", "weighted satisfaction (Eq. 18 service term, class weights) averaged over the run window (Table IV)"))
    ds["served_share_weighted"] = (("time",), weighted, _attrs("1", "served shares of the classes weighted by class weight x users (Eq. 18 service term)"))
    ds["ev_utilisation"] = ((), utilisation, _attrs("1", "energy taken from EVs / energy parked EVs could have given (Table IV)"))
    ds["ev_energy_taken"] = ((), float(taken), _attrs("kWh", "energy taken from EV batteries"))
    ds["handovers_per_user"] = ((), float(handovers.mean()), _attrs("1", "changes of serving site per user (Table IV)"))
    ds["mode_switches_per_site"] = ((), float(switches.mean()), _attrs("1", "mode changes per site while awake (Table IV)"))
    ds["v2g_cost"] = ((), cost, _attrs("currency", "V2G energy bought at the Eq. 16 price"))
    return ds
