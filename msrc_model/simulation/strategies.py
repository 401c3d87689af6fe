"""The two baselines of Sec. III: independent operation and static load balancing.

Both run in the same :mod:`msrc_model.simulation.simulator` physics as the MSRC
controller (:mod:`msrc_model.simulation.controller`), on the same realisation.

``independent``
    Every site in normal mode with every carrier on, each user on its best
    server (the highest Eq. 7 SINR that clears Gamma_min with every site
    normal), no cooperation; a site takes all the V2G power its parked EVs
    can give (local V2G when an EV is present): what its load does not use
    recharges its battery.
``static``
    Modes and links fixed once at the outage start from what an operator
    knows then (the same information msrc has at t = 0: demand, battery and
    parked-EV energy, the radio map), never revised. The paper does not
    define it; the default rule, ``min-max-life``, is a greedy planner that
    uses the simulator's own physics at t = 0. It takes the site with the
    shortest projected battery life (usable battery and parked-EV energy
    over its power) and relieves it, trying first to switch one of its
    carriers off in normal mode (Eq. 24), and only if no carrier can go, to
    make it assisted or asleep with 1..K_max helpers among its
    kappa-eligible neighbours (Eqs. 21-22), added greedily. It keeps the move
    that lengthens that site's life most, provided the move shortens no
    other site's life below it and no emergency or voice user served at
    its minimum rate with every site normal loses it; it stops when the
    bottleneck site cannot be relieved. The alternatives kept for
    comparison: ``shed-carriers`` (the same planner without cooperation)
    and ``busiest-third`` (the third of the sites with the most demand
    become assisted, each with up to K_max least-loaded eligible helpers,
    skipped when that drops a critical user). ``docs/simulation.md`` has
    the rules' results on the paper scenario's 50 medium-load trials and why
    the default won. Users a site no longer covers go to the linked helper
    with the best SINR at them. V2G as in ``independent``. The one change
    the rule makes later: an assisted or sleeping site whose helpers have
    all gone dark returns to normal.
"""

from __future__ import annotations

import numpy as np

from ..physics import ASSISTED, HELPING, NORMAL, SLEEP, needs_helper, transmitting_carriers
from .simulator import Decision, SolverEvent, State, World


def home_association(world: World) -> np.ndarray:
    """Each user on its best server with every site normal (the highest Eq. 7 SINR that clears Gamma_min), else -1."""
    return world.best_server.copy()


class RuleStrategy:
    """A strategy that solves nothing: its decision is set in :meth:`reset` and returned every step."""

    name = "rule"

    def __init__(self) -> None:
        self.events: list[SolverEvent] = []
        self.decision: Decision | None = None

    def decide(self, state: State) -> Decision:
        return self.decision


class Independent(RuleStrategy):
    """Independent operation: no cooperation, local V2G."""

    name = "independent"

    def reset(self, world: World) -> None:
        self.decision = Decision(
            mode=np.full(world.n_site, NORMAL),
            band_on=np.ones((world.n_site, world.n_band), dtype=bool),
            user_site=home_association(world),
            ev_request_kw=np.full(world.n_site, np.inf),
            links=np.zeros(world.n_edge, dtype=bool),
        )


def _projected_life_h(load_kw: np.ndarray, energy_kwh: np.ndarray) -> np.ndarray:
    """Hours each site lasts at a constant load on the given energy (inf at no load)."""
    return np.where(load_kw > 0, energy_kwh / np.maximum(load_kw, 1e-12), np.inf)


def _energy_at_start_kwh(world: World) -> np.ndarray:
    """Usable battery energy plus the usable energy of the EVs parked at t = 0, per site (kWh at the bus)."""
    battery = world.battery.usable_kwh(world.battery.initial_kwh)
    parked = world.present[:, 0] if world.n_steps else np.zeros(world.n_ev, dtype=bool)  # there at t = 0 (no look-ahead on departures)
    ev = np.where(parked, world.evs.usable_kwh(world.evs.initial_kwh), 0.0)
    return battery + np.bincount(world.evs.site, weights=ev, minlength=world.n_site)


def configured_association(world: World, mode: np.ndarray, links: np.ndarray, band_on: np.ndarray) -> np.ndarray:
    """Users on their best server if its mode still covers them, else on the linked helper with the best SINR at them."""
    best = world.best_server
    keeps = world.covers(best, mode)
    helper_for = np.zeros((world.n_site, world.n_site), dtype=bool)  # [helper, assisted]
    helper_for[world.edge_helper[links], world.edge_assisted[links]] = True
    user = world.pair_user
    home = best[user]
    candidate = (home >= 0) & ~keeps[user] & helper_for[world.pair_site, np.maximum(home, 0)]
    candidate &= world.coverage[np.arange(len(user)), mode[world.pair_site]]
    users = np.where(keeps, best, -1)
    if candidate.any():
        pairs = np.flatnonzero(candidate)
        tx = transmitting_carriers(mode, band_on)
        sinr = world.channel.sinr_db(user[pairs], world.pair_site[pairs], tx)
        sinr = np.where(tx[world.pair_site[pairs]], sinr, -np.inf).max(axis=1)
        pairs, sinr = pairs[sinr >= world.channel.sinr_min_db], sinr[sinr >= world.channel.sinr_min_db]
        order = np.lexsort((-sinr, user[pairs]))
        first = order[np.r_[True, np.diff(user[pairs][order]) != 0]] if order.size else order
        users[user[pairs[first]]] = world.pair_site[pairs[first]]
    return users


