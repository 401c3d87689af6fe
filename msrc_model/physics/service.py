"""Who gets how much: the SINR of Eq. 7, Shannon rates (Eq. 8) and the band scheduler (Eqs. 8-11).

**SINR (Eq. 7).** A user served by site i on band b receives

``SINR = P_i / (sigma^2 + sum_{j != i transmitting b} P_j + P_residual)``

with ``P_j`` the power received from site j on band b (``ranked_rx_dbm`` of
the inputs, EIRP less path loss incl. shadowing), ``sigma^2`` the thermal
noise of the band and ``P_residual`` the power of the sites beyond each
user's ranked ones (counted as always transmitting). A site *transmits* band
b when the carrier is on and the site is awake: a sleeping or dark site and a
switched-off carrier do not interfere (full-buffer interference: every active
carrier interferes at full power, whatever its load).

**Rate (Eq. 8).** On band b a user can get ``chi B log2(1 + SINR)``
(Mbit/s with B in MHz) for a share chi of the band, and nothing below
Gamma_min. **Capacity (Eq. 9)** per band: the shares of a site's users sum to
at most 1 and their rates to at most ``C^(b) (1 - lambda_loss [helping])``.

**Scheduler** (:func:`schedule_rates`). Classes are served in priority
order (largest weight first). Within a class, the shares a strategy set
(Stage 2's chi) are honoured first, scaled down where they break what is
left of a band; what the class still lacks is then filled from what is left,
in proportion to demand: every user of the class at the site gets the same
fraction of what it still lacks. A strategy's shares therefore never take
resources from a higher class. Bands
are filled in order of capacity, largest first, so that the narrow
wide-reach band is left to the users only it reaches. No user gets more
than its demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import sparse

from .modes import awake
from .numeric import db_to_linear, linear_to_db


def shannon_spectral_efficiency(sinr_db: npt.ArrayLike) -> np.ndarray:
    """Shannon spectral efficiency ``log2(1 + SINR)`` in bit/s/Hz from the SINR in dB (Eq. 8).

    Evaluated as ``logaddexp2(0, SINR_dB log2(10) / 10)`` so that very low
    and very high SINR neither underflow nor overflow.
    """
    sinr_log2 = np.asarray(sinr_db, dtype=float) * (math.log2(10.0) / 10.0)
    return np.asarray(np.logaddexp2(0.0, sinr_log2))


@dataclass(frozen=True)
class RadioChannel:
    """The received powers of one realisation and what Eqs. 7-9 need besides (numpy, per user, ranked site and band).

    Attributes
    ----------
    ranked_site:
        (user, site_rank) int: site of each user's rank-th strongest site.
    ranked_rx_mw:
        (user, site_rank, band) mW received from that site on the band.
    residual_mw:
        (user, band) mW received from the sites beyond the ranked ones.
    noise_mw:
        (band,) mW thermal noise incl. the UE noise figure (sigma^2).
    bandwidth_mhz, capacity_mbps:
        (band,) B^(b) in MHz and C^(b) in Mbit/s.
    sinr_min_db:
        Gamma_min in dB.
    n_site:
        number of sites.
    """

    ranked_site: np.ndarray
    ranked_rx_mw: np.ndarray
    residual_mw: np.ndarray
    noise_mw: np.ndarray
    bandwidth_mhz: np.ndarray
    capacity_mbps: np.ndarray
    sinr_min_db: float
    n_site: int

    @classmethod
    def from_data(cls, data: xr.Dataset) -> RadioChannel:
        return cls(
            ranked_site=data.ranked_site.values.astype(np.int64),
            ranked_rx_mw=db_to_linear(data.ranked_rx_dbm.values),
            residual_mw=db_to_linear(data.residual_interference_dbm.values),
            noise_mw=db_to_linear(data.noise_dbm.values),
            bandwidth_mhz=data.bandwidth_mhz.values.astype(float),
            capacity_mbps=data.capacity_mbps.values.astype(float),
            sinr_min_db=float(data.sinr_min_db),
            n_site=data.sizes["site"],
        )

    @property
    def n_user(self) -> int:
        return self.ranked_site.shape[0]

    @cached_property
    def received_by_site(self) -> list[sparse.csr_matrix]:
        """Per band, the (user, site) mW received, sparse: only each user's ranked sites are stored."""
        n_user, n_rank, n_band = self.ranked_rx_mw.shape
        rows = np.repeat(np.arange(n_user), n_rank)
        cols = self.ranked_site.ravel()
        return [
            sparse.csr_matrix((self.ranked_rx_mw[:, :, b].ravel(), (rows, cols)), shape=(n_user, self.n_site))
            for b in range(n_band)
        ]

    def interference_mw(self, transmitting: np.ndarray) -> np.ndarray:
        """(user, band) mW received from every transmitting site plus the residual (the server not yet removed)."""
        on = np.asarray(transmitting, dtype=float)
        return np.stack([matrix @ on[:, b] for b, matrix in enumerate(self.received_by_site)], axis=1) + self.residual_mw

    def _server_rank(self, user: np.ndarray, site: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(users' ranked sites (n, site_rank), the server's entry among them, its rank, whether it is ranked and not -1)."""
        ranked = self.ranked_site[user]
        server = ranked == site[:, None]  # (n, site_rank); at most one rank per site
        return ranked, server, np.argmax(server, axis=1), server.any(axis=1) & (site >= 0)

    def signal_mw(self, user: np.ndarray, site: np.ndarray) -> np.ndarray:
        """(n, band) mW each given user receives from the given site (0 when the site is -1 or not among its ranked sites)."""
        user = np.asarray(user, dtype=np.int64)
        _, _, rank, found = self._server_rank(user, np.asarray(site, dtype=np.int64))
        return np.where(found[:, None], self.ranked_rx_mw[user, rank], 0.0)

    @cached_property
    def _rx_by_band(self) -> list[np.ndarray]:
        """Per band, the (user, site_rank) mW received, each row contiguous."""
        return [np.ascontiguousarray(self.ranked_rx_mw[:, :, b]) for b in range(self.ranked_rx_mw.shape[2])]

    def interference_at_mw(self, user: np.ndarray, site: np.ndarray, transmitting: np.ndarray, silent: np.ndarray | None = None) -> np.ndarray:
        """(n, band) mW each given user receives from the transmitting sites other than its server ``site``, plus the residual.

        The server's own carrier never counts, whether it is on or not; ``silent`` (n,) names, per row, one
        more site taken as silent (e.g. a neighbour asleep), -1 for none. The powers of the other ranked
        sites are added up, never taken as a total less the server's: under a strong server that difference
        kept only the leading digits of the interference, and which digits depended on the machine's vector unit.
        """
        return self._signal_and_interference_mw(user, site, transmitting, silent)[1]

    def _signal_and_interference_mw(
        self, user: np.ndarray, site: np.ndarray, transmitting: np.ndarray, silent: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`signal_mw`, :meth:`interference_at_mw`), from one look-up of the users' ranked sites."""
        user = np.asarray(user, dtype=np.int64)
        site = np.asarray(site, dtype=np.int64)
        on = np.asarray(transmitting, dtype=bool)
        ranked, server, rank, found = self._server_rank(user, site)
        at = user * ranked.shape[1] + rank  # the server's entry in a band's (user, site_rank) powers
        other = ~server
        if silent is not None:
            other &= ranked != np.asarray(silent, dtype=np.int64)[:, None]
        signal = np.empty((len(user), len(self._rx_by_band)))
        interference = np.empty_like(signal)
        for b, received in enumerate(self._rx_by_band):  # a handful of bands
            signal[:, b] = np.where(found, received.ravel()[at], 0.0)
            on_band = np.ascontiguousarray(on[:, b])
            for rows in _row_blocks(len(user)):  # blocks of rows small enough for the cache, each vectorised
                heard = other[rows] & on_band[ranked[rows]]
                interference[rows, b] = np.where(heard, received[user[rows]], 0.0).sum(axis=1)
        return signal, interference + self.residual_mw[user]

    def sinr_db(
        self,
        user: np.ndarray,
        site: np.ndarray,
        transmitting: np.ndarray,
        silent: np.ndarray | None = None,
    ) -> np.ndarray:
        """(n, band) Eq. 7 SINR (dB) of each given user served by the given site; -inf where the site is -1.

        The interference is :meth:`interference_at_mw` (the server's own carrier never counts, whether it
        is on or not; ``silent`` names one more silent site per row, -1 for none).
        """
        signal, interference = self._signal_and_interference_mw(user, site, transmitting, silent)
        return linear_to_db(signal / (self.noise_mw + interference))

    def spectral_efficiency(self, sinr_db: np.ndarray) -> np.ndarray:
        """log2(1 + SINR) in bit/s/Hz, 0 below Gamma_min (Eq. 8 with the decoding threshold of Eq. 6)."""
        return np.where(sinr_db >= self.sinr_min_db, shannon_spectral_efficiency(sinr_db), 0.0)


# rows per block of the interference sums: (rows x site_rank) temporaries that stay in the cache
_ROW_BLOCK = 4096


def _row_blocks(n: int) -> list[slice]:
    return [slice(start, min(start + _ROW_BLOCK, n)) for start in range(0, n, _ROW_BLOCK)]


def transmitting_carriers(mode: np.ndarray, band_on: np.ndarray) -> np.ndarray:
    """(site, band) bool: carriers that radiate, i.e. switched on at an awake site (the interferers of Eq. 7)."""
    return np.asarray(band_on, dtype=bool) & awake(np.asarray(mode))[:, None]


def carrier_totals(site: np.ndarray, values: np.ndarray, n_site: int) -> np.ndarray:
    """(site, band) sums of per-user (user, band) values over each user's serving site; a user on -1 counts nothing."""
    site = np.asarray(site, dtype=np.int64)
    n_band = values.shape[1]
    keep = site >= 0
    cell = (site[keep][:, None] * n_band + np.arange(n_band)[None, :]).ravel()
    return np.bincount(cell, weights=np.asarray(values)[keep].ravel(), minlength=n_site * n_band).reshape(n_site, n_band)


def deliver(
    channel: RadioChannel,
    site: np.ndarray,
    carriers_on: np.ndarray,
    transmitting: np.ndarray,
    band_capacity_mbps: np.ndarray,
    demand_mbps: np.ndarray,
    user_class: np.ndarray,
    class_order: np.ndarray,
    initial_share: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eqs. 7-9 for users on given sites: (SINR dB, rate Mbit/s, share), each (user, band).

    ``site`` (user,) is each user's server (-1: none); ``carriers_on`` (site,
    band) the carriers a server may use; ``transmitting`` (site, band) the
    carriers that interfere (Eq. 7); ``band_capacity_mbps`` (site, band) the
    Eq. 9 capacity. The SINR is -inf for a user on no site.
    """
    site = np.asarray(site, dtype=np.int64)
    sinr = np.full((channel.n_user, len(channel.bandwidth_mhz)), -np.inf)
    mine = np.flatnonzero(site >= 0)
    sinr[mine] = channel.sinr_db(mine, site[mine], transmitting)
    usable = (site >= 0)[:, None] & np.asarray(carriers_on, dtype=bool)[np.maximum(site, 0)]
    efficiency = np.where(usable, channel.spectral_efficiency(sinr), 0.0)
    rate, share = schedule_rates(
        site, efficiency, channel.bandwidth_mhz, band_capacity_mbps, demand_mbps, user_class, class_order, initial_share
    )
    return sinr, rate, share


def schedule_rates(
    site: np.ndarray,
    spectral_efficiency: np.ndarray,
    bandwidth_mhz: np.ndarray,
    band_capacity_mbps: np.ndarray,
    demand_mbps: np.ndarray,
    user_class: np.ndarray,
    class_order: np.ndarray,
    initial_share: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rates (Mbit/s) and band shares per user and band from the scheduler of this module.

    Parameters
    ----------
    site:
        (user,) serving site, -1 for none.
    spectral_efficiency:
        (user, band) bit/s/Hz at the serving site, 0 where the user cannot be
        served on the band (carrier off, below Gamma_min).
    bandwidth_mhz:
        (band,) B^(b), MHz.
    band_capacity_mbps:
        (site, band) Mbit/s each carrier may carry (Eq. 9), 0 when off.
    demand_mbps, user_class:
        (user,) D_u and the class index.
    class_order:
        class indices, served first to last.
    initial_share:
        (user, band) shares chi a strategy set, or None.

    Returns
    -------
    rate_mbps, share:
        (user, band) each, with ``rate = share B efficiency``, at most the
        demand summed over bands, shares summing to at most 1 and rates to at
        most the capacity per site and band.
    """
    site = np.asarray(site, dtype=np.int64)
    n_site, n_band = band_capacity_mbps.shape
    served = site >= 0
    at = np.maximum(site, 0)
    per_share = np.where(served[:, None], spectral_efficiency * bandwidth_mhz[None, :], 0.0)  # Mbit/s per unit share
    usable = per_share > 0

    def per_carrier(users: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(site, band) sums of (len(users), band) values over the users' sites, where usable."""
        return carrier_totals(site[users], np.where(usable[users], values, 0.0), n_site)

    rate = np.zeros_like(per_share)
    share = np.zeros_like(per_share)
    share_left = np.where(band_capacity_mbps > 0, 1.0, 0.0)
    capacity_left = np.asarray(band_capacity_mbps, dtype=float).copy()
    band_order = np.argsort(-band_capacity_mbps.max(axis=0, initial=0.0), kind="stable")
    wanted = None if initial_share is None else np.clip(np.asarray(initial_share, dtype=float), 0.0, 1.0)
    for c in class_order:  # four classes at most; inside, only the class's served users
        members = np.flatnonzero(served & (user_class == c))
        if members.size == 0:
            continue
        if wanted is not None:
            # the strategy's shares for this class, scaled into what is left of each carrier and capped at demand
            given = np.where(usable[members], wanted[members], 0.0)
            rate_per_share = per_share[members]
            cell_sites = at[members]
            given = given * np.minimum(1.0, share_left / np.maximum(per_carrier(members, given), 1e-300))[cell_sites]
            given = given * np.minimum(1.0, capacity_left / np.maximum(per_carrier(members, given * rate_per_share), 1e-300))[cell_sites]
            user_rate = (given * rate_per_share).sum(axis=1)
            given = given * np.minimum(1.0, demand_mbps[members] / np.maximum(user_rate, 1e-300))[:, None]
            rate[members] += given * rate_per_share
            share[members] += given
            share_left = np.maximum(share_left - per_carrier(members, given), 0.0)
            capacity_left = np.maximum(capacity_left - per_carrier(members, given * rate_per_share), 0.0)
        missing = np.maximum(demand_mbps[members] - rate[members].sum(axis=1), 0.0)
        for b in band_order:  # a handful of bands
            pick = usable[members, b] & (missing > 0)
            if not pick.any():
                continue
            users = members[pick]
            need_rate = missing[pick]
            need_share = need_rate / per_share[users, b]
            user_site = at[users]
            rate_sum = np.bincount(user_site, weights=need_rate, minlength=n_site)
            share_sum = np.bincount(user_site, weights=need_share, minlength=n_site)
            fraction = np.minimum(
                1.0,
                np.minimum(capacity_left[:, b] / np.maximum(rate_sum, 1e-300), share_left[:, b] / np.maximum(share_sum, 1e-300)),
            )
            granted = need_rate * fraction[user_site]
            rate[users, b] += granted
            share[users, b] += need_share * fraction[user_site]
            missing[pick] = np.maximum(need_rate - granted, 0.0)
            capacity_left[:, b] = np.maximum(capacity_left[:, b] - rate_sum * fraction, 0.0)
            share_left[:, b] = np.maximum(share_left[:, b] - share_sum * fraction, 0.0)
    return rate, share


def best_servers(channel: RadioChannel, pair_user: np.ndarray, pair_site: np.ndarray, transmitting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's best server among its candidate pairs: the site with the highest Eq. 7 SINR on any band.

    Returns ``(site, sinr_db)`` per user: -1 and -inf for users no candidate
    site reaches at Gamma_min with the given carriers transmitting.
    """
    n_user = channel.n_user
    if len(pair_user) == 0:
        return np.full(n_user, -1), np.full(n_user, -np.inf)
    sinr = channel.sinr_db(pair_user, pair_site, transmitting)
    sinr = np.where(np.asarray(transmitting, dtype=bool)[pair_site], sinr, -np.inf).max(axis=1)
    best = np.full(n_user, -np.inf)
    np.maximum.at(best, pair_user, sinr)
    is_best = (sinr == best[pair_user]) & (sinr >= channel.sinr_min_db)
    site = np.full(n_user, -1)
    chosen = np.flatnonzero(is_best)[::-1]  # the first (strongest-ranked) pair wins ties
    site[pair_user[chosen]] = pair_site[chosen]
    return site, np.where(site >= 0, best, -np.inf)
