"""What :func:`msrc_model.formulation.add_msrc` checks before it adds anything to a host model.

A host modeller calls the block with options, inputs and a time axis of their
own; every mistake there should be one clear ``ValueError`` raised before the
host model is touched, never a silently different model:

* option values (:func:`check_choice`): a typo names the allowed values;
* inputs (:func:`check_inputs`): every variable the blocks read, listed at once;
* time (:func:`host_time`): the time dimension and step lengths come from the
  host's snapshots; a conflicting ``time_dim``, ``step_s`` or
  ``max_duration_s`` is refused;
* size (:func:`check_size`): a model far too large to solve (the whole
  outage at the inputs' 30-s grid over every user-site pair) is refused with
  its size and what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..physics import MODES

#: Allowed values of the options of :func:`msrc_model.formulation.add_msrc`.
AGGREGATE_CHOICES = (False, True, "class", "site")
TRAFFIC_CHOICES = ("pairs", "flows", "site")
EV_MODEL_CHOICES = ("vehicles", "fleet")
FINAL_BATTERY_CHOICES = ("free", "cyclic", "at_least_initial")

#: Dimensions and variables of the inputs Dataset (:func:`msrc_model.build_inputs`) the blocks read.
REQUIRED_DIMENSIONS = ("site", "band", "class", "user", "pair", "edge", "site_rank", "ev")
REQUIRED_INPUTS = (
    "band_assisted", "band_reach_m", "bandwidth_mhz", "battery_capacity_kwh", "battery_charge_efficiency",
    "battery_discharge_efficiency", "battery_max_charge_kw", "battery_max_discharge_kw", "battery_soc_initial",
    "battery_soc_max", "battery_soc_min", "capacity_mbps", "class_qos_target", "class_weight", "demand_mbps",
    "edge_assisted", "edge_helper", "edge_reverse", "ev_arrival_s", "ev_capacity_kwh", "ev_departure_s",
    "ev_efficiency", "ev_max_power_kw", "ev_site", "ev_soc_initial", "ev_soc_min", "ev_v2x_limit_kw",
    "feeder_loss_db", "helping_overhead", "kappa_ok", "max_links", "min_rate_mbps", "noise_dbm",
    "pair_in_assisted_radius", "pair_in_normal_radius", "pair_max_rate_mbps", "pair_rank", "pair_site",
    "pair_user", "power_deep_sleep_kw", "power_dl_traffic_kw_per_mbps", "power_dl_utilisation_kw",
    "power_feeder_loss_kw_per_db", "power_scale", "power_standby_kw", "power_static_kw",
    "power_tx_power_kw_per_w", "power_ul_traffic_kw_per_mbps", "power_ul_utilisation_kw", "price_base_per_kwh", "price_cost_reference_per_kwh",
    "price_urgency_alpha", "price_urgency_tau_h", "ranked_rx_dbm", "ranked_site", "residual_interference_dbm",
    "sectors_per_site", "sinr_min_db", "tx_power_w", "uplink_ratio", "user_class", "user_covered", "user_weight",
)

#: The largest model :func:`add_msrc` builds unless told otherwise (variables): about 2 GiB of linopy
#: arrays, already beyond what HiGHS solves as a MILP in reasonable time.
MAX_VARIABLES = 5_000_000


def check_choice(option: str, value: Any, allowed: Sequence[Any]) -> None:
    """Refuse an option value outside ``allowed``, naming the allowed ones."""
    # ``True == 1`` and ``"class" != True``: compare type and value, so 1 is not taken for True
    if not any(value is choice or (type(value) is type(choice) and value == choice) for choice in allowed):
        raise ValueError(f"add_msrc: {option}={value!r} is not one of {', '.join(repr(a) for a in allowed)}")


def check_inputs(inputs: Any, ready_made: bool) -> None:
    """Refuse inputs that are not an inputs Dataset with every variable the blocks read."""
    if not isinstance(inputs, xr.Dataset):
        raise ValueError(f"add_msrc: inputs must be the xarray.Dataset of msrc_model.build_inputs, got {type(inputs).__name__}")
    if ready_made:
        return
    missing_dims = [d for d in REQUIRED_DIMENSIONS if d not in inputs.dims]
    missing = [v for v in REQUIRED_INPUTS if v not in inputs.variables]
    if not missing and not missing_dims:
        return
    parts = []
    if missing_dims:
        parts.append(f"dimensions {', '.join(missing_dims)}")
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        parts.append(f"{len(missing)} input variables ({shown})")
    hint = ""
    if not inputs.data_vars or len(missing) == len(REQUIRED_INPUTS):
        hint = " (a results file keeps its inputs in a group: xarray.open_dataset(path, group=\"inputs\"))"
    raise ValueError(f"add_msrc: the inputs lack {' and '.join(parts)}{hint}")


@dataclass(frozen=True)
class HostTime:
    """The block's time axis as the host gives it.

    Attributes
    ----------
    dim:
        Name of the time dimension.
    labels:
        The host's time labels (``None``: the block's own, seconds since the outage start).
    step_s:
        One step length (s) for equal steps, else ``None``.
    steps_s:
        Every step's length (s) for unequal steps, else ``None``.
    max_duration_s:
        Horizon (s), or ``None`` for the inputs' whole outage.
    """

    dim: str
    labels: pd.Index | None
    step_s: float | None
    steps_s: np.ndarray | None
    max_duration_s: float | None


def _snapshot_steps_s(snapshots: pd.Index, weightings_h: Any) -> np.ndarray | None:
    """Step lengths (s) from snapshot weightings (h) or from a datetime index's spacing, else ``None``."""
    if weightings_h is not None:
        weights = np.asarray(weightings_h, dtype=float).reshape(-1)
        if weights.size != len(snapshots):
            raise ValueError(f"add_msrc: {weights.size} snapshot weightings for {len(snapshots)} snapshots")
        if not np.isfinite(weights).all() or (weights <= 0).any():
            raise ValueError("add_msrc: snapshot weightings must be positive hours")
        return weights * 3600.0
    if isinstance(snapshots, pd.DatetimeIndex) and len(snapshots) > 1:
        gaps = np.asarray((snapshots[1:] - snapshots[:-1]).total_seconds(), dtype=float)
        if (gaps <= 0).any():
            raise ValueError("add_msrc: the snapshots must increase")
        if np.allclose(gaps, gaps[0]):
            return np.full(len(snapshots), float(gaps[0]))
        raise ValueError("add_msrc: unevenly spaced datetime snapshots need snapshot_weightings_h (the length of each, h)")
    return None


