"""How much memory a scenario's run would take, estimated before anything is built.

A scenario the schema allows can still be too large for any machine: a
10-million-user network, a 100,000-site table, a one-microsecond time step.
Building it would allocate until memory runs out. :func:`memory_estimate`
adds up the largest arrays and models a run creates, each from the scenario
keys that size it, so that validation can refuse such a scenario at once,
naming the estimate and the key to change (see ``run.memory_limit_gib``).

The figures are rough estimates of the peak, meant to tell a run that fits
from one that cannot, not to predict it closely: each term is the size of
the arrays in question (bytes per element times their element count) plus,
for optimisation models, a per-variable allowance for linopy's and HiGHS's
copies of the model. ``docs/performance.md`` compares them with measured peaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: A validated scenario (``msrc_model.config.scenario.Scenario``; not imported, as it imports this module).
Scenario = Any

#: Sites whose received power every user keeps (the inputs' ``site_rank`` dimension).
RANKED_SITES = 24
#: Candidate serving sites per user (the inputs' user-site pairs).
CANDIDATE_SITES = 8
#: Bytes per user-site element while the channel is drawn: distance, LOS, shadowing,
#: path loss and received power of every user to every site (float32/float64/bool).
CHANNEL_BYTES_PER_USER_SITE = 40
#: Bytes per site pair of the geometry (distances, assistance potential, arc index).
GEOMETRY_BYTES_PER_SITE_PAIR = 40
#: Bytes per variable of an optimisation model: linopy's arrays, its constraint rows
#: and the solver's copy together.
MODEL_BYTES_PER_VARIABLE = 1_000
#: Variables of the Stage-2 radio model per user-site pair and band: the band share chi, the pair's
#: traffic on the band (Eq. 8) and its capacity row's slack in HiGHS.
RADIO_VARIABLES_PER_PAIR_BAND = 3
#: Bytes per site and time step of a strategy's results (powers, energies, modes, prices).
RESULT_BYTES_PER_SITE_STEP = 60
#: Bytes per user and time step of a strategy's results (the serving site, int16).
RESULT_BYTES_PER_USER_STEP = 2
#: Bytes per EV and time step of the inputs and results (presence, energy).
BYTES_PER_EV_STEP = 9
#: Neighbours within the cooperation radius assumed per site of an explicit site table.
TABLE_NEIGHBOURS = 18
#: The interpreter and the libraries msrc imports (numpy, xarray, linopy, HiGHS), measured as the
#: resident memory of ``msrc solve`` before its first array.
BASE_BYTES = 400 * 2**20
GIB = 2**30


@dataclass(frozen=True)
class MemoryTerm:
    """One part of a run's memory: what it is, its size and the scenario key that sizes it most."""

    what: str
    key: str
    bytes: float
    increase: bool = False  # the key must grow, not shrink, to make the term smaller


def _stage1_blocks(scenario: Scenario) -> int:
    c = scenario.controller
    rest = max(c.stage1_horizon_h * 60.0 - c.stage1_interval_min, 0.0)
    return 1 + math.ceil(rest / (c.stage1_block_h * 60.0))


def _neighbours(scenario: Scenario) -> float:
    """Sites within the cooperation radius of a site (an estimate for site tables)."""
    sites = scenario.network.site_count
    if scenario.network.layout == "table":
        return min(sites - 1, TABLE_NEIGHBOURS)
    cell_area = math.sqrt(3.0) / 2.0 * scenario.network.isd_m**2
    return min(sites - 1, math.pi * scenario.cooperation.coop_radius_m**2 / cell_area)


