"""Shared fixtures: the repository's paper scenario and a way to run the CLI."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from msrc_model.inputs import build_inputs
from msrc_model.config.loader import load_scenario

REPO = Path(__file__).resolve().parents[1]
PAPER_YAML = REPO / "models" / "msrc.yaml"


def tiny_scenario(
    directory: Path, sites, *, users: int = 10, load: float | None = None, traffic: str = "", extra: str = "", overrides=()
):
    """A few sites at given positions (name, x_m, y_m) on the paper scenario, no EVs, no shadowing, 2 h.

    ``traffic`` and ``extra`` are YAML lines added to the traffic section and at the end.
    """
    rows = "".join(f"    - {{name: {n}, x_m: {x}, y_m: {y}}}\n" for n, x, y in sites)
    path = Path(directory) / "tiny.yaml"
    path.write_text(
        f"extends: {PAPER_YAML}\n"
        f"network:\n  layout: table\n  sites:\n{rows}"
        f"traffic:\n  users: {users}\n" + ("" if load is None else f"  load: {load}\n") + f"  area_side_m: 200\n  hotspot_share: 0\n{traffic}"
        "ev: {enabled: false}\n"
        "radio: {shadowing: false, line_of_sight: nlos}\n"
        "controller: {max_duration_h: 2}\n" + extra,
        encoding="utf-8",
    )
    return load_scenario(path, overrides).scenario


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_msrc(*args: str, cwd: Path | None = None) -> CliResult:
    """Run the installed ``msrc`` command as a user would, in a subprocess."""
    executable = Path(sys.executable).with_name("msrc")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "msrc_model.cli"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=900)  # a net against a hang, not a speed test
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture(autouse=True)
def _linopy_options_untouched():
    """No test (and no msrc code it runs) leaves linopy's process-wide options changed."""
    import linopy

    before = dict(linopy.options._current_values)
    yield
    assert dict(linopy.options._current_values) == before, "linopy's options changed"


@pytest.fixture(scope="session")
def paper_scenario():
    return load_scenario(PAPER_YAML).scenario


@pytest.fixture(scope="session")
def paper_inputs(paper_scenario):
    return build_inputs(paper_scenario, trial=0)
