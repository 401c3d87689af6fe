"""Monte Carlo sweeps: many independent outage realisations, run on Dask.

A scenario's ``sweep`` section declares the trials and the swept keys; every
combination of a swept value and a trial index is one *point*: one
realisation (:func:`msrc_model.inputs.build_inputs` with that trial index)
on which every strategy of ``run.strategies`` is simulated. Points are
independent, so they run in parallel on a Dask cluster: by default a local
cluster of ``sweep.workers`` processes, or any running ``dask.distributed``
scheduler given by address.

**Resuming.** Each finished point is written at once to its own file in
``<output>.points/`` (atomically, by the process that submitted the sweep,
so remote workers need no shared disk). A point file's name carries a hash
of what decides the point's results: its complete scenario but for the
name, the description and the output path (:func:`point_identity_yaml`),
its trial index and the msrc version, so a changed scenario never reuses
stale points. A change of the code within one msrc version is not in the
key: after changing what a point computes, start from an empty points
folder. Running the same command again reads the points already on disk
and runs only the missing ones: the final file is the same, byte for byte,
as that of an uninterrupted run, because a point's results do not depend on
when, where or in which order it ran (the solvers stop at work limits, not
clock limits, and run single-threaded). A point file that does not open
(damaged outside msrc: msrc writes them atomically) is renamed
``*.nc.damaged`` (``-1``, ``-2``, ... after an earlier one), kept, and its
point runs again.

**Sharing points between sweeps.** ``sweep.reuse`` names the results files
of other sweeps; a point of this sweep whose hash matches a finished point in
one of their points folders is copied from there instead of run again (the
same scenario, seed and trial give the same results). The sensitivity
studies take their middle value from the paper's study this way.

**Failures.** A point that raises is recorded in ``point_error`` with its
error message, its metrics are NaN, and the sweep goes on. Failed points are
not cached, so the next run tries them again.

**Statistics** (:mod:`msrc_model.study.statistics`). For every metric: the
mean over trials and the half-width of its 95 % confidence interval (Student
t with n - 1 degrees of freedom, n the trials with a value), as
``<metric>_mean`` and ``<metric>_ci95``; and T_surv paired, msrc against each
baseline trial by trial (``survival_time_difference`` and its statistics).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import shutil
import time as _time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import xarray as xr

from ..config.loader import LoadedScenario, load_scenario, scenario_to_yaml
from ..files.atomic import atomic_write
from ..config.scenario import Scenario
from .statistics import add_paired_statistics, add_statistics, critical_service_or_run_length

# per-point metrics kept in a sweep: (variable, dims besides strategy)
POINT_METRICS = (
    "survival_time",
    "survival_censored",
    "all_dark_time",
    "critical_service_time",
    "service_continuity",
    "ev_utilisation",
    "ev_energy_taken",
    "handovers_per_user",
    "mode_switches_per_site",
    "v2g_cost",
    "solver_fallbacks",
    "served_share_table3",
    "table3_time",
)
# per-point series kept, averaged over sites: (new name, source, long name)
POINT_SERIES = (
    ("battery_energy_average", "battery_energy", "battery energy averaged over the sites (Fig. 2)"),
)


@dataclass(frozen=True)
class Point:
    """One point of a sweep: a value of every swept key and a trial index."""

    index: tuple[int, ...]  # position along each sweep dimension, then the trial
    coords: dict[str, Any]  # dimension -> coordinate label, and trial
    scenario_yaml: str
    trial: int

    identity_yaml: str  # what decides its results (point_identity_yaml)

    @property
    def key(self) -> str:
        """Content hash of what decides the point's results: its scenario (point_identity_yaml), trial and the msrc version."""
        from ..inputs import msrc_version

        text = json.dumps([self.identity_yaml, self.trial, msrc_version()])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def file_name(self) -> str:
        label = "_".join(f"{dim}={safe_label(value)}" for dim, value in self.coords.items())
        return f"{label}_{self.key}.nc"

    @property
    def label(self) -> str:
        return ", ".join(f"{dim} {value}" for dim, value in self.coords.items())


def safe_label(value: Any) -> str:
    """``value`` as text fit for a file name: letters, digits, ``-`` and ``.`` kept, anything else ``-``."""
    return "".join(c if c.isalnum() or c in "-." else "-" for c in str(value))


def sweep_dims(scenario: Scenario) -> dict[str, list[Any]]:
    """Sweep dimensions and their coordinates, in order, ending with ``trial``."""
    dims = {
        name: list(dim.labels) if dim.labels is not None else list(dim.values)
        for name, dim in scenario.sweep.dimensions.items()
    }
    dims["trial"] = list(range(scenario.sweep.trials))
    return dims


