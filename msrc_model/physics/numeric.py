"""Exponentials and logarithms with the same last bits on every machine.

numpy evaluates ``exp``, ``log``, ``log10`` and ``power`` with other code on a processor with
AVX-512 than on one without, and the two differ in the last bit of about 5 % of the values
(200,000 random arguments: 10,602 powers of ten, 12,540 base-10 logarithms, 9,142 exponentials).
The solvers react to such bits: a branch and bound takes another path, an LP returns another
vertex of its optimum, and a run's decisions differ between two machines. Every exponential
and logarithm that reaches the inputs, the physics or a model therefore goes through this
module, built on :mod:`scipy.special`, whose compiled functions do not change with the
processor (the same 200,000 arguments: no difference).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

_LOG2_E = 1.0 / math.log(2.0)  # exp(x) = 2^(x log2 e)
_DB_PER_NEPER_POWER = 10.0 / math.log(10.0)  # 10 log10(x) = (10 / ln 10) ln x


# Each function is a numpy ufunc of scipy.special on float64 (float32 values are widened first: the float32
# loops would keep float32 precision): arrays give arrays, xarray objects xarray objects.


def _float64(x: Any) -> Any:
    return x.astype(np.float64) if hasattr(x, "dims") else np.asarray(x, dtype=np.float64)


def exp(x: Any) -> Any:
    """``e^x``, elementwise."""
    return special.exp2(_float64(x) * _LOG2_E)


def log1p(x: Any) -> Any:
    """``ln(1 + x)``, elementwise, exact for small ``x``."""
    return special.log1p(_float64(x))


def log10(x: Any) -> Any:
    """Base-10 logarithm, elementwise; 0 gives ``-inf``."""
    return special.xlogy(1.0 / math.log(10.0), _float64(x))


def db_to_linear(x_db: Any) -> Any:
    """``10^(x / 10)``: a value in dB (or dBm) as a linear ratio (or mW); ``-inf`` gives 0."""
    return special.exp10(_float64(x_db) / 10.0)


def linear_to_db(x: Any) -> Any:
    """``10 log10(x)``: a linear ratio (or mW) in dB (or dBm); 0 gives ``-inf``."""
    return special.xlogy(_DB_PER_NEPER_POWER, _float64(x))
