"""The package layout is layered: imports run one way, with no cycle.

Every module of ``msrc_model`` belongs to a layer (its subpackage, or
``cli`` / the package root). ``ALLOWED`` says which layers each may import;
it is the table of ``docs/architecture.md``. The imports are read from the
source (every ``import``, also those inside functions), so a wrong arrow
fails here on every CI run, not at run time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "msrc_model"

# layer -> the layers it may import (besides itself)
ALLOWED = {
    "physics": set(),
    "files": set(),
    "config": set(),
    "inputs": {"config", "physics"},
    "formulation": {"physics"},
    "hosts": {"formulation", "physics"},  # the cluster inside other models: msrc_model/hosts/pypsa.py (optional extra)
    "problems": {"formulation", "physics", "config"},
    "simulation": {"problems", "formulation", "physics", "config"},
    "study": {"simulation", "problems", "inputs", "config", "files", "physics"},
    "cli": {"study", "simulation", "problems", "inputs", "config", "files", "physics", "formulation"},
    "root": {"config", "inputs", "files"},  # msrc_model/__init__.py: the public entry points
}
# modules that must not reach optimisation code, even indirectly
NO_OPTIMISATION = ("msrc_model.physics", "msrc_model.simulation.simulator", "msrc_model.simulation.metrics", "msrc_model.simulation.strategies")
OPTIMISATION_LAYERS = {"formulation", "problems"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    return parts[1]


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(module: str, path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """(project modules, third-party top-level names) that a module imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    project, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (project if alias.name.split(".")[0] == "msrc_model" else external).add(
                    alias.name if alias.name.startswith("msrc_model") else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("msrc_model"):
                target = node.module
            else:
                external.add((node.module or "").split(".")[0])
                continue
            for alias in node.names:  # "from . import radio" names a module
                sub = f"{target}.{alias.name}"
                project.add(sub if sub in known else target)
    return {m for m in project if m in known}, external


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    known = modules()
    edges, external = {}, {}
    for module, path in known.items():
        edges[module], external[module] = imports_of(module, path, known)
    return edges, external


def test_every_module_belongs_to_a_layer():
    unknown = {m for m in modules() if layer_of(m) not in ALLOWED}
    assert not unknown, f"modules outside the layers of ALLOWED: {sorted(unknown)}"


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Imports from one layer into a layer it may not import."""
    return sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        for target in targets
        if layer_of(target) != layer_of(source) and layer_of(target) not in ALLOWED[layer_of(source)]
    )


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_imports_run_down_the_layers():
    edges, _ = graph()
    wrong = violations(edges)
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_cycle():
    edges, _ = graph()
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_simulator_and_baselines_reach_no_optimisation_code():
    edges, external = graph()
    for start in NO_OPTIMISATION:
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            todo.extend(edges[module])
        reached = sorted(m for m in seen if layer_of(m) in OPTIMISATION_LAYERS)
        assert not reached, f"{start} reaches {reached}"
        assert not any("linopy" in external[m] or "highspy" in external[m] for m in seen), start


def test_simulator_imports_no_linopy_at_run_time():
    code = (
        "import sys; import msrc_model.simulation.simulator, msrc_model.simulation.metrics, "
        "msrc_model.simulation.strategies, msrc_model.physics; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('linopy', 'highspy')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_checks_see_a_wrong_arrow_and_a_cycle():
    """The checks are not vacuous: an upward import and a cycle planted in the real graph are found."""
    edges, _ = graph()
    assert "msrc_model.physics.power" in edges and edges["msrc_model.simulation.simulator"]  # the graph was read
    planted = {**edges, "msrc_model.physics.power": edges["msrc_model.physics.power"] | {"msrc_model.formulation.power"}}
    assert violations(planted) == ["msrc_model.physics.power -> msrc_model.formulation.power"]
    assert find_cycle(planted) is not None  # formulation.power imports physics, so this closes a loop


def test_architecture_doc_names_every_layer():
    text = (REPO / "docs" / "architecture.md").read_text()
    for layer in ALLOWED:
        if layer not in ("root", "cli"):
            assert f"`{layer}/`" in text, layer