def point_scenario_yaml(scenario: Scenario) -> str:
    """The complete scenario text of one point: the scenario with its sweep section emptied."""
    return scenario_to_yaml(scenario.model_copy(update={"sweep": type(scenario.sweep)()}))


def point_identity_yaml(scenario: Scenario) -> str:
    """The part of a point's scenario that decides its results, as text: all but the name, description, output and sweep.

    Two sweeps whose points agree on this (and on the trial index) compute the
    same results, whatever they are called and wherever they write.
    """
    neutral = {"name": "point", "description": "", "output": type(scenario.output)(), "sweep": type(scenario.sweep)()}
    return scenario_to_yaml(scenario.model_copy(update=neutral))


def sweep_points(loaded: LoadedScenario) -> list[Point]:
    """Every point of the scenario's sweep; each combination's scenario is validated here, before anything runs.

    Raises
    ------
    ScenarioError
        When a swept value makes the scenario invalid, naming the key and value.
    """
    scenario = loaded.scenario
    dims = scenario.sweep.dimensions
    points = []
    for combo in itertools.product(*[range(len(d.values)) for d in dims.values()]):
        overrides = [override for d, i in zip(dims.values(), combo) for override in d.overrides(i)]
        if overrides:
            point_scenario = load_scenario(loaded.source, (*loaded.overrides, *overrides), loaded.variant).scenario
        else:
            point_scenario = scenario
        text = point_scenario_yaml(point_scenario)
        identity = point_identity_yaml(point_scenario)
        labels = {name: (d.labels or d.values)[i] for (name, d), i in zip(dims.items(), combo)}
        for trial in range(scenario.sweep.trials):
            points.append(Point((*combo, trial), {**labels, "trial": trial}, text, trial, identity))
    return points


def run_point(scenario_yaml: str, trial: int) -> xr.Dataset:
    """Simulate every strategy on one realisation; the point's metrics (runs on a worker).

    The returned Dataset holds only what is reproducible (no wall times)
    besides the ``point_wall_time`` attribute.
    """
    import logging

    from ..inputs import build_inputs
    from ..config.loader import scenario_from_yaml
    from ..simulation.outage import run_outage

    logging.getLogger("linopy").setLevel(logging.ERROR)
    started = _time.perf_counter()
    scenario = scenario_from_yaml(scenario_yaml)
    inputs = build_inputs(scenario, trial=trial)
    results = run_outage(scenario, inputs)
    point = results[[m for m in POINT_METRICS if m in results]]
    for name, source, long_name in POINT_SERIES:
        point[name] = results[source].mean("site").assign_attrs(units=results[source].attrs.get("units", ""), long_name=long_name)
    point = point.drop_vars([c for c in point.coords if c not in ("strategy", "class", "time")])
    point.attrs = {
        "point_wall_time_s": float(_time.perf_counter() - started),
        "trial": int(trial),
        SOLVER_EVENTS_ATTR: solver_events_text(results),
    }
    # where the time went (kept in the point file only: wall times are not reproducible)
    for strategy in results.strategy.values:
        point.attrs[f"run_time_{strategy}_s"] = float(results.run_time.sel(strategy=strategy))
    for name in ("stage1_solve_time", "stage2_solve_time", "stage2_build_time", "dispatch_solve_time"):
        if name in results:
            values = results[name].values
            point.attrs[f"{name}_total_s"] = float(np.nansum(values))
            point.attrs[f"{name}_calls"] = int(np.isfinite(values).sum())
    return point


#: Point-file attribute listing the failed solves the controller fell back from (reproducible: no wall times).
SOLVER_EVENTS_ATTR = "solver_events"
#: Event separator in that attribute and in the combined ``point_solver_events``.
SOLVER_EVENTS_SEPARATOR = "; "


def solver_events_text(results: xr.Dataset) -> str:
    """A run's failed solves, one ``<strategy> <stage> at <h> h: <solver status>`` each, in run order; empty: none."""
    if "solver_event_stage" not in results or results.sizes.get("solver_event", 0) == 0:
        return ""
    return SOLVER_EVENTS_SEPARATOR.join(
        f"{strategy} {stage} at {time_s / 3600.0:.4f} h: {reason}"
        for strategy, stage, time_s, reason in zip(
            results.solver_event_strategy.values, results.solver_event_stage.values,
            results.solver_event_time.values, results.solver_event_reason.values,
        )
    )


def _write_atomic(dataset: xr.Dataset, path: Path) -> None:
    with atomic_write(path) as temporary:
        dataset.to_netcdf(temporary, engine="netcdf4")


#: Suffix a point file of this sweep's own folder gets when it does not open (it is kept, and the point runs again).
DAMAGED_SUFFIX = ".damaged"


