"""The scenario format: a validated, typed description of one MSRC study.

Every physical quantity carries its unit in its key (``capacity_kwh``,
``isd_m``, ...) and in the ``unit`` entry of its JSON-Schema property, from
which ``docs/scenario.md`` is generated. Defaults are the paper's Sec. V setup
completed with the sourced defaults of the interpretation notes; a YAML file
only needs to say what differs.

Use :func:`msrc_model.config.loader.load_scenario` to read a YAML file (with
``extends``, variants and ``--set`` overrides, and errors that name the file
and line); :meth:`Scenario.model_validate` works on plain dictionaries.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections import Counter
from pathlib import Path
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import RuleViolation
from .size import check_memory
from .tables import read_csv_rows

STRATEGIES = ("independent", "static", "msrc")


def quantity(default: Any, unit: str, description: str, **constraints: Any) -> Any:
    """A pydantic ``Field`` for a physical quantity, recording its unit."""
    return Field(default, description=description, json_schema_extra={"unit": unit}, **constraints)


def _kinds(annotation: Any) -> set[type]:
    """The plain types a field's annotation admits (``float | None``: float and NoneType)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return {kind for arg in get_args(annotation) for kind in _kinds(arg)}
    return {annotation} if isinstance(annotation, type) else {object}


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, and a boolean is not a number nor a number a boolean."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1 and 1 as true: YAML's yes/no would then pass for a 1-kWh battery
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is None:
                continue
            kinds = _kinds(field.annotation) - {type(None)}
            if isinstance(value, bool) and kinds and kinds <= {int, float}:
                raise RuleViolation((name,), f"= {str(value).lower()}: a number is expected, not true/false")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and kinds == {bool}:
                raise RuleViolation((name,), f"= {value!r}: true or false is expected, not a number")
        return data


def _rows_from_csv_path(value: Any, info: ValidationInfo) -> Any:
    """Accept a CSV path (relative to ``context['base_dir']``) in place of a row list."""
    if isinstance(value, (str, Path)):
        base = Path((info.context or {}).get("base_dir", "."))
        return read_csv_rows(base / value)[0]
    return value


def _require_unique(names: list[str], subpath: tuple[str, ...], what: str) -> None:
    duplicated = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicated:
        raise RuleViolation(subpath, f"{what} must be unique; repeated: {', '.join(duplicated)}")


# ---------------------------------------------------------------- network


class SiteRow(Section):
    """One base-station site of an explicit site table."""

    name: str = Field(description="Site identifier, unique in the table.")
    x_m: float = quantity(..., "m", "Easting of the site.")
    y_m: float = quantity(..., "m", "Northing of the site.")


SiteTable = Annotated[list[SiteRow], BeforeValidator(_rows_from_csv_path)]


class Network(Section):
    """Where the base stations stand (Sec. II-A, Sec. V-1)."""

    layout: Literal["hex", "table"] = Field(
        "hex", description="`hex`: hexagonal rings around a centre site; `table`: the sites listed in `sites`."
    )
    rings: int = Field(2, ge=0, le=60, description="Hex rings around the centre site (2 -> 19 sites, 12 -> 469).")
    isd_m: float = quantity(500.0, "m", "Inter-site distance of the hex layout.", gt=0)
    sites: SiteTable | None = Field(
        None,
        description="Explicit sites (layout `table`): a list of {name, x_m, y_m} or a CSV file path relative to the YAML file.",
    )
    sectors_per_site: int = Field(3, ge=1, le=12, description="Sectors per site; Eq. 2 power is per band and sector.")
    bs_height_m: float = quantity(25.0, "m", "Antenna height of every base station (TR 38.901 UMa).", gt=1.0)

    @model_validator(mode="after")
    def _sites_match_layout(self) -> Network:
        if self.layout == "table":
            if not self.sites:
                raise RuleViolation(("sites",), "layout 'table' needs a non-empty site list", involves=(("layout",),))
            _require_unique([s.name for s in self.sites], ("sites",), "site names")
            first_at: dict[tuple[float, float], int] = {}
            for k, site in enumerate(self.sites):
                other = first_at.setdefault((site.x_m, site.y_m), k)
                if other != k:  # no distance between them: no coverage radius, no interference geometry
                    raise RuleViolation(
                        ("sites", k), f"site {site.name!r} stands where site {self.sites[other].name!r} does "
                        f"({site.x_m:g} m, {site.y_m:g} m); every site needs its own position",
                    )
        elif self.sites is not None:
            raise RuleViolation(("sites",), "a site list is only read with layout 'table' (layout is 'hex')", involves=(("layout",),))
        return self

    @property
    def site_count(self) -> int:
        """Number of sites the layout yields."""
        if self.layout == "table":
            return len(self.sites or [])
        return 1 + 3 * self.rings * (self.rings + 1)


# ---------------------------------------------------------------- bands and radio


class BandRow(Section):
    """One carrier band b of every site (Sec. V-1)."""

    name: str = Field(description="Band identifier, e.g. `L800`.")
    frequency_mhz: float = quantity(..., "MHz", "Carrier frequency.", gt=0)
    bandwidth_mhz: float = quantity(..., "MHz", "Channel bandwidth B^(b) (Eq. 8).", gt=0)
    capacity_mbps: float = quantity(..., "Mbit/s", "Nominal band capacity C^(b) per site (Eq. 9).", gt=0)
    tx_power_dbm: float = quantity(..., "dBm", "Transmit power P_tx^(b) per carrier (Eq. 7).")
    antenna_gain_dbi: float = quantity(..., "dBi", "Base-station antenna gain.")
    feeder_loss_db: float = quantity(0.0, "dB", "Feeder loss L^(b) (Eq. 2).", ge=0)


