"""Known runs reproduce the results recorded in ``tests/reference/``.

The summaries were recorded with the code before the physics layer and the
package layout were introduced (``tests/reference_summary.py`` writes them),
and the move reproduced them. The ``msrc`` entries of ``small.json`` and
``msrc-1h.json`` were recorded again once, when Stage 1 stopped planning
battery charging that the simulator never performs; the baselines and the
plan are still the pre-move values. A change that alters what the
simulator, the controller or the plan decide shows up here. Runs are compared to solver tolerance: floats to 1e-6
relative, counts exactly.
"""

from __future__ import annotations

import json
import math

import pytest
from conftest import REPO, run_msrc
from reference_summary import summarise

RUNS = {
    "small.json": ("models/small.yaml",),
    "msrc-1h.json": ("models/msrc.yaml", "--set", "controller.max_duration_h=1"),
    "plan-small-2h.json": ("models/plan-small.yaml", "--set", "controller.max_duration_h=2"),
}


def assert_close(actual, expected, where: str) -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{where}[{i}]")
    elif expected is None:
        assert actual is None, f"{where}: {actual} where the reference has none"
    elif isinstance(expected, float):
        assert actual is not None and math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9), f"{where}: {actual} != {expected}"
    else:
        assert actual == expected, f"{where}: {actual} != {expected}"


@pytest.mark.parametrize("reference", sorted(RUNS))
def test_run_reproduces_its_reference(reference, tmp_path):
    output = tmp_path / "run.nc"
    result = run_msrc("solve", *RUNS[reference], "-o", str(output))
    assert result.returncode == 0, result.stderr
    expected = json.loads((REPO / "tests" / "reference" / reference).read_text())
    assert_close(summarise(output), expected, reference)
