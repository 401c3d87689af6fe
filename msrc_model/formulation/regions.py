"""Regions: a large cluster cut into groups of neighbouring sites, each solved as its own problem.

The paper's two stages are solved for one cluster of 19 sites. A city of
hundreds of sites makes each stage one problem too large for the controller's
period (``docs/performance.md``), so the online controller splits the sites
into regions of at most ``controller.region_max_sites`` sites and solves
Stage 1 and the Stage-2 radio problem per region (``docs/simulation.md``).

* :func:`bisect_regions` cuts the sites by recursive coordinate bisection:
  the set is split at the median of its wider axis until every part has at
  most the given number of sites. Parts are compact and of nearly equal size,
  and the cut depends only on the positions (ties by site index), so it is
  the same on every run.
* :func:`select_region` takes one region's part of model data
  (:func:`msrc_model.formulation.data.model_data`, with or without the
  site-level data): its sites, the cooperation arcs between two of them, the
  users whose home site is one of them (the controller: the best server, where
  Stage 1's site-level data counts their traffic), the pairs of those users
  with those sites, and the EVs parked at them. Site, user, pair and arc
  indices are renumbered within the region. The received-power table of the
  Eq. 7 SINR (``ranked_*``, ``residual_interference_dbm``) is dropped: a
  region's rates and coverage are computed by the caller on the whole
  cluster, interference from every other region included.

What a region loses: cooperation across its border (a helper serves only
sites of its own region) and service of a user by a site of another region.
A cluster no larger than ``region_max_sites`` is one region, solved exactly as
before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

#: Variables of the Eq. 7 received-power table, per user and ranked site: a region's caller computes SINR on the whole cluster.
RANKED_VARIABLES = ("ranked_site", "ranked_rx_dbm", "residual_interference_dbm")


def bisect_regions(positions_m: np.ndarray, max_sites: int) -> list[np.ndarray]:
    """Site indices per region: recursive coordinate bisection of ``positions_m`` ((site, 2) x, y in m).

    A set of more than ``max_sites`` sites is split at the median of the axis along which it is wider
    (sites sorted by that coordinate, ties by index; the first half gets the smaller half when the
    count is odd). Regions are returned sorted by their lowest site index, each in increasing order.
    """
    positions = np.asarray(positions_m, dtype=float)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions_m must have shape (site, 2), got {positions.shape}")
    if int(max_sites) < 1:
        raise ValueError(f"max_sites must be at least 1, got {max_sites!r}")
    pending = [np.arange(positions.shape[0])]
    regions: list[np.ndarray] = []
    while pending:  # one pass per region, about 2 n / max_sites of them
        sites = pending.pop()
        if sites.size <= max_sites:
            if sites.size:
                regions.append(sites)
            continue
        points = positions[sites]
        axis = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
        order = sites[np.lexsort((sites, points[:, axis]))]
        half = sites.size // 2
        pending += [np.sort(order[:half]), np.sort(order[half:])]
    return sorted(regions, key=lambda r: int(r[0]))


@dataclass(frozen=True)
class Region:
    """One region's part of the cluster, as indices into the whole cluster's arrays."""

    sites: np.ndarray  #: site indices, increasing
    users: np.ndarray  #: users whose home site is in the region, increasing
    pairs: np.ndarray  #: pairs of those users with the region's sites, in the cluster's order
    edges: np.ndarray  #: cooperation arcs with both ends in the region, in the cluster's order
    evs: np.ndarray  #: EVs parked at the region's sites

    @classmethod
    def of(cls, data: xr.Dataset, sites: np.ndarray, home: np.ndarray) -> "Region":
        """The region of ``sites`` in ``data``; ``home`` is the site whose region each user belongs to (-1: none, in no region)."""
        sites = np.sort(np.asarray(sites, dtype=int))
        inside = np.zeros(data.sizes["site"], dtype=bool)
        inside[sites] = True
        users = np.flatnonzero((home >= 0) & inside[np.maximum(home, 0)])
        mine = np.zeros(data.sizes["user"], dtype=bool)
        mine[users] = True
        pairs = np.flatnonzero(mine[data.pair_user.values] & inside[data.pair_site.values])
        edges = np.flatnonzero(inside[data.edge_helper.values] & inside[data.edge_assisted.values])
        evs = np.flatnonzero(inside[data.ev_site.values]) if "ev_site" in data else np.zeros(0, dtype=int)
        return cls(sites, users, pairs, edges, evs)

    @classmethod
    def whole(cls, data: xr.Dataset) -> "Region":
        """The whole cluster of ``data`` as one region: every site, user, pair, arc and EV."""
        every = {dim: np.arange(data.sizes.get(dim, 0)) for dim in ("site", "user", "pair", "edge", "ev")}
        return cls(every["site"], every["user"], every["pair"], every["edge"], every["ev"])


def _renumber(index: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
    """``values`` (indices into a dimension of ``size``) as positions in ``index`` (-1 where not in it)."""
    position = np.full(size, -1, dtype=np.int64)
    position[index] = np.arange(index.size)
    return position[np.asarray(values, dtype=np.int64)]


def select_region(data: xr.Dataset, region: Region) -> xr.Dataset:
    """``data`` restricted to ``region``, with its site, user, pair, arc and EV indices renumbered within it."""
    part = data.drop_vars([v for v in RANKED_VARIABLES if v in data]).drop_dims("site_rank", errors="ignore")
    part = part.isel(site=region.sites, user=region.users, pair=region.pairs, edge=region.edges)
    if "ev" in part.dims:
        part = part.isel(ev=region.evs)
    n_site, n_user, n_edge = data.sizes["site"], data.sizes["user"], data.sizes["edge"]
    renumbered = {
        "pair_user": _renumber(region.users, n_user, part.pair_user.values),
        "pair_site": _renumber(region.sites, n_site, part.pair_site.values),
        "edge_helper": _renumber(region.sites, n_site, part.edge_helper.values),
        "edge_assisted": _renumber(region.sites, n_site, part.edge_assisted.values),
        "edge_reverse": _renumber(region.edges, n_edge, part.edge_reverse.values),
    }
    if "ev_site" in part:
        renumbered["ev_site"] = _renumber(region.sites, n_site, part.ev_site.values)
    for name, values in renumbered.items():
        part[name] = part[name].copy(data=values.astype(part[name].dtype))
    # the coordinates of the renumbered dimensions count from 0 again, as in a cluster of its own
    for dim in ("user", "pair", "edge", "ev"):
        if dim in part.coords:
            part = part.assign_coords({dim: part[dim].copy(data=np.arange(part.sizes[dim]))})
    return part


def cluster_regions(data: xr.Dataset, positions_m: np.ndarray, home: np.ndarray, max_sites: int) -> list[Region]:
    """The regions of at most ``max_sites`` sites of the cluster in ``data`` (:func:`bisect_regions`).

    ``home`` (user,) is the site whose region each user belongs to (the controller: its best server), -1 for none.

    A cluster of at most ``max_sites`` sites is one region, :meth:`Region.whole`: every user, including
    those with no home site, and every pair.
    """
    parts = bisect_regions(positions_m, max_sites)
    if len(parts) <= 1:
        return [Region.whole(data)]
    return [Region.of(data, sites, home) for sites in parts]