BandTable = Annotated[list[BandRow], BeforeValidator(_rows_from_csv_path)]


class Bands(Section):
    """The band table and the bands an assisted site keeps (Eq. 25)."""

    table: BandTable = Field(
        ...,
        max_length=64,
        description="Band rows: a list of {name, frequency_mhz, ...} or a CSV file path relative to the YAML file.",
    )
    assisted_bands: list[str] = Field(
        default_factory=lambda: ["L800"],
        min_length=1,
        description="B_low of Eq. 25: the only bands an assisted site may keep active; names from the band table, each once.",
    )

    @model_validator(mode="after")
    def _bands_consistent(self) -> Bands:
        if not self.table:
            raise RuleViolation(("table",), "the band table is empty; at least one band is needed")
        names = [b.name for b in self.table]
        _require_unique(names, ("table",), "band names")
        for k, band in enumerate(self.assisted_bands):
            if band not in names:
                raise RuleViolation(
                    ("assisted_bands", k), f"{band!r} is not in the band table (bands: {', '.join(names)})", involves=(("table",),)
                )
        _require_unique(self.assisted_bands, ("assisted_bands",), "assisted band names")
        return self


class Radio(Section):
    """Link budget and channel model (Eqs. 6-8; TR 38.901 UMa)."""

    ue_height_m: float = quantity(1.5, "m", "User-equipment height.", gt=0, le=13)
    noise_psd_dbm_per_hz: float = quantity(-174.0, "dBm/Hz", "Thermal noise power spectral density.")
    ue_noise_figure_db: float = quantity(9.0, "dB", "User-equipment noise figure.", ge=0)
    sinr_min_db: float = quantity(-6.0, "dB", "Minimum decoding SINR Gamma_min (Eqs. 5-6).")
    line_of_sight: Literal["random", "los", "nlos"] = Field(
        "random",
        description="`random`: each user-site link is LOS with the TR 38.901 UMa probability; `los`/`nlos`: all links.",
    )
    shadowing: bool = Field(True, description="Draw log-normal shadow fading per user-site link.")
    shadowing_std_los_db: float = quantity(4.0, "dB", "Shadow-fading standard deviation on LOS links.", ge=0)
    shadowing_std_nlos_db: float = quantity(6.0, "dB", "Shadow-fading standard deviation on NLOS links.", ge=0)


# ---------------------------------------------------------------- power model


class PowerRow(Section):
    """Coefficients of Eq. 2 for one band, per sector."""

    band: str = Field(description="Band name from the band table.")
    static_kw: float = quantity(..., "kW", "beta_0: static power of an active band-sector.", ge=0)
    dl_utilisation_kw: float = quantity(..., "kW", "beta_1: power per unit of downlink RB utilisation.", ge=0)
    ul_utilisation_kw: float = quantity(..., "kW", "beta_2: power per unit of uplink RB utilisation.", ge=0)
    dl_traffic_kw_per_mbps: float = quantity(..., "kW/(Mbit/s)", "beta_3: power per Mbit/s of downlink traffic.", ge=0)
    ul_traffic_kw_per_mbps: float = quantity(..., "kW/(Mbit/s)", "beta_4: power per Mbit/s of uplink traffic.", ge=0)
    tx_power_kw_per_w: float = quantity(..., "kW/W", "beta_5: power per W of transmit power.", ge=0)
    feeder_loss_kw_per_db: float = quantity(..., "kW/dB", "beta_6: power per dB of feeder loss.", ge=0)
    standby_kw: float = quantity(..., "kW", "P_std^(b): standby power of a switched-off band at a site, all sectors (Eq. 4).", ge=0)


PowerTable = Annotated[list[PowerRow], BeforeValidator(_rows_from_csv_path)]


class Power(Section):
    """Base-station power model (Eqs. 2-4)."""

    coefficients: PowerTable = Field(
        ...,
        description="One row per band: a list of {band, static_kw, ...} or a CSV file path relative to the YAML file.",
    )
    scale: float = Field(
        1.0, gt=0, description="Calibration factor applied to every site power (Eq. 4); fitted once, see the docs."
    )
    deep_sleep_kw: float = quantity(0.1, "kW", "P_sleep: whole-site power in deep sleep (Eq. 4).", ge=0)


# ---------------------------------------------------------------- energy


class Battery(Section):
    """Stationary battery (BESS) of every site (Eqs. 12-13)."""

    capacity_kwh: float = quantity(20.0, "kWh", "Nominal capacity E_SB.", gt=0)
    soc_initial: float = quantity(0.8, "1", "State of charge at the outage start.", ge=0, le=1)
    soc_min: float = quantity(0.2, "1", "Lowest allowed state of charge SOC_min.", ge=0, le=1)
    soc_max: float = quantity(1.0, "1", "Highest allowed state of charge SOC_max.", ge=0, le=1)
    charge_efficiency: float = quantity(0.95, "1", "eta_ch.", gt=0, le=1)
    discharge_efficiency: float = quantity(0.95, "1", "eta_dis.", gt=0, le=1)
    max_charge_kw: float = quantity(10.0, "kW", "P_ch^max.", ge=0)
    max_discharge_kw: float = quantity(10.0, "kW", "P_dis^max.", gt=0)

    @model_validator(mode="after")
    def _soc_order(self) -> Battery:
        if self.soc_min >= self.soc_max:
            raise RuleViolation(("soc_min",), f"= {self.soc_min}: must be below soc_max ({self.soc_max})", involves=(("soc_max",),))
        if not self.soc_min <= self.soc_initial <= self.soc_max:
            raise RuleViolation(
                ("soc_initial",),
                f"= {self.soc_initial}: must lie between soc_min ({self.soc_min}) and soc_max ({self.soc_max})",
                involves=(("soc_min",), ("soc_max",)),
            )
        return self


