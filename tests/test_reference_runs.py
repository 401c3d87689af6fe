"""Known runs reproduce the results recorded in ``tests/reference/``.

The summaries were first recorded with the code before the physics layer
and the package layout were introduced (``tests/reference_summary.py`` writes
them), and the move reproduced them to the last digit. ``small.json`` and
the paper-scenario run were recorded again when the simulator began to
recharge site batteries from the parked EVs' surplus (Sec. II-D). All three
were recorded again when every strategy's service began to follow the Eq. 7
SINR, Shannon rates and one scheduler, normal-mode coverage stopped at the
SINR instead of the nominal radius (which the plan sees too) and the per-EV
limit moved to the EV battery; the paper run then became 30 min long
(``msrc-30min.json``) to keep the suite fast. ``small.json`` and ``msrc-30min.json`` were recorded
again when Stage 1 began to choose each normal site's carrier set, Stage 1 to solve to the MIP gap
and the radio problem to round its carriers and re-solve with them fixed. ``plan-small-2h.json`` was recorded again
when the V2G cost term began to be scaled by a fixed reference price instead of the largest posted one (the two
simulated runs did not change). ``small.json`` was recorded again when Stage 1's default became
``previous_start`` (``msrc-30min.json`` did not change), and again when its branch and bound stopped
restarting the root node: another plan within the 0.25 % gap (msrc's service continuity 99.57 % against
99.69 %, mean served share 0.61 against 0.72, T_surv unchanged). ``small.json`` and ``msrc-30min.json``
were recorded again when a user Stage 2 gives no site began to stay on the site the baselines give it (its
best server if that covers it), served by the scheduler from what the carriers have left: msrc's mean served
share 0.61 -> 0.63 and 0.60 -> 0.70, service continuity 99.57 -> 99.60 % and 99.46 -> 99.59 %. Both were recorded again
when the radio problem's second LP began to use the rates of the carriers it keeps and a critical user its rounding left
unreachable got a carrier back: msrc's service continuity 99.60 -> 99.65 % and 99.59 -> 99.61 %, mean served share 0.63 -> 0.68 and
0.696 -> 0.714. When the inputs became float64 and the interference a sum of positive terms (the same
results with numpy's AVX-512 code and without it, the last test here) the three still matched to 1e-6
and were not recorded again; before, msrc-30min.json failed on a machine with AVX-512. msrc-30min.json was
recorded again when the radio LP lost its per-pair rows chi <= z (implied by the band budget) and its tangent
cuts began to read the served ratio through one variable per user: the same LP, another vertex of its optimum
(msrc's mean served share 0.7142 -> 0.7101, service continuity 0.99611 -> 0.99605; small.json unchanged). And again
when every exponential and logarithm began to go through msrc_model.physics.numeric (the same bits on every
processor) and the static rule began to take the first of candidates whose lives tie within 1e-9: static's
service continuity 98.35 -> 97.82 %, the configuration a processor with AVX-512 had given before. A change that alters what the simulator,
the controller or the plan decide shows up here. Runs are compared to solver tolerance: floats to 1e-6
relative, counts exactly.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from reference_summary import summarise

from msrc_model.files.netcdf import read_netcdf

RUNS = {
    "small.json": ("models/small.yaml",),
    "msrc-30min.json": ("models/msrc.yaml", "--set", "controller.max_duration_h=0.5"),
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


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """Every reference run, started at once (they are independent single-threaded processes), then awaited."""
    folder = tmp_path_factory.mktemp("reference-runs")
    executable = Path(sys.executable).with_name("msrc")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]
    started = {}
    for reference, args in RUNS.items():
        output = folder / reference.replace(".json", ".nc")
        process = subprocess.Popen(
            [*command, "solve", *args, "-o", str(output)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        started[reference] = (process, output)
    finished = {}
    for reference, (process, output) in started.items():
        _, stderr = process.communicate(timeout=300)
        finished[reference] = (process.returncode, stderr, output)
    return finished


@pytest.mark.parametrize("reference", sorted(RUNS))
def test_run_reproduces_its_reference(reference, finished_runs):
    returncode, stderr, output = finished_runs[reference]
    assert returncode == 0, stderr
    _, results, _ = read_netcdf(output)
    # the runs stop every solve by work limits; a safety-net clock stop would make the run depend on the machine
    if "stage1_time_limit_hit" in results:
        assert float(results.stage1_time_limit_hit.fillna(0).sum()) == 0, "a Stage-1 solve hit its safety-net clock"
    expected = json.loads((REPO / "tests" / "reference" / reference).read_text())
    assert_close(summarise(output), expected, reference)


# the results that are clocks of this run (s of wall time), not outcomes
WALL_CLOCKS = {
    "decide_time", "run_time", "stage1_solve_time", "stage1_wall_time", "stage1_update_time", "stage1_model_build_time",
    "stage2_solve_time", "stage2_build_time", "stage2_wall_time", "dispatch_solve_time",
}
# numpy's names for its AVX-512 code paths (numpy >= 2.4); NPY_DISABLE_CPU_FEATURES turns them off at start-up
AVX512_PATHS = "X86_V4 AVX512_ICL AVX512_SPR"


def _numpy_dispatches_avx512() -> bool:
    try:  # numpy's record of the code paths it built and the ones this processor runs
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        return False
    return any(__cpu_features__.get(name, False) for name in AVX512_PATHS.split() if name in __cpu_dispatch__)


def test_the_same_results_with_and_without_numpy_avx512(tmp_path):
    """A run gives the same inputs and results, to the last bit, whether numpy computes with its AVX-512 code or without it.

    numpy's exponentials, logarithms and powers differ in the last bits between the two. The inputs were once
    float32 matrices of them: received powers 1e-4 apart moved the static rule's greedy choice (msrc-30min's
    static service continuity 98.35 % without AVX-512, 97.82 % with it). Then, in float64, last-bit differences
    still sent HiGHS down another branch and bound (a 2-h run of models/msrc.yaml: other carriers and users'
    sites). Now every exponential and logarithm goes through :mod:`msrc_model.physics.numeric`, and the two files
    must be the same but for the wall clocks. Only a machine with AVX-512 compares two code paths.
    """
    if not _numpy_dispatches_avx512():
        pytest.skip("numpy runs no AVX-512 code on this machine: both runs would take the same path")
    executable = Path(sys.executable).with_name("msrc")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]
    runs = {}
    for label, extra in (("default", {}), ("without", {"NPY_DISABLE_CPU_FEATURES": AVX512_PATHS})):
        output = tmp_path / f"{label}.nc"
        env = {**os.environ, **extra}
        runs[label] = (subprocess.Popen(
            [*command, "solve", "models/msrc.yaml", "--set", "controller.max_duration_h=0.25", "-o", str(output)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ), output)
    files = {}
    for label, (process, output) in runs.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        files[label] = read_netcdf(output)
    for group in (0, 1):  # inputs, then results
        default, without = files["default"][group], files["without"][group]
        assert sorted(default.data_vars) == sorted(without.data_vars)
        for name in default.data_vars:
            if name in WALL_CLOCKS:
                continue
            a, b = default[name].values, without[name].values
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
