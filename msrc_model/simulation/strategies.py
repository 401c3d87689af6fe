"""The two baselines of Sec. III: independent operation and static load balancing.

Both run in the same :mod:`msrc_model.simulation.simulator` physics as the MSRC
controller (:mod:`msrc_model.simulation.controller`), on the same realisation.

``independent``
    Every site in normal mode with every carrier on, each user on its
    strongest site, no cooperation; a site takes all the V2G power its parked
    EVs can give (local V2G when an EV is present): what its load does not
    use recharges its battery.
``static``
    Decided once at the outage start and never revised, with no look at
    battery or EV energy. The rule: the third of the sites with the most
    demand of their own (rounded down) become *assisted*, busiest first; each
    is linked to the neighbour (kappa >= kappa_min, Eq. 21) that is not itself
    assisted, has fewer than K_max links (Eq. 22) and has the least demand
    counting what it already took over, which then *helps*. An assisted site with no such
    neighbour stays normal. Assisted sites keep only their B_low carriers and
    the users inside the reduced radius; their other users go to the helper.
    V2G as in ``independent``. The one change the rule makes later: an
    assisted site whose helper has gone dark returns to normal.
"""

from __future__ import annotations

import numpy as np

from ..physics import ASSISTED, HELPING, NORMAL
from .simulator import Decision, SolverEvent, State, World


def home_association(world: World) -> np.ndarray:
    """Each user on its strongest site if that site covers it in normal mode, else -1."""
    return np.where(world.covered_at_start, world.home, -1)


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


def static_roles(world: World) -> tuple[np.ndarray, np.ndarray]:
    """The static rule: (mode per site, active links per edge), see the module docstring."""
    demand = np.bincount(np.maximum(world.home, 0), weights=world.demand * (world.home >= 0), minlength=world.n_site)
    order = np.argsort(-demand, kind="stable")
    candidates = set(order[: world.n_site // 3].tolist())
    mode = np.full(world.n_site, NORMAL)
    links = np.zeros(world.n_edge, dtype=bool)
    link_count = np.zeros(world.n_site, dtype=int)
    max_links = int(world.inputs.max_links)
    for site in order[: world.n_site // 3]:  # a third of the sites, once, at the outage start
        arcs = np.flatnonzero(
            (world.edge_assisted == site)
            & world.kappa_ok
            & ~np.isin(world.edge_helper, list(candidates))
            & (link_count[world.edge_helper] < max_links)
        )
        if arcs.size == 0:
            candidates.discard(int(site))
            continue
        arc = arcs[np.argmin(demand[world.edge_helper[arcs]] + link_count[world.edge_helper[arcs]] * demand[site])]
        helper = world.edge_helper[arc]
        links[arc] = True
        link_count[helper] += 1
        link_count[site] += 1
        mode[site], mode[helper] = ASSISTED, HELPING
    return mode, links


class Static(RuleStrategy):
    """Static load balancing: a fixed geometric / traffic rule at the outage start."""

    name = "static"

    def reset(self, world: World) -> None:
        mode, links = static_roles(world)
        band_on = np.ones((world.n_site, world.n_band), dtype=bool)
        band_on[mode == ASSISTED] = world.low_bands
        users = home_association(world)
        helper_of = np.full(world.n_site, -1)
        helper_of[world.edge_assisted[links]] = world.edge_helper[links]
        home = np.maximum(world.home, 0)
        moved = (world.home >= 0) & (mode[home] == ASSISTED) & ~world.covers(world.home, mode)
        target = helper_of[home]
        reachable = moved & world.covers(np.where(moved, target, -1), mode)
        users = np.where(reachable, target, np.where(moved, -1, users))
        self.decision = Decision(mode, band_on, users, np.full(world.n_site, np.inf), links)
        self.world, self.home_users = world, home_association(world)
        self.known_dark = np.zeros(world.n_site, dtype=bool)

    def decide(self, state: State) -> Decision:
        if (state.dark != self.known_dark).any():
            # the one fallback of the rule: an assisted site whose helper is dark returns to normal
            w, d = self.world, self.decision
            self.known_dark = state.dark.copy()
            orphan = np.zeros(w.n_site, dtype=bool)
            orphan[w.edge_assisted[d.links & state.dark[w.edge_helper]]] = True
            orphan &= d.mode == ASSISTED
            if orphan.any():
                mode = np.where(orphan, NORMAL, d.mode)
                band_on = np.where(orphan[:, None], True, d.band_on)
                mine = (w.home >= 0) & orphan[np.maximum(w.home, 0)]
                users = np.where(mine, self.home_users, d.user_site)
                links = d.links & ~orphan[w.edge_assisted]
                self.decision = Decision(mode, band_on, users, d.ev_request_kw, links)
        return self.decision
