"""Who can be served by whom: each user's home site and coverage per mode (Eqs. 5-6).

A candidate user-site pair (``pair`` dimension of the inputs) may carry the
user's traffic when the site's mode radius reaches the user (the distance
condition of Eq. 6 with the radii of Eq. 5); whether it does also depends on
the SINR of the moment (:mod:`msrc_model.physics.service`):

========  ==============================================================
mode      pairs covered
========  ==============================================================
normal    every candidate pair: R_eff is the reach of the carriers on
          (Eq. 5), i.e. where the SINR clears Gamma_min, so the SINR
          decides; the nominal radius R_nom describes a cell, it does not
          exclude a user its best server reaches
helping   every candidate pair (the expanded radius R_exp bounds the pairs)
assisted  users within the reduced radius R_red R_nom
sleep     none
dark      none
========  ==============================================================
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def home_site(data: xr.Dataset) -> np.ndarray:
    """Index of each user's strongest feasible site (``pair_rank`` 0), -1 for users with none."""
    home = np.full(data.sizes["user"], -1)
    users = data.pair_user.values
    if len(users) == 0:
        return home
    order = np.lexsort((data.pair_rank.values, users))
    first = order[np.r_[True, np.diff(users[order]) != 0]]
    home[users[first]] = data.pair_site.values[first]
    return home


def pair_mode_coverage(data: xr.Dataset) -> np.ndarray:
    """(pair, mode) bool for the five mode codes of :mod:`msrc_model.physics.modes`: the site covers the user."""
    pairs = data.sizes["pair"]
    return np.stack(
        [
            np.ones(pairs, dtype=bool),  # the SINR decides (see the module)
            np.ones(pairs, dtype=bool),  # every pair lies within R_exp by construction
            data.pair_in_assisted_radius.values.astype(bool),
            np.zeros(pairs, dtype=bool),
            np.zeros(pairs, dtype=bool),
        ],
        axis=1,
    )