def host_time(
    snapshots: Any,
    time_dim: str | None,
    step_s: float | None,
    max_duration_s: float | None,
    snapshot_weightings_h: Any,
) -> HostTime:
    """The time axis from the host's snapshots, refusing arguments that contradict them."""
    if snapshots is None:
        if snapshot_weightings_h is not None:
            raise ValueError("add_msrc: snapshot_weightings_h needs snapshots")
        return HostTime(time_dim or "time", None, step_s, None, max_duration_s)
    index = pd.Index(snapshots)
    if len(index) == 0:
        raise ValueError("add_msrc: snapshots is empty")
    if index.has_duplicates:
        raise ValueError("add_msrc: the snapshots repeat a label")
    if isinstance(index, pd.MultiIndex):
        raise ValueError("add_msrc: multi-period snapshots (a MultiIndex) are not supported; pass one period's snapshots")
    name = index.name
    if name is None and time_dim is None:
        raise ValueError("add_msrc: the snapshots have no name; name the index (e.g. 'snapshot') or give time_dim")
    if name is not None and time_dim is not None and name != time_dim:
        raise ValueError(f"add_msrc: time_dim={time_dim!r} but the snapshots are named {name!r}")
    dim = time_dim or name
    steps = _snapshot_steps_s(index, snapshot_weightings_h)
    if steps is None:
        if step_s is None:
            raise ValueError(
                "add_msrc: the snapshots do not say how long a step is; give step_s (s) or snapshot_weightings_h (h)"
            )
        steps = np.full(len(index), float(step_s))
    elif step_s is not None and not np.allclose(steps, float(step_s)):
        raise ValueError(f"add_msrc: step_s={step_s} s contradicts the snapshots' steps of {_describe(steps)}")
    duration = float(steps.sum())
    if max_duration_s is not None and not np.isclose(float(max_duration_s), duration):
        raise ValueError(f"add_msrc: max_duration_s={max_duration_s} s contradicts the snapshots, which span {duration:g} s")
    if np.allclose(steps, steps[0]):
        return HostTime(dim, index.rename(dim), float(steps[0]), None, float(steps[0]) * len(index))
    return HostTime(dim, index.rename(dim), None, steps, duration)


def _describe(steps_s: np.ndarray) -> str:
    low, high = float(steps_s.min()), float(steps_s.max())
    return f"{low:g} s" if np.isclose(low, high) else f"{low:g}-{high:g} s"


def variable_count(data: xr.Dataset, traffic: str, ev_model: str, time_dim: str = "time") -> int:
    """Variables the block will add for ``data`` (an upper estimate, before anything is built)."""
    sites, bands, modes = data.sizes["site"], data.sizes["band"], len(MODES)
    per_step = sites * (2 * modes + 1 + 5)  # modes, switches, dark, battery, grid import
    per_step += data.sizes["edge"]  # links, offload
    if traffic == "pairs":
        per_step += data.sizes["pair"] * (1 + bands) + data.sizes["user"] * 2 + sites * bands
    elif traffic == "flows":
        per_step += data.sizes["pair"] + data.sizes["user"] + 2 * sites * bands
    else:
        per_step += sites * data.sizes.get("carrier_set", 1)
    per_step += 3 * data.sizes["ev"] if ev_model == "vehicles" else sites
    return int(per_step * data.sizes[time_dim])


def check_size(count: int, limit: int | None, horizon_s: float, steps: int) -> None:
    """Refuse a model of more than ``limit`` variables, saying what makes it large."""
    if limit is None or count <= limit:
        return
    raise ValueError(
        f"add_msrc: the block would have about {count:,} variables ({steps:,} steps over {horizon_s / 3600:g} h), "
        f"more than max_variables={limit:,}; give a coarser step_s / shorter max_duration_s (or snapshots), "
        "aggregate='class' with traffic='flows', or max_variables=None to build it anyway"
    )