class ElectricVehicles(Section):
    """EVs parked at sites and their V2G exchange (Eqs. 14-16, Table I)."""

    enabled: bool = Field(True, description="Draw an EV fleet; false gives a scenario without EVs.")
    arrivals_per_site: float = Field(
        3.0, ge=0, description="Mean number of EV arrivals per site within `arrival_window_h` (Poisson)."
    )
    arrival_window_h: float = quantity(6.0, "h", "Arrivals are spread uniformly over [0, this] after the outage start.", gt=0)
    mean_stay_h: float = quantity(3.0, "h", "Mean parking time (exponential).", gt=0)
    capacity_mean_kwh: float = quantity(60.0, "kWh", "Mean nominal EV battery capacity E_e^nom (normal).", gt=0)
    capacity_std_kwh: float = quantity(15.0, "kWh", "Standard deviation of E_e^nom.", ge=0)
    capacity_min_kwh: float = quantity(20.0, "kWh", "Lower truncation of E_e^nom.", gt=0)
    capacity_max_kwh: float = quantity(120.0, "kWh", "Upper truncation of E_e^nom.", gt=0)
    soc_initial_low: float = quantity(0.5, "1", "Lower end of the uniform initial EV state of charge.", ge=0, le=1)
    soc_initial_high: float = quantity(0.8, "1", "Upper end of the uniform initial EV state of charge.", ge=0, le=1)
    soc_min: float = quantity(0.33, "1", "Driver's minimum state of charge SOC_e^min (Eq. 14).", ge=0, le=1)
    max_power_kw: float = quantity(7.0, "kW", "Largest charge or discharge power of one EV, at its battery (the bus sees it times the efficiency).", ge=0)
    v2x_limit_kw: float = quantity(7.0, "kW", "P_i^V2X,max: site V2X interface limit (Eq. 15).", ge=0)
    efficiency: float = quantity(0.93, "1", "One-way V2G conversion efficiency.", gt=0, le=1)

    @model_validator(mode="after")
    def _ranges(self) -> ElectricVehicles:
        if self.capacity_min_kwh >= self.capacity_max_kwh:
            raise RuleViolation(
                ("capacity_min_kwh",), f"= {self.capacity_min_kwh}: must be below capacity_max_kwh ({self.capacity_max_kwh})",
                involves=(("capacity_max_kwh",),),
            )
        if not self.capacity_min_kwh <= self.capacity_mean_kwh <= self.capacity_max_kwh:
            raise RuleViolation(
                ("capacity_mean_kwh",),
                f"= {self.capacity_mean_kwh}: must lie between capacity_min_kwh and capacity_max_kwh",
                involves=(("capacity_min_kwh",), ("capacity_max_kwh",)),
            )
        if self.soc_initial_low > self.soc_initial_high:
            raise RuleViolation(
                ("soc_initial_low",), f"= {self.soc_initial_low}: must not exceed soc_initial_high ({self.soc_initial_high})",
                involves=(("soc_initial_high",),),
            )
        return self


class Pricing(Section):
    """Dynamic V2G compensation rate (Eq. 16, Table I)."""

    base_price_per_kwh: float = quantity(0.5, "currency/kWh", "rho_base: nominal price of V2G energy.", ge=0)
    urgency_alpha: float = Field(2.0, gt=0, description="alpha_urg: urgency coefficient (dimensionless).")
    urgency_tau_h: float = quantity(1.5, "h", "tau: urgency time scale.", gt=0)
    cost_reference_per_kwh: float = quantity(
        1.5, "currency/kWh",
        "Price that scales the V2G cost term of Eqs. 18 and 27 to [0, 1] per kWh: the cost is divided by it x P_V2X x N x H, a fixed amount, so a higher posted price weighs more against survival and service. Default: the paper's highest price, rho_base (1 + alpha).",
        gt=0,
    )


# ---------------------------------------------------------------- traffic


class ConstantDemand(Section):
    """Every user of the class asks for the same rate."""

    distribution: Literal["constant"] = "constant"
    rate_mbps: float = quantity(..., "Mbit/s", "Requested rate D_u at load 1.0.", gt=0)


class LogNormalDemand(Section):
    """Requested rate drawn per user from a log-normal law (Table I)."""

    distribution: Literal["lognormal"] = "lognormal"
    mu: float = Field(..., ge=-20, le=20, description="Mean of ln(D_u / 1 Mbit/s).")
    sigma: float = Field(..., gt=0, le=5, description="Standard deviation of ln(D_u / 1 Mbit/s) (at most 5: wider laws overflow).")


Demand = Annotated[ConstantDemand | LogNormalDemand, Field(discriminator="distribution")]