def memory_estimate(scenario: Scenario) -> list[MemoryTerm]:
    """The largest memory terms of one run of ``scenario`` (one sweep point, plus the combined sweep results).

    Returns
    -------
    list of MemoryTerm
        Largest first; their sum is the estimate compared with ``run.memory_limit_gib``.
    """
    net, traffic, c, ev = scenario.network, scenario.traffic, scenario.controller, scenario.ev
    sites = float(net.site_count)
    users = float(traffic.users)
    bands = float(len(scenario.bands.table))
    steps = float(c.time_step_count)
    strategies = float(len(scenario.run.strategies))
    evs = ev.arrivals_per_site * sites if ev.enabled else 0.0
    pairs = users * min(sites, CANDIDATE_SITES)
    carrier_sets = 2.0**bands - 1 if bands <= 6 else 63 + bands
    site_row = 20 + carrier_sets + 2 * _neighbours(scenario)
    # the step count grows with the duration and shrinks with the step: blame whichever is off its usual scale
    horizon_key = "controller.stage2_interval_s" if c.stage2_interval_s < 1.0 else "controller.max_duration_h"
    terms = [
        MemoryTerm("interpreter and libraries", "", BASE_BYTES),
        MemoryTerm("user-site channel", "traffic.users", users * sites * CHANNEL_BYTES_PER_USER_SITE
                   + users * min(sites, RANKED_SITES) * bands * 12),
        MemoryTerm("hotspot centres", "traffic.hotspots", traffic.hotspots * 16.0),
        MemoryTerm("site-pair geometry", "network.rings" if net.layout == "hex" else "network.sites", sites * sites * GEOMETRY_BYTES_PER_SITE_PAIR),
        MemoryTerm("user-site pairs", "traffic.users", pairs * bands * 48),
        MemoryTerm("EV presence and energy", "ev.arrivals_per_site", evs * steps * BYTES_PER_EV_STEP * (1 + strategies)),
        MemoryTerm(
            "results time series", horizon_key,
            strategies * steps * (sites * (RESULT_BYTES_PER_SITE_STEP + 5 * bands + 2 * _neighbours(scenario))
                                  + users * RESULT_BYTES_PER_USER_STEP),
            increase=horizon_key.endswith("interval_s"),
        ),
    ]
    if "msrc" in scenario.run.strategies and scenario.run.mode == "simulate":
        terms.append(MemoryTerm("Stage-1 model", "controller.stage1_horizon_h",
                                sites * _stage1_blocks(scenario) * site_row * MODEL_BYTES_PER_VARIABLE))
        terms.append(MemoryTerm("Stage-2 radio model", "traffic.users", pairs * bands * RADIO_VARIABLES_PER_PAIR_BAND * MODEL_BYTES_PER_VARIABLE))
    if scenario.run.mode == "plan":
        plan_steps = c.max_duration_h * 60.0 / scenario.formulation.plan_step_min
        f = scenario.formulation
        if f.plan_aggregation == "users":
            demand = pairs
        else:
            demand = sites * (len(traffic.classes) if f.plan_aggregation == "class" else 1) * min(sites, CANDIDATE_SITES)
        per_step = sites * site_row + demand * (bands if f.plan_traffic == "pairs" else 1) + evs
        terms.append(MemoryTerm("full-horizon plan model", "formulation.plan_step_min",
                                plan_steps * per_step * MODEL_BYTES_PER_VARIABLE, increase=True))
    points = float(scenario.sweep.point_count)
    if points > 1:
        terms.append(MemoryTerm("combined sweep results", "sweep.trials", points * strategies * (steps * 8 * 4 + 1_000)))
    return sorted(terms, key=lambda t: -t.bytes)


def check_memory(scenario: Scenario) -> tuple[str, str] | None:
    """``(key, message)`` when the estimate exceeds ``run.memory_limit_gib``, else ``None``."""
    terms = memory_estimate(scenario)
    total = sum(t.bytes for t in terms)
    limit = scenario.run.memory_limit_gib
    if total <= limit * GIB:
        return None
    top = next(t for t in terms if t.key)
    return top.key, (
        f"this run would need about {_gib(total)} GiB of memory, more than run.memory_limit_gib "
        f"({limit:g} GiB); the largest part is the {top.what} ({_gib(top.bytes)} GiB): "
        f"{'raise' if top.increase else 'reduce'} {top.key}, or raise run.memory_limit_gib if the machine has the memory"
    )


def _gib(size_bytes: float) -> str:
    value = size_bytes / GIB
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"
