"""Property tests: a mutated shipped scenario is either refused with located errors or builds finite inputs.

Two kinds of mutation of ``models/small.yaml`` (with what it extends):

- structural: keys replaced by values of any YAML type and size (huge and
  negative numbers, ``.inf``/``.nan``, text, lists, mappings), scaled by
  powers of ten, deleted, or unknown keys added;
- textual: nasty YAML tokens (tags, anchors, aliases, brackets, tabs, NUL,
  document markers) inserted anywhere in the file's text.

Each mutated file goes through :func:`load_scenario`. Either it raises a
:class:`ScenarioError` whose every issue is one line naming a place or a key,
or the scenario is valid and :func:`build_inputs` gives inputs with no NaN
and no infinity (``residual_interference_dbm`` may be -inf dBm: a user with
no interferer beyond its ranked sites receives zero power from them).

``MSRC_FUZZ_EXAMPLES`` sets the number of examples per property (default 30,
the same ones on every run); ``MSRC_FUZZ_RANDOM=1`` draws new examples. A
longer run, as in ``docs/architecture.md``::

    MSRC_FUZZ_RANDOM=1 MSRC_FUZZ_EXAMPLES=2000 python -m pytest tests/test_scenario_fuzz.py
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from msrc_model.config.errors import ScenarioError
from msrc_model.config.loader import TABLE_KEYS, _read_with_parents, load_scenario
from msrc_model.config.size import GIB, memory_estimate
from msrc_model.inputs import build_inputs

EXAMPLES = int(os.environ.get("MSRC_FUZZ_EXAMPLES", "30"))
#: Fixed examples in CI; ``MSRC_FUZZ_RANDOM=1`` draws new ones (for the longer runs).
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("MSRC_FUZZ_RANDOM"), database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Inputs that may hold -inf: dBm of a zero power.
MAY_BE_MINUS_INF = {"residual_interference_dbm"}
#: Largest run the property builds inputs for (larger valid ones are only validated).
BUILD_LIMIT_BYTES = 1.5 * GIB


def _base() -> dict[str, Any]:
    data, sources = _read_with_parents(REPO / "models" / "small.yaml")
    data.pop("variants", None)
    for section, key in TABLE_KEYS:  # table paths made absolute, so the file can live anywhere
        value = data.get(section, {}).get(key)
        if isinstance(value, str):
            data[section][key] = str((sources.find((section, key)).base_dir / value).resolve())
    return data


BASE = _base()
BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return found
    for key, value in items:
        found.append(prefix + (key,))
        found.extend(_paths(value, prefix + (key,)))
    return found


PATHS = _paths(BASE)

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["1e400", "nan", "-inf", "", "0", "-1", "1e9", "bands.csv", "a\x00b"]),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)

MUTATION = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), VALUES),
    st.tuples(st.just("scale"), st.sampled_from(PATHS), st.integers(min_value=-8, max_value=9)),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("add"), st.sampled_from([()] + PATHS), st.text(min_size=1, max_size=8)),
)

TOKENS = [
    "!!int x", "!!float", "!!timestamp", "!!binary", "!!python/name:os.getcwd", "!local", "&a", "*a", "&a [*a]",
    "[", "]", "{", "}", ":", ": ", "- ", "? ", "\t", "\x00", "\ufeff", ".inf", ".nan", "-.inf", "1e400", "---\n",
    "...\n", "%YAML 1.1\n", "'", '"', "#", "\n  ", "\n", "|\n", ">\n", "é", "\U0001f600", "<<: *a\n", "~",
]


def _apply(data: dict[str, Any], mutation: tuple) -> None:
    kind, path, arg = mutation
    parent: Any = data
    for part in path[:-1]:
        if isinstance(parent, dict) and part in parent:
            parent = parent[part]
        elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
            parent = parent[part]
        else:
            return  # an earlier mutation removed the way there
    if kind == "add":
        target = parent[path[-1]] if path and _has(parent, path[-1]) else (data if not path else None)
        if isinstance(target, dict):
            target[arg] = 1
        return
    if not path or not _has(parent, path[-1]):
        return
    if kind == "set":
        parent[path[-1]] = arg
    elif kind == "delete":
        del parent[path[-1]]
    elif kind == "scale":
        value = parent[path[-1]]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[path[-1]] = type(value)(value * 10**arg) if isinstance(value, float) or arg >= 0 else value * 10.0**arg


def _has(parent: Any, key: Any) -> bool:
    return (isinstance(parent, dict) and key in parent) or (isinstance(parent, list) and isinstance(key, int) and key < len(parent))


def _check(path: Path) -> None:
    try:
        loaded = load_scenario(path)
    except ScenarioError as exc:
        assert exc.issues
        for issue in exc.issues:
            text = str(issue)
            assert issue.message, text
            assert issue.where or issue.path, f"issue with no place or key: {text}"
            assert "\n" not in text, f"issue over several lines: {text!r}"
        return
    scenario = loaded.scenario
    if sum(t.bytes for t in memory_estimate(scenario)) > BUILD_LIMIT_BYTES:
        return  # valid, but too large to build in a test
    try:
        inputs = build_inputs(scenario)
    except ScenarioError as exc:  # valid keys whose product overflows: refused, naming the input
        (issue,) = exc.issues
        assert "overflow" in issue.message and "\n" not in str(issue), str(issue)
        return
    for name, variable in inputs.variables.items():
        if variable.dtype.kind != "f":
            continue
        values = np.asarray(variable.values)
        assert not np.isnan(values).any(), f"{name} holds NaN"
        if name in MAY_BE_MINUS_INF:
            assert not np.isposinf(values).any(), f"{name} holds +inf"
        else:
            assert np.isfinite(values).all(), f"{name} holds an infinity"


@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_structural_mutations_are_refused_or_build_finite_inputs(mutations):
    data = yaml.safe_load(BASE_TEXT)
    for mutation in mutations:
        _apply(data, mutation)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        _check(path)


@FUZZ
@given(st.lists(st.tuples(st.floats(min_value=0.0, max_value=1.0), st.sampled_from(TOKENS)), min_size=1, max_size=4))
def test_text_mutations_are_refused_or_build_finite_inputs(insertions):
    text = BASE_TEXT
    for where, token in insertions:
        at = math.floor(where * len(text))
        text = text[:at] + token + text[at:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.yaml"
        path.write_text(text, encoding="utf-8")
        _check(path)