class TrafficClass(Section):
    """One service class (Sec. II-C-3, Sec. V-2, Table III)."""

    share: float = quantity(..., "1", "Share of users in this class.", ge=0, le=1)
    weight: float = Field(..., gt=0, description="Priority weight w_u (Eq. 18, 27).")
    demand: Demand = Field(..., description="Requested rate D_u per user.")
    min_rate_fraction: float = quantity(
        0.0, "1", "SLA minimum rate R_u^min as a fraction of D_u (Eq. 10); 0 = best effort.", ge=0, le=1
    )
    qos_target: float = quantity(0.0, "1", "Served share this class should keep (Table III).", ge=0, le=1)
    critical: bool = Field(False, description="Counts towards critical-service survival (emergency, voice).")


def _default_classes() -> dict[str, TrafficClass]:
    return {
        "emergency": TrafficClass(
            share=0.02, weight=1000, demand=ConstantDemand(rate_mbps=0.064), min_rate_fraction=1.0,
            qos_target=1.0, critical=True,
        ),
        "voice": TrafficClass(
            share=0.15, weight=100, demand=ConstantDemand(rate_mbps=0.064), min_rate_fraction=1.0,
            qos_target=0.95, critical=True,
        ),
        "essential": TrafficClass(
            share=0.50, weight=10, demand=LogNormalDemand(mu=0.0, sigma=0.5), min_rate_fraction=0.5,
            qos_target=0.8,
        ),
        "best_effort": TrafficClass(
            share=0.33, weight=1, demand=LogNormalDemand(mu=1.5, sigma=0.7), min_rate_fraction=0.0,
            qos_target=0.5,
        ),
    }


class Traffic(Section):
    """Users, their positions and service classes (Sec. V-2)."""

    users: int = Field(1000, ge=1, le=10_000_000, description="Number of users.")
    load: float = Field(1.0, gt=0, description="Demand multiplier: light 0.5, medium 1.0, heavy 1.8 (Sec. VI).")
    area_side_m: float = quantity(2000.0, "m", "Side of the square user area, centred on the sites' centroid.", gt=0)
    hotspot_share: float = quantity(0.7, "1", "Share of users placed in hotspots.", ge=0, le=1)
    hotspots: int = Field(5, ge=0, description="Number of Gaussian hotspots, centres uniform over the area.")
    hotspot_std_m: float = quantity(80.0, "m", "Standard deviation of a hotspot around its centre.", gt=0)
    uplink_ratio: float = quantity(
        0.1, "1", "Uplink traffic as a share of downlink traffic, for the UL terms of Eq. 2.", ge=0
    )
    classes: dict[str, TrafficClass] = Field(
        default_factory=_default_classes, description="Service classes by name, in priority order."
    )

    @model_validator(mode="after")
    def _classes_consistent(self) -> Traffic:
        if not self.classes:
            raise RuleViolation(("classes",), "at least one service class is needed")
        total = math.fsum(c.share for c in self.classes.values())
        if abs(total - 1.0) > 1e-6:
            shares = ", ".join(f"{k} {c.share:g}" for k, c in self.classes.items())
            raise RuleViolation(("classes",), f"class shares must sum to 1, they sum to {total:g} ({shares})")
        if self.hotspot_share > 0 and self.hotspots == 0:
            raise RuleViolation(
                ("hotspots",), f"= 0: hotspot_share is {self.hotspot_share:g}, so at least one hotspot is needed", involves=(("hotspot_share",),)
            )
        return self


# ---------------------------------------------------------------- cooperation, control, objective


class Cooperation(Section):
    """Cooperation graph and mode parameters (Eqs. 1, 5, 9, 20-23, Table I)."""

    coop_radius_m: float = quantity(1000.0, "m", "R_coop: sites closer than this may cooperate.", gt=0)
    kappa_min: float = quantity(0.3, "1", "kappa_min: least assistance potential for a helper link (Eq. 21).", ge=0, le=1)
    max_links: int = Field(3, ge=1, description="K_max: cooperation links per site (Eq. 22).")
    helping_overhead: float = quantity(0.05, "1", "lambda_loss: capacity lost to scheduling overhead when helping (Eq. 9).", ge=0, lt=1)
    assisted_radius_factor: float = quantity(0.5, "1", "R_red: assisted radius as a fraction of the nominal radius.", gt=0, le=1)
    nominal_radius_m: float | None = quantity(
        None, "m", "R_nom of every site; empty: nearest-neighbour distance / sqrt(3) (hex circumradius).", gt=0
    )