def _critical_lost(world: World, rate: np.ndarray, reference_rate: np.ndarray) -> int:
    """Critical users served at their minimum rate in the reference that lose it."""
    minimum = world.inputs.min_rate_mbps.values
    critical = world.class_critical[world.user_class] & (minimum > 0)
    had = critical & (reference_rate >= minimum * (1 - 1e-9))
    return int((rate[had] < minimum[had] * (1 - 1e-9)).sum())


def _evaluate(world: World, mode: np.ndarray, links: np.ndarray, band_on: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    band_on = world.mode_carriers(mode) if band_on is None else band_on
    users = configured_association(world, mode, links, band_on)
    service, load = world.serve_and_draw(mode, band_on, users)
    return load, service.rate_mbps, users


def _link_count(world: World, links: np.ndarray) -> np.ndarray:
    """(site,) active links each site is an end of (Eq. 22)."""
    return np.bincount(world.edge_helper[links], minlength=world.n_site) + np.bincount(world.edge_assisted[links], minlength=world.n_site)


def _eligible_arcs(world: World, site: int, mode: np.ndarray, link_count: np.ndarray) -> np.ndarray:
    """Arcs helper -> site allowed by Eqs. 21-22 whose helper is normal or already helping."""
    max_links = int(world.inputs.max_links)
    return np.flatnonzero(
        (world.edge_assisted == site)
        & world.kappa_ok
        & np.isin(mode[world.edge_helper], (NORMAL, HELPING))
        & (link_count[world.edge_helper] < max_links)
    )


def static_min_max_life(world: World, cooperate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``min-max-life`` rule (module docstring): mode per site, active links per edge, carriers on.

    With ``cooperate=False`` (the ``shed-carriers`` rule) only carriers are switched off.
    """
    mode = np.full(world.n_site, NORMAL)
    links = np.zeros(world.n_edge, dtype=bool)
    band_on = world.mode_carriers(mode)
    energy = _energy_at_start_kwh(world)
    load, reference_rate, _ = _evaluate(world, mode, links, band_on)
    life = _projected_life_h(load, energy)
    max_links = int(world.inputs.max_links)
    widest = int(np.argmax(world.inputs.band_reach_m.values))

    def trial(trial_mode, trial_links, trial_band_on, touched):
        trial_load, rate, _ = _evaluate(world, trial_mode, trial_links, trial_band_on)
        trial_life = _projected_life_h(trial_load, energy)
        return (-_critical_lost(world, rate, reference_rate), trial_life[touched].min()), (trial_mode, trial_links, trial_band_on, trial_life)

    for _ in range(world.n_site * world.n_band):  # each round relieves one bottleneck site at most
        shortest = life.min()
        bottleneck = np.flatnonzero(life <= shortest + 1e-9)
        if (mode[bottleneck] != NORMAL).any():
            break  # a helper or an assisted site is the bottleneck: nothing left to relieve
        site = int(bottleneck[0])
        candidates = []
        # a carrier switched off in normal mode (Eq. 24), the site keeping at least one
        for band in np.flatnonzero(band_on[site]) if band_on[site].sum() > 1 else []:
            trial_band_on = band_on.copy()
            trial_band_on[site, band] = False
            candidates.append(trial(mode, links, trial_band_on, np.array([site])))
        best = _best_relief(candidates, shortest)
        if best is None and cooperate:
            # assisted or asleep with helpers among its eligible neighbours, added greedily
            link_count = _link_count(world, links)
            arcs = _eligible_arcs(world, site, mode, link_count)
            for new_mode in (ASSISTED, SLEEP):
                chosen: list[int] = []
                for _count in range(min(max_links - link_count[site], arcs.size)):
                    pick = None
                    for arc in arcs[~np.isin(arcs, chosen)]:
                        trial_links = links.copy()
                        trial_links[chosen + [arc]] = True
                        trial_mode = mode.copy()
                        trial_mode[site] = new_mode
                        helpers = world.edge_helper[chosen + [arc]]
                        trial_mode[helpers] = HELPING
                        trial_band_on = band_on.copy()
                        trial_band_on[site] = world.mode_carriers(trial_mode)[site]
                        trial_band_on[helpers, widest] = True  # Eq. 5: a helper keeps its widest-reaching band
                        result = trial(trial_mode, trial_links, trial_band_on, np.r_[site, helpers])
                        if pick is None or _better(result[0], pick[0][0]):
                            pick = (result, arc)
                    chosen.append(int(pick[1]))
                    candidates.append(pick[0])
            best = _best_relief(candidates, shortest)
        if best is None:
            break
        mode, links, band_on, life = best
    return mode, links, band_on


# lives (h) within this relative difference are a tie, won by the candidate tried first: a last-bit difference
# in the physics (another order of additions) must not change the rule's choice
LIFE_TIE_REL = 1e-9


def _longer(life: float, than: float) -> bool:
    return life > than + LIFE_TIE_REL * abs(than)


def _better(score: tuple, than: tuple) -> bool:
    """(-critical users lost, life) ``score`` beats ``than``: fewer users lost, else a life longer beyond a tie."""
    return score[0] > than[0] or (score[0] == than[0] and _longer(score[1], than[1]))


def _best_relief(candidates: list, shortest: float):
    """The candidate that lengthens the bottleneck's life most, loses no critical user and shortens no other site below it."""
    best = None
    for (lost, relieved), state in candidates:
        if lost == 0 and relieved > shortest + 1e-9 and state[3].min() >= shortest - 1e-9:
            if best is None or _longer(relieved, best[0]):
                best = (relieved, state)
    return None if best is None else best[1]


def static_busiest_third(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``busiest-third`` rule (module docstring): mode per site, active links per edge, carriers on."""
    best = np.maximum(world.best_server, 0)
    demand = np.bincount(best, weights=world.demand * (world.best_server >= 0), minlength=world.n_site)
    order = np.argsort(-demand, kind="stable")
    mode = np.full(world.n_site, NORMAL)
    links = np.zeros(world.n_edge, dtype=bool)
    _, reference_rate, _ = _evaluate(world, mode, links)
    max_links = int(world.inputs.max_links)
    taken = np.zeros(world.n_site)
    for site in order[: world.n_site // 3]:  # a third of the sites, once, at the outage start
        link_count = _link_count(world, links)
        arcs = _eligible_arcs(world, int(site), mode, link_count)
        if arcs.size == 0:
            continue
        arcs = arcs[np.argsort(demand[world.edge_helper[arcs]] + taken[world.edge_helper[arcs]], kind="stable")][:max_links]
        trial_mode, trial_links = mode.copy(), links.copy()
        trial_mode[site] = ASSISTED
        trial_mode[world.edge_helper[arcs]] = HELPING
        trial_links[arcs] = True
        _, rate, _ = _evaluate(world, trial_mode, trial_links)
        if _critical_lost(world, rate, reference_rate) == 0:
            mode, links = trial_mode, trial_links
            taken[world.edge_helper[arcs]] += demand[site] / arcs.size
    return mode, links, world.mode_carriers(mode)


STATIC_RULES = {
    "min-max-life": static_min_max_life,
    "shed-carriers": lambda world: static_min_max_life(world, cooperate=False),
    "busiest-third": static_busiest_third,
}
"""The static rules; the first is the default (``docs/simulation.md`` compares them)."""


class Static(RuleStrategy):
    """Static load balancing: modes and links fixed at the outage start by one of :data:`STATIC_RULES`."""

    name = "static"

    def __init__(self, rule: str = "min-max-life") -> None:
        super().__init__()
        if rule not in STATIC_RULES:
            raise ValueError(f"static rule {rule!r} is not one of {sorted(STATIC_RULES)}")
        self.rule = rule

    def reset(self, world: World) -> None:
        mode, links, band_on = STATIC_RULES[self.rule](world)
        users = configured_association(world, mode, links, band_on)
        self.decision = Decision(mode, band_on, users, np.full(world.n_site, np.inf), links)
        self.world = world
        self.known_dark = np.zeros(world.n_site, dtype=bool)

    def decide(self, state: State) -> Decision:
        if (state.dark != self.known_dark).any():
            # the one fallback of the rule: an assisted or sleeping site whose helpers are all dark returns to normal
            w, d = self.world, self.decision
            self.known_dark = state.dark.copy()
            links = d.links & ~state.dark[w.edge_helper]
            helped = np.bincount(w.edge_assisted[links], minlength=w.n_site) > 0
            orphan = needs_helper(d.mode) & ~helped & ~state.dark
            if orphan.any():
                mode = np.where(orphan, NORMAL, d.mode)
                band_on = np.where(orphan[:, None], True, d.band_on)
                users = configured_association(w, mode, links, band_on)
                self.decision = Decision(mode, band_on, users, d.ev_request_kw, links)
        return self.decision