def load_point(path: Path) -> xr.Dataset | None:
    """A finished point's data from its file; None when the file does not open as a point (truncated, not NetCDF, no T_surv)."""
    try:
        data = xr.load_dataset(path)
    except (OSError, ValueError, RuntimeError):
        return None
    return data if "survival_time" in data else None


def points_folder(output: Path) -> Path:
    """Where the finished points of the sweep writing ``output`` are kept."""
    return output.with_name(output.name + ".points")


@dataclass
class SweepRun:
    """What a sweep did: the combined results and how the points went."""

    results: xr.Dataset
    reused: int  # points found finished on disk (in this sweep's folder or, copied, from sweep.reuse)
    ran: int
    failed: int
    wall_time_s: float
    point_wall_times_s: list[float]
    copied: int = 0  # of the reused points, those copied from the points of sweep.reuse
    damaged: list[Path] = field(default_factory=list)  # this sweep's point files that did not open, renamed (*.damaged) and run again


#: How long to try to reach a Dask scheduler given by address, s.
SCHEDULER_CONNECT_TIMEOUT_S = 10


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int, connect_timeout_s: float = SCHEDULER_CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A Dask client: of the scheduler at ``scheduler`` (tried for ``connect_timeout_s`` s), or of a local cluster of ``workers`` processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            with Client(cluster) as client:
                yield client
    else:
        with Client(scheduler, timeout=f"{connect_timeout_s}s") as client:
            yield client


def execute(points: list[Point], client: Any, function: Callable) -> Iterator[tuple[Point, Any, str]]:
    """Run ``function(scenario_yaml, trial)`` for each point on Dask; yield (point, result, error) as they finish."""
    from dask.distributed import as_completed

    futures = {}
    for point in points:
        future = client.submit(function, point.scenario_yaml, point.trial, key=f"msrc-point-{point.key}", pure=False)
        futures[future] = point
    for future in as_completed(futures):
        point = futures.pop(future)
        if future.status == "finished":
            yield point, future.result(), ""
        else:
            error = future.exception()
            yield point, None, "".join(traceback.format_exception_only(type(error), error)).strip()
        future.release()


def run_sweep(
    loaded: LoadedScenario,
    output: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    connect_timeout_s: float = SCHEDULER_CONNECT_TIMEOUT_S,
    progress: Callable[[int, int, Point, str], None] | None = None,
    function: Callable[[str, int], xr.Dataset] = run_point,
) -> SweepRun:
    """Run (or resume) the scenario's sweep; the combined results, with statistics.

    Parameters
    ----------
    loaded:
        The scenario, as read by :func:`msrc_model.config.loader.load_scenario`.
    output:
        The final results file; finished points go to ``<output>.points/``.
    scheduler:
        Address of a running Dask scheduler (``tcp://host:8786``); empty: a
        local cluster of ``workers`` processes (default ``sweep.workers``).
    connect_timeout_s:
        How long to try to reach ``scheduler``, s.
    progress:
        ``progress(done, total, point, error)`` after each point.
    function:
        What runs one point (tests replace it to simulate failures).
    """
    started = _time.perf_counter()
    scenario = loaded.scenario
    points = sweep_points(loaded)
    folder = points_folder(output)
    finished: dict[tuple[int, ...], xr.Dataset] = {}
    errors: dict[tuple[int, ...], str] = {}
    damaged: list[Path] = []
    for point in points:
        path = folder / point.file_name
        if not path.exists():
            continue
        data = load_point(path)
        if data is None:  # kept aside, not deleted: the point runs again and its new file takes the name
            aside = path.with_name(path.name + DAMAGED_SUFFIX)
            copies = 0
            while aside.exists():  # an earlier damaged copy of the same point stays too
                copies += 1
                aside = path.with_name(f"{path.name}{DAMAGED_SUFFIX}-{copies}")
            path.replace(aside)
            damaged.append(aside)
        else:
            finished[point.index] = data
    copied = copy_shared_points([p for p in points if p.index not in finished], scenario, folder)
    finished.update(copied)
    reused = len(finished)
    todo = [p for p in points if p.index not in finished]
    wall_times = [float(ds.attrs.get("point_wall_time_s", np.nan)) for ds in finished.values()]
    if progress is not None and reused:
        progress(reused, len(points), points[0], "")
    if todo:
        with dask_client(scheduler, workers or scenario.sweep.workers, connect_timeout_s) as client:
            for point, result, error in execute(todo, client, function):
                if error:
                    errors[point.index] = error
                else:
                    _write_atomic(result, folder / point.file_name)
                    finished[point.index] = result
                    wall_times.append(float(result.attrs.get("point_wall_time_s", np.nan)))
                if progress is not None:
                    progress(len(finished) + len(errors), len(points), point, error)
    results = combine_points(scenario, points, finished, errors)
    return SweepRun(
        results, reused, len(todo) - len(errors), len(errors), _time.perf_counter() - started, wall_times, len(copied), damaged
    )