class Controller(Section):
    """Two-stage controller timing (Sec. IV) and the outage length."""

    stage1_interval_min: float = quantity(15.0, "min", "Stage-1 planning period.", gt=0)
    stage1_horizon_h: float = quantity(
        6.0, "h", "Stage-1 planning horizon H (Eq. 26); at least one stage1_interval_min, and at least stage1_block_h.", gt=0
    )
    stage2_interval_s: float = quantity(30.0, "s", "Stage-2 dispatch period, the simulation time step.", gt=0)
    max_duration_h: float = quantity(
        12.0, "h", "Longest outage simulated: a whole number of Stage-2 steps (stage2_interval_s) and, with run.mode plan, of the plan's steps (formulation.plan_step_min).", gt=0
    )
    stage1_block_h: float = quantity(
        3.0, "h", "Stage-1 planning block: the horizon is cut into blocks of this length; the first block's modes are binary, later blocks plan mode time shares.", gt=0
    )
    stage1_method: Literal["mip", "previous_start", "rounded_start", "lp_rounding"] = Field(
        "previous_start",
        description="How Stage 1 makes the first block's modes binary. mip: HiGHS branch and bound to solver.mip_gap, its heuristics on. previous_start (the default): the modes applied now (sites gone dark left free) completed by the model solved with them fixed, as HiGHS's first incumbent in a branch and bound to previous_start_gap with HiGHS's sub-MIP and search heuristics off; if those modes cannot be completed, the plain mip. rounded_start: the lp_rounding plan first; if it is within solver.mip_gap of the LP's bound it is the answer, else it is HiGHS's first incumbent in a branch and bound to solver.mip_gap with HiGHS's sub-MIP and search heuristics off (the start replaces them). lp_rounding: every block's modes as time shares (an LP), the first block's shares rounded (a site whose assisted and sleep shares pass 1/2 becomes a client, its eligible neighbour with the largest helping share its helper) and the LP solved again with those modes fixed; the gap recorded is the rounded plan's distance to the LP's bound.",
    )
    previous_start_gap: float = quantity(
        0.0025, "1",
        "Relative gap at which a previous_start solve stops. Tighter than solver.mip_gap because the start is the answer whenever it is within this gap: at 1 % the plan applied now was kept where a plan 0.26 % better started the cooperation that kept a site alive (docs/performance.md).",
        gt=0, lt=1,
    )
    plan_ev_arrivals: bool = Field(
        False,
        description="Count expected EV arrivals (the known rate, mean usable energy) in the Stage-1 EV forecast. Off: Stage 1 plans on the EVs parked now only, since a max-min plan on expected EV energy lets a site run down waiting for an EV that may not come.",
    )
    stage1_solution_limit: int | None = Field(
        None,
        ge=1,
        description="Stop a Stage-1 solve at this many improving solutions (HiGHS mip_max_improving_sols) if the gap is not reached first: a work limit for speed at the price of a larger gap. Empty (the default): each call runs to solver.mip_gap, a deterministic stop, with stage1_time_limit_s as the safety net.",
    )
    stage1_time_limit_s: float = quantity(
        30.0, "s", "Time limit of one Stage-1 solve, a safety net behind solver.mip_gap; a solve stopped by it depends on the machine's speed and is recorded (stage1_time_limit_hit).", gt=0
    )
    stage2_integer_carriers: bool = Field(
        False,
        description="Stage-2 radio problem with integer carrier activation (a MILP, much slower). Off: carrier activation is continuous, as the paper's Stage 2 optimises continuous variables only; the LP's activations are rounded (on at 1/2 or more, at least one per awake site, and for an emergency or voice user the rounding left unreachable the cheapest carrier it was served on) and the LP is solved again with the carriers fixed, at the rates they give. Either way a carrier no user has a share of is switched off.",
    )
    stage2_solution_limit: int | None = Field(
        1,
        ge=1,
        description="A Stage-2 radio solve stops at this many improving solutions (HiGHS mip_max_improving_sols) or at the gap, whichever comes first; a work limit like stage1_solution_limit. Empty: only the gap and the time limit stop it.",
    )
    region_max_sites: int = Field(
        37,
        ge=1,
        description="Largest region the controller solves as one problem. A cluster with more sites is cut into regions of at most this many by recursive coordinate bisection, and Stage 1 and the Stage-2 radio problem are solved per region (no cooperation, and no service, across a region's border); a radio call solves again only the regions whose inputs changed. The default keeps the paper's 19-site cluster and a 37-site one whole.",
    )
    region_threads: int = Field(
        1,
        ge=1,
        description="Regions solved at once, each in its own thread (a cluster cut into regions by region_max_sites; one region: no effect). Every region has its own models and one solve's result does not depend on the others, so the results are the same for any number; more threads only shorten a call on a machine with the cores for them. 1 (the default) leaves the other cores to sweep workers.",
    )
    stage2_time_limit_s: float = quantity(
        10.0, "s", "Time limit of one Stage-2 radio solve, a safety net behind stage2_solution_limit; a solve stopped by it depends on the machine's speed.", gt=0
    )

    @model_validator(mode="after")
    def _periods_nest(self) -> Controller:
        ratio = self.stage1_interval_min * 60.0 / self.stage2_interval_s
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise RuleViolation(
                ("stage1_interval_min",),
                f"= {self.stage1_interval_min:g}: must be a whole multiple of stage2_interval_s ({self.stage2_interval_s:g} s)",
                involves=(("stage2_interval_s",),),
            )
        if self.stage1_horizon_h * 60.0 < self.stage1_interval_min * (1.0 - 1e-9):
            raise RuleViolation(
                ("stage1_horizon_h",),
                f"= {self.stage1_horizon_h:g}: shorter than stage1_interval_min ({self.stage1_interval_min:g} min); "
                "the horizon must cover at least one planning interval",
                involves=(("stage1_interval_min",),),
            )
        if self.stage1_block_h > self.stage1_horizon_h:
            raise RuleViolation(
                ("stage1_block_h",), f"= {self.stage1_block_h:g}: longer than stage1_horizon_h ({self.stage1_horizon_h:g} h)",
                involves=(("stage1_horizon_h",),),
            )
        if self.max_duration_h * 3600.0 < self.stage2_interval_s:
            raise RuleViolation(
                ("max_duration_h",), f"= {self.max_duration_h:g}: shorter than one Stage-2 step", involves=(("stage2_interval_s",),)
            )
        steps = self.max_duration_h * 3600.0 / self.stage2_interval_s
        if abs(steps - round(steps)) > 1e-9:  # the tolerance of the time grid's own floor (formulation.data.time_grid_s)
            # a part step would be cut off while the summary and the metrics' censoring speak of the whole duration
            raise RuleViolation(
                ("max_duration_h",),
                f"= {self.max_duration_h:.10g}: not a whole number of Stage-2 steps of {self.stage2_interval_s:g} s "
                f"({steps:.8g} steps); e.g. {max(1, math.floor(steps)) * self.stage2_interval_s / 3600.0:.8g} h",
                involves=(("stage2_interval_s",),),
            )
        return self

    @property
    def time_step_count(self) -> int:
        """Number of Stage-2 instants from 0 to the maximum duration, both included."""
        return int(math.floor(self.max_duration_h * 3600.0 / self.stage2_interval_s + 1e-9)) + 1


