"""Mode codes of a site (Sec. II-A), and the fifth state an outage adds.

A site is in exactly one of the paper's four cooperation modes, or *dark*:
out of energy, drawing nothing and serving no one. The codes index the
``mode`` dimension of the formulation (the four modes) and the ``mode``
variable of every results file (the four modes and dark).
"""

from __future__ import annotations

import numpy as np

NORMAL, HELPING, ASSISTED, SLEEP, DARK = range(5)
MODES = ("normal", "helping", "assisted", "sleep")  # the four cooperation modes, by code
MODE_NAMES = (*MODES, "dark")  # every state a site can be in, by code


def awake(mode: np.ndarray) -> np.ndarray:
    """Sites that transmit: neither in deep sleep nor dark."""
    mode = np.asarray(mode)
    return (mode != SLEEP) & (mode != DARK)


def needs_helper(mode: np.ndarray) -> np.ndarray:
    """Sites that hand users to a helper (Eqs. 20-21): assisted or asleep."""
    return np.isin(mode, (ASSISTED, SLEEP))
