"""Solving a linopy model with HiGHS and reporting what happened.

A failed solve is a result, not a crash: :func:`solve_model` returns a
:class:`SolveReport` whose ``has_solution`` says whether primal values exist
(optimal, or the incumbent at a time limit) and whose ``conflicts`` name the
constraints of an irreducible infeasible subset when the model is infeasible.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import linopy
import numpy as np
import xarray as xr
from linopy import solvers as linopy_solvers

from ..config.scenario import Solver


@dataclass
class SolveReport:
    """Outcome of one solve.

    Attributes
    ----------
    status, termination:
        linopy's status (``ok``, ``warning``) and termination condition
        (``optimal``, ``time_limit``, ``infeasible``, ...).
    has_solution:
        Primal values are available (optimal, or a feasible incumbent).
    objective, dual_bound, gap:
        Objective value, best bound and relative MIP gap (NaN when unknown).
    solve_time_s:
        Wall time of the solver call, s.
    conflicts:
        For an infeasible model, the constraints (with coordinates) of an
        irreducible infeasible subset found by HiGHS.
    """

    status: str
    termination: str
    has_solution: bool
    objective: float = float("nan")
    dual_bound: float = float("nan")
    gap: float = float("nan")
    solve_time_s: float = 0.0
    conflicts: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """One line saying how the solve ended."""
        if self.termination == "infeasible":
            listed = "; ".join(self.conflicts[:6]) + (" ..." if len(self.conflicts) > 6 else "")
            return f"infeasible: constraints in conflict: {listed}" if self.conflicts else "infeasible"
        if self.has_solution:
            gap = "" if self.gap != self.gap else f", gap {100 * self.gap:.2f} %"
            return f"{self.termination}{gap}"
        return f"{self.termination}: no feasible solution found"


STARTED_MIP_OPTIONS: dict[str, Any] = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_effort": 0.0,
    "mip_allow_restart": False,
}
"""HiGHS options for a MIP given a near-optimal start: no sub-MIP or search heuristics, only the branch and bound.

On Stage-1 models of ``models/msrc.yaml`` the sub-MIPs (RINS, RENS, the root reduced-cost one) took most of
each solve; given the rounded start, the branch and bound alone reached the gap within a few nodes
(``docs/performance.md``). Nor does the root node restart (presolving again after fixing columns by their
reduced costs): on 16 captured Stage-1 models, started at their optimum, that took the median time to a
0.25 % gap from 0.91 s to 0.50 s, every one still at the root node.
"""


def highs_options(solver: Solver, time_limit_s: float | None = None, mip_gap: float | None = None) -> dict[str, Any]:
    """HiGHS options from the scenario's solver section (overrides win)."""
    options: dict[str, Any] = {
        "time_limit": float(time_limit_s if time_limit_s is not None else solver.time_limit_s),
        "mip_rel_gap": float(mip_gap if mip_gap is not None else solver.mip_gap),
        "log_to_console": False,
        "output_flag": False,
    }
    if solver.threads is not None:
        options["threads"] = solver.threads
    options.update(solver.options)
    return options