class ObjectiveWeights(Section):
    """lambda_1..lambda_4 of Eq. 18 (Sec. V-3); they sum to 1."""

    survival: float = Field(0.5, ge=0, le=1, description="lambda_1: network survival time.")
    service: float = Field(0.3, ge=0, le=1, description="lambda_2: weighted satisfaction ratio.")
    v2g_cost: float = Field(0.1, ge=0, le=1, description="lambda_3: V2G energy cost.")
    mode_switching: float = Field(0.1, ge=0, le=1, description="lambda_4: mode-switching penalty.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> ObjectiveWeights:
        total = self.survival + self.service + self.v2g_cost + self.mode_switching
        if abs(total - 1.0) > 1e-6:
            raise RuleViolation((), f"weights must sum to 1, they sum to {total:g}")
        return self


class Run(Section):
    """What `msrc solve` does."""

    mode: Literal["simulate", "plan"] = Field(
        "simulate",
        description="`simulate`: online outage simulation; `plan`: full-horizon plan with perfect foresight (no sweep: sweep.trials 1, no dimensions).",
    )
    strategies: list[Literal["independent", "static", "msrc"]] = Field(
        default_factory=lambda: list(STRATEGIES), min_length=1, description="Strategies run on the same realisation."
    )
    static_rule: Literal["min-max-life", "shed-carriers", "busiest-third"] = Field(
        "min-max-life",
        description="Rule of the `static` baseline (docs/simulation.md compares them; `min-max-life` won on the paper scenario).",
    )

    memory_limit_gib: float = quantity(
        16.0, "GiB", "Largest memory a run may need by the estimate made before it starts (msrc_model.config.size); a larger scenario is refused with the estimate and the key that drives it.", gt=0
    )

    @field_validator("strategies")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"strategies must not repeat: {value}")
        return value


class Formulation(Section):
    """How the paper's model is put together for each problem (see docs/model.md)."""

    plan_step_min: float = quantity(15.0, "min", "Time step of the full-horizon plan (`run.mode: plan`).", gt=0)
    plan_traffic: Literal["flows", "pairs"] = Field(
        "flows",
        description="Plan traffic model: `flows` (band traffic per site within capacity) or `pairs` (per-pair band shares, Eq. 8).",
    )
    plan_aggregation: Literal["users", "class", "site"] = Field(
        "class",
        description="Plan demand entities: single users (binary x), or traffic groups by home site and class, or by home site.",
    )
    plan_ev_model: Literal["vehicles", "fleet"] = Field(
        "vehicles", description="Plan EV model: every vehicle's energy, or a fleet per site."
    )
    exclusive_battery: bool = Field(True, description="Binary that forbids charging and discharging a battery at once.")
    tangent_breakpoints: list[float] | None = Field(
        None,
        min_length=1,
        description=(
            "Served ratios r/D where the tangent cuts of Eq. 27 (Stage 2) touch log(1 + r/D); "
            "empty: the formulation's default, `msrc_model.formulation.LOG_UTILITY_BREAKPOINTS`."
        ),
    )

    @field_validator("tangent_breakpoints")
    @classmethod
    def _in_unit_interval(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if any(not 0.0 <= v <= 1.0 for v in value):
            raise ValueError("breakpoints must lie in [0, 1]")
        return sorted(set(value))


class Solver(Section):
    """MILP solver settings (HiGHS through linopy)."""

    name: Literal["highs"] = Field("highs", description="Solver; HiGHS is the one msrc installs.")
    time_limit_s: float = quantity(60.0, "s", "Time limit of one solve.", gt=0)
    mip_gap: float = quantity(0.01, "1", "Relative MIP gap at which a solve stops.", ge=0, lt=1)
    threads: int | None = Field(
        1,
        ge=1,
        description="Solver threads per solve. 1 (the default): a solve does not depend on the machine's core count, and sweep workers do not compete for cores. Empty: the solver decides (HiGHS: from the cores it finds).",
    )
    options: dict[str, bool | int | float | str] = Field(
        default_factory=dict, description="Further HiGHS options, each checked against HiGHS (name, type and value) when the scenario is read."
    )

    @field_validator("options")
    @classmethod
    def _known_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, option in value.items():
            problem = highs_option_problem(name, option)
            if problem:
                raise RuleViolation((name,), problem)
        return value


def highs_option_problem(name: str, value: Any) -> str:
    """Why HiGHS would not take option ``name = value`` (an unknown name, a wrong type), or ``""``."""
    import difflib

    import highspy

    defaults = highspy.HighsOptions()
    if name.startswith("_") or not hasattr(defaults, name):
        known = [k for k in dir(defaults) if not k.startswith("_")]
        close = difflib.get_close_matches(name, known, n=1)
        return f"not a HiGHS option{f'; did you mean {close[0]!r}?' if close else ''}"
    kind = type(getattr(defaults, name))
    # the YAML value types each option type takes (bool is an int to Python, but not a number here)
    takes = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[kind]
    if type(value) not in takes:
        expected = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}[kind]
        hint = " (quote it: YAML reads on/off as true/false)" if kind is str and isinstance(value, bool) else ""
        return f"= {value!r}: HiGHS option {name} takes {expected}{hint}"
    if _highs_for_checks().setOptionValue(name, value) != highspy.HighsStatus.kOk:
        return f"= {value!r}: HiGHS refuses this value for {name} (out of its range or not one of its choices)"
    return ""


