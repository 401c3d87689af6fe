"""The inputs layer: from a validated scenario to the inputs Dataset of one realisation.

``build`` draws the users, the channel and the EVs of a trial and assembles
the Dataset; ``radio`` is the TR 38.901 UMa channel and the Shannon rates;
``geometry`` the hexagonal layout, lens areas and kappa (Eq. 1).
"""

from .build import build_inputs, msrc_version

__all__ = ["build_inputs", "msrc_version"]