class PersistentSolver:
    """A linopy model kept built in HiGHS between solves.

    The model is passed to HiGHS once; each :meth:`solve` hands HiGHS only
    what changed in the linopy model since the last one (bounds, right-hand
    sides, coefficients, objective: linopy's persistent solver interface)
    and writes the primal solution back onto the model's variables, as
    :func:`solve_model` does; not the duals, which no caller reads. A change
    of structure (a new variable or constraint, a new sparsity pattern) makes
    linopy build the HiGHS model again; :attr:`rebuilds` counts those.
    """

    def __init__(self, model: linopy.Model) -> None:
        self.model = model
        self.solver: linopy_solvers.Solver | None = None

    @property
    def rebuilds(self) -> int:
        """How many times the HiGHS model was built again after the first build."""
        return 0 if self.solver is None else int(self.solver._rebuilds)

    def solve(
        self, options: dict[str, Any], start: np.ndarray | None = None, cold_start: bool = False, write_back: bool = True
    ) -> SolveReport:
        """Solve with ``options`` (HiGHS option names) and report as :func:`solve_model` (no conflict analysis).

        ``start`` is a value per HiGHS column (:meth:`column_values` of an earlier solve), given to a MIP as its
        first incumbent. With ``cold_start`` HiGHS forgets the last solve's basis and solution first, so the
        result is the one a fresh build of the same model gives, whatever was solved before. Without
        ``write_back`` the solution stays in HiGHS only (:meth:`column_values`): the model's variables keep the
        values of the last solve written back, and linopy's status is not changed (the report has this solve's).
        """
        started = time.perf_counter()
        with _quiet_stdout():
            if self.solver is None:
                self.solver = linopy_solvers.Solver.from_name("highs", self.model, io_api="direct", track_updates=True)
            else:
                self.solver.update(self.model)
            highs = self.solver.solver_model
            highs.resetOptions()  # options are per solve: none is left over from the one before
            if cold_start:
                highs.clearSolver()
            for key, value in options.items():
                highs.setOptionValue(key, value)
            if "time_limit" in options and self._solves_an_lp(options):
                # HiGHS checks an LP's time limit against the run time summed over every solve of this
                # HiGHS object (a MIP's against its own start): without the offset a kept LP stops at once
                # when its earlier solves add up to the limit
                highs.setOptionValue("time_limit", highs.getRunTime() + float(options["time_limit"]))
            if start is not None:
                solution = highspy.HighsSolution()
                solution.col_value = list(start)
                solution.value_valid = True
                highs.setSolution(solution)
            result = self.solver.solve()
            if not write_back:
                status, termination = str(result.status.status.value), str(result.status.termination_condition.value)
                return _report(self.model, status, termination, time.perf_counter() - started, highs)
            if result.solution is not None:  # no caller reads duals: writing them back cost as much as the primal values
                result.solution.dual = np.array([], dtype=float)
            self.model.assign_result(result, solver=self.solver)
        return _report(self.model, str(self.model.status), str(self.model.termination_condition), time.perf_counter() - started)

    def cancel(self) -> None:
        """Ask a solve of this model running now (in another thread) to stop; no effect when none runs."""
        if self.solver is not None:
            with contextlib.suppress(Exception):  # a HiGHS without the interrupt flag: the solve runs to its limit
                self.solver.solver_model.cancelSolve()

    def _solves_an_lp(self, options: dict[str, Any]) -> bool:
        """No integer variable, or its relaxation asked for."""
        return bool(options.get("solve_relaxation", False)) or not (len(self.model.binaries) or len(self.model.integers))

    def column_values(self) -> np.ndarray:
        """The last solution's value per HiGHS column (the order a ``start`` is given in)."""
        return np.asarray(self.solver.solver_model.getSolution().col_value, dtype=float)

    def variable_values(self, *variables: linopy.Variable) -> list[xr.DataArray]:
        """The variables' values in the last solution, read from HiGHS (what ``variable.solution`` holds after a write-back).

        For a solve without ``write_back``: the values come straight from HiGHS's columns, without writing every
        variable of the model back. Entries without a column (masked labels) are NaN.
        """
        column_labels = self.model.variables.label_index.vlabels  # HiGHS column i holds the variable labelled column_labels[i]
        by_label = np.full(self.model._xCounter, np.nan)
        by_label[column_labels] = self.column_values()
        out = []
        for variable in variables:
            labels = variable.labels
            values = np.where(labels.values >= 0, by_label[np.maximum(labels.values, 0)], np.nan)
            out.append(xr.DataArray(values, coords=labels.coords, dims=labels.dims))
        return out


def solve_model(model: linopy.Model, options: dict[str, Any], diagnose: bool = True) -> SolveReport:
    """Solve with HiGHS through linopy's direct interface and report the outcome.

    With ``diagnose`` an infeasible model's irreducible infeasible subset is
    computed and named in the report (slow on large models: loops that
    solve again and again pass false and report the infeasibility alone).
    """
    start = time.perf_counter()
    with _quiet_stdout():
        status, termination = model.solve(solver_name="highs", io_api="direct", **options)
    report = _report(model, str(status), str(termination), time.perf_counter() - start)
    if report.termination == "infeasible" and diagnose:
        with _quiet_stdout():
            report.conflicts = infeasible_constraints(model)
    return report


def _report(model: linopy.Model, status: str, termination: str, elapsed: float, highs: Any = None) -> SolveReport:
    """The :class:`SolveReport` of the solve whose HiGHS model ``highs`` (default: ``model``'s) holds."""
    report = SolveReport(status, termination, has_solution=False, solve_time_s=elapsed)
    highs = model.solver_model if highs is None else highs
    if highs is not None:
        info = highs.getInfo()
        report.has_solution = info.primal_solution_status == 2  # feasible
        report.objective = float(info.objective_function_value) if report.has_solution else float("nan")
        if model.type.startswith("MI") or "I" in model.type:
            report.dual_bound = float(info.mip_dual_bound)
            report.gap = float(info.mip_gap) if report.has_solution else float("nan")
    return report


_quiet_lock = threading.Lock()
_quiet_depth = 0  #: solves (in any thread) inside a quiet window now
_quiet_saved: tuple[int, int] | None = None  #: (stdout's descriptor, a copy of what it pointed to)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence the solver library's banner, written straight to file descriptor 1.

    Descriptor 1 belongs to the process, so the window is shared: the first solve to enter it (in any
    thread) points the descriptor at the null device, the last to leave points it back. Regions solved in
    threads (``controller.region_threads``) thus cannot leave standard output pointing at the null device.
    """
    global _quiet_depth, _quiet_saved
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured streams without a descriptor
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            sys.stdout.flush()
            saved = os.dup(fd)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
            _quiet_saved = (fd, saved)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                sys.stdout.flush()
                fd, saved = _quiet_saved
                os.dup2(saved, fd)
                os.close(saved)
                _quiet_saved = None


def infeasible_constraints(model: linopy.Model) -> list[str]:
    """Names (with coordinates) of the constraints of an irreducible infeasible subset."""
    try:
        labels = model.compute_infeasibilities()
    except Exception as exc:  # the IIS is a diagnosis: never let it hide the infeasibility
        return [f"(no conflict analysis: {exc})"]
    names = []
    for label in labels:
        name, coords = model.constraints.get_label_position(label)
        where = ", ".join(f"{k}={v}" for k, v in coords.items())
        names.append(f"{name}[{where}]")
    return names