@functools.cache
def _highs_for_checks() -> Any:
    """A silent HiGHS instance on which option values are tried (its banner, printed on creation, is dropped)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    return highs


UNSWEPT_SECTIONS = ("sweep", "variants", "extends", "output", "run")  # sections no sweep dimension may set


class SweepDimension(Section):
    """One swept scenario key: a results dimension with one coordinate per value."""

    key: str = Field(..., min_length=1, description="Dotted scenario key set at each point, e.g. `traffic.load` or `battery.capacity_kwh`.")
    values: list[float | int | str | bool] = Field(
        ..., min_length=1, description="Values the key takes (scalars, in the key's own unit); one point per value."
    )
    labels: list[str] | None = Field(
        None, description="Coordinate labels, one per value (e.g. light, medium, heavy); empty: the values are the coordinates."
    )
    also: dict[str, list[float | int | str | bool]] = Field(
        default_factory=dict,
        description=(
            "Other dotted keys set together with `key`, one value per value of `key` (each in its key's own unit), "
            "e.g. `{traffic.users: [368, 1000, 1947]}` beside `key: network.rings, values: [1, 2, 3]` to keep the users per site."
        ),
    )

    def keys(self) -> list[str]:
        """Every key this dimension sets: ``key``, then those of ``also``."""
        return [self.key.strip(), *(other.strip() for other in self.also)]

    def overrides(self, index: int) -> list[str]:
        """``KEY=VALUE`` overrides (values as JSON) that set the ``index``-th value of every key of the dimension."""
        return [f"{self.key}={json.dumps(self.values[index])}", *(f"{other}={json.dumps(v[index])}" for other, v in self.also.items())]

    @model_validator(mode="after")
    def _labels_match(self) -> SweepDimension:
        if self.labels is not None and len(self.labels) != len(self.values):
            raise RuleViolation(
                ("labels",), f"{len(self.labels)} labels for {len(self.values)} values: give one per value", involves=(("values",),)
            )
        for other, values in self.also.items():
            if len(values) != len(self.values):
                raise RuleViolation(
                    ("also", other), f"{len(values)} values for the {len(self.values)} of {self.key}: give one per value", involves=(("values",),)
                )
            if other.strip() == self.key.strip():
                raise RuleViolation(("also", other), f"= {self.key}: already the dimension's key")
            if other.split(".")[0] in UNSWEPT_SECTIONS:
                raise RuleViolation(("also", other), f"the {other.split('.')[0]} section cannot be swept")
        coords = self.labels if self.labels is not None else self.values
        if len({str(c) for c in coords}) != len(coords):
            raise RuleViolation(("labels" if self.labels is not None else "values",), "must not repeat")
        if self.key.split(".")[0] in UNSWEPT_SECTIONS:
            raise RuleViolation(("key",), f"= {self.key}: the {self.key.split('.')[0]} section cannot be swept")
        return self


class Sweep(Section):
    """Monte Carlo trials and swept keys: every combination is one independent point (`msrc solve` runs them on Dask); only with run.mode simulate."""

    trials: int = Field(1, ge=1, description="Monte Carlo trials per combination: trial indices 0 .. trials-1 (results dimension `trial`).")
    dimensions: dict[str, SweepDimension] = Field(
        default_factory=dict,
        description=(
            "Results dimension name -> the key it sweeps, in this order (e.g. `load: {key: traffic.load, values: [0.5, 1.0, 1.8]}`); "
            "names not empty, each key swept by one dimension only."
        ),
    )
    workers: int = Field(2, ge=1, description="Local worker processes of the embedded Dask cluster (ignored with `--scheduler`).")
    reuse: list[str] = Field(
        default_factory=list,
        description=(
            "Results files of other sweeps (relative to the working directory, like output.path) whose finished points this sweep "
            "copies instead of running them again: a point whose scenario (all but name, description and output) and trial "
            "are the same; a file whose sweep has not run yet gives nothing."
        ),
    )

    @field_validator("dimensions")
    @classmethod
    def _names(cls, value: dict[str, SweepDimension]) -> dict[str, SweepDimension]:
        reserved = {"trial", "strategy", "baseline", "site", "band", "class", "time", "user", "ev", "step"}
        clash = sorted(set(value) & reserved)
        if clash:
            raise ValueError(f"dimension name(s) {', '.join(clash)} are taken by the results; choose another")
        for name in value:
            if not name.strip():
                raise RuleViolation((name,), "the dimension name is empty; name the results dimension, e.g. load")
        swept_by: dict[str, str] = {}
        for name, dim in value.items():
            for key in dim.keys():
                if key in swept_by:
                    where = (name, "key") if key == dim.key.strip() else (name, "also", key)
                    raise RuleViolation(
                        where,
                        f"= {key}: dimensions {swept_by[key]!r} and {name!r} both sweep this key; give its values to one dimension only",
                        involves=((swept_by[key], "key"),),
                    )
                swept_by[key] = name
        return value

    @property
    def point_count(self) -> int:
        count = self.trials
        for dim in self.dimensions.values():
            count *= len(dim.values)
        return count


class Output(Section):
    """Where results go."""

    path: str = Field("results/msrc.nc", description="NetCDF results file (relative to the working directory).")


class Scenario(Section):
    """One MSRC study: network, energy, traffic, controller and run settings."""

    name: str = Field("msrc", min_length=1, description="Short name of the scenario.")
    description: str = Field("", description="Free text.")
    extends: str | None = Field(
        None, description="YAML file this one builds on (relative to this file); its keys are merged under these."
    )
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Named partial overrides, chosen with `--variant NAME`."
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Random seed; with the trial index it fixes every random draw.")
    network: Network = Field(default_factory=Network, description="Site layout.")
    bands: Bands = Field(..., description="Carrier bands.")
    radio: Radio = Field(default_factory=Radio, description="Channel model.")
    power: Power = Field(..., description="Power model.")
    battery: Battery = Field(default_factory=Battery, description="Site battery.")
    ev: ElectricVehicles = Field(default_factory=ElectricVehicles, description="EV fleet.")
    pricing: Pricing = Field(default_factory=Pricing, description="V2G pricing.")
    traffic: Traffic = Field(default_factory=Traffic, description="Users and classes.")
    cooperation: Cooperation = Field(default_factory=Cooperation, description="Cooperation parameters.")
    controller: Controller = Field(default_factory=Controller, description="Controller timing.")
    objective: ObjectiveWeights = Field(default_factory=ObjectiveWeights, description="Objective weights.")
    run: Run = Field(default_factory=Run, description="Run settings.")
    formulation: Formulation = Field(default_factory=Formulation, description="Model assembly.")
    solver: Solver = Field(default_factory=Solver, description="Solver settings.")
    output: Output = Field(default_factory=Output, description="Output settings.")
    sweep: Sweep = Field(default_factory=Sweep, description="Monte Carlo trials and swept keys (only with run.mode simulate).")

    @model_validator(mode="after")
    def _power_rows_match_bands(self) -> Scenario:
        bands = [b.name for b in self.bands.table]
        rows = [r.band for r in self.power.coefficients]
        for k, name in enumerate(rows):
            if name not in bands:
                raise RuleViolation(
                    ("power", "coefficients", k, "band"),
                    f"{name!r} is not in the band table (bands: {', '.join(bands)})",
                    involves=(("bands", "table"),),
                )
        if len(set(rows)) != len(rows):
            raise RuleViolation(("power", "coefficients"), "each band needs exactly one row; some band is repeated", involves=(("bands", "table"),))
        missing = [b for b in bands if b not in rows]
        if missing:
            raise RuleViolation(("power", "coefficients"), f"no coefficients for band(s) {', '.join(missing)}", involves=(("bands", "table"),))
        return self

    @model_validator(mode="after")
    def _sweep_needs_simulate(self) -> Scenario:
        if self.run.mode == "simulate":
            return self
        duration_min, step_min = self.controller.max_duration_h * 60.0, self.formulation.plan_step_min
        steps = duration_min / step_min
        if steps < 1.0 - 1e-9 or abs(steps - round(steps)) > 1e-9:
            # the plan covers whole steps: a part step would be cut off, and T_surv reported beyond what was planned
            raise RuleViolation(
                ("controller", "max_duration_h"),
                f"= {self.controller.max_duration_h:.10g}: the plan (run.mode plan) needs a whole number of its "
                f"{step_min:g}-min steps, at least one ({steps:.8g} steps)",
                involves=(("formulation", "plan_step_min"), ("run", "mode")),
            )
        if self.sweep.trials > 1:
            raise RuleViolation(
                ("sweep", "trials"), f"= {self.sweep.trials}: a sweep needs run.mode simulate (run.mode is {self.run.mode})",
                involves=(("run", "mode"),),
            )
        if self.sweep.dimensions:
            raise RuleViolation(
                ("sweep", "dimensions"), f"a sweep needs run.mode simulate (run.mode is {self.run.mode})", involves=(("run", "mode"),)
            )
        return self

    @model_validator(mode="after")
    def _fits_in_memory(self) -> Scenario:
        refusal = check_memory(self)
        if refusal is not None:
            key, message = refusal
            raise RuleViolation(tuple(key.split(".")), message)
        return self

    def size_summary(self) -> str:
        """One line with the scenario's size, for ``msrc validate``."""
        c = self.controller
        return (
            f"{self.network.site_count} sites, {len(self.bands.table)} bands, {self.traffic.users} users, "
            f"{len(self.traffic.classes)} classes, {c.time_step_count} time points {c.stage2_interval_s:g} s apart "
            f"({c.max_duration_h:g} h), strategies {', '.join(self.run.strategies)}, seed {self.seed}"
        )


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario YAML format, as editors use it.

    Tables that may be given as a CSV path accept a string as well as a list.
    """
    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    for model, key in (("Network", "sites"), ("Bands", "table"), ("Power", "coefficients")):
        prop = defs[model]["properties"][key]
        original = {k: v for k, v in prop.items() if k not in ("description", "default", "title")}
        keep = {k: prop[k] for k in ("description", "title") if k in prop}
        prop.clear()
        prop.update(keep)
        prop["anyOf"] = [original, {"type": "string", "description": "CSV file path relative to the YAML file"}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