def copy_shared_points(points: list[Point], scenario: Scenario, folder: Path) -> dict[tuple[int, ...], xr.Dataset]:
    """Copy into ``folder`` the finished points of the sweeps in ``sweep.reuse`` that match ``points``; point index -> its data.

    A point matches a file of another sweep's points folder whose name ends
    with the point's key (the same scenario but for name, description and
    output, the same trial, the same msrc version). A results file named in
    ``sweep.reuse`` whose points folder does not exist yet gives nothing; a
    file that does not open is left there, and its point is run.
    """
    copied: dict[tuple[int, ...], xr.Dataset] = {}
    sources = [points_folder(Path(path)) for path in scenario.sweep.reuse]
    sources = [source for source in sources if source.is_dir() and source.resolve() != folder.resolve()]
    if not sources:
        return copied
    found: dict[str, Path] = {}
    for source in sources:
        for path in source.glob("*.nc"):
            found.setdefault(path.stem.rsplit("_", 1)[-1], path)
    for point in points:
        path = found.get(point.key)
        if path is None:
            continue
        data = load_point(path)
        if data is None:  # damaged: not copied
            continue
        with atomic_write(folder / point.file_name) as temporary:
            shutil.copyfile(path, temporary)
        copied[point.index] = data
    return copied


def combine_points(
    scenario: Scenario, points: list[Point], finished: dict[tuple[int, ...], xr.Dataset], errors: dict[tuple[int, ...], str]
) -> xr.Dataset:
    """One Dataset with the sweep dimensions (then ``trial``) in front of each point's variables, and the statistics."""
    dims = sweep_dims(scenario)
    shape = tuple(len(v) for v in dims.values())
    template = next(iter(finished.values()), None)
    combined = xr.Dataset(coords={name: (name, np.asarray(values)) for name, values in dims.items()})
    for name, dim in scenario.sweep.dimensions.items():
        combined[name].attrs.update({"long_name": f"swept scenario key {dim.key}"})
        if dim.labels is not None:
            combined = combined.assign_coords({f"{name}_value": (name, np.asarray(dim.values))})
            combined[f"{name}_value"].attrs["long_name"] = f"value of {dim.key} (unit of the key, docs/scenario.md)"
        for other, values in dim.also.items():  # the keys set with each value
            coordinate = f"{name}_{other.strip().replace('.', '_')}"
            combined = combined.assign_coords({coordinate: (name, np.asarray(values))})
            combined[coordinate].attrs["long_name"] = f"value of {other.strip()} set with {dim.key} (unit of the key, docs/scenario.md)"
    combined["trial"].attrs.update({"long_name": "Monte Carlo trial index (with the seed, fixes every random draw)"})
    error_text = np.full(shape, "", dtype=object)
    for index, message in errors.items():
        error_text[index] = message
    combined["point_error"] = (tuple(dims), error_text, {"long_name": "error of a point that failed (empty: it ran)"})
    events = np.full(shape, "", dtype=object)
    for index, ds in finished.items():
        if SOLVER_EVENTS_ATTR in ds.attrs:
            events[index] = str(ds.attrs[SOLVER_EVENTS_ATTR])
        elif "solver_fallbacks" in ds and float(ds.solver_fallbacks.sum()) > 0:  # a point file written before they were kept
            events[index] = "not recorded in this point file"
    combined["point_solver_events"] = (
        tuple(dims), events,
        {"long_name": "failed solves the controller fell back from in the point, '<strategy> <stage> at <h> h: <solver status>', "
                      f"separated by '{SOLVER_EVENTS_SEPARATOR}' (empty: none)"},
    )
    if template is not None:
        combined = combined.assign_coords({c: template[c] for c in template.coords})
        for name, variable in template.data_vars.items():
            values = np.full(shape + variable.shape, np.nan)  # float: a failed point is NaN (booleans become 0/1)
            for index, ds in finished.items():
                values[index] = ds[name].values
            combined[name] = ((*dims, *variable.dims), values, dict(variable.attrs))
        if "critical_service_time" in combined:  # its mean leaves out the runs that never lost critical service; this one counts them
            combined["critical_service_time_or_run_length"] = critical_service_or_run_length(combined, scenario.controller.max_duration_h)
        combined = add_paired_statistics(add_statistics(combined))
    combined.attrs.update(
        {
            "title": f"msrc Monte Carlo sweep: {scenario.name}",
            "points": len(points),
            "points_failed": len(errors),
            "trials": scenario.sweep.trials,
            "max_duration_h": scenario.controller.max_duration_h,
            "sweep_dimensions": " ".join(dims),
        }
    )
    return combined
