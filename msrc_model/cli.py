"""The ``msrc`` command line.

Exit status: 0 success; 2 the input is wrong (scenario, options, files), with
one line per problem and no traceback; 1 a run failed for another reason.
Every command runs inside one error boundary (:func:`_boundary`): a problem
with the input is reported as ``error: WHERE: WHAT``; anything unexpected as
one ``internal error:`` line, with the traceback only under ``msrc --debug``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional

import numpy as np
import typer

from .config.errors import Issue, ScenarioError

app = typer.Typer(
    name="msrc",
    help="Multi-Site Resiliency Cooperative: keep a mobile network alive through a grid outage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ScenarioFile = Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="Override a scenario key, KEY=VALUE (repeatable), e.g. traffic.load=1.8."),
]
VariantOption = Annotated[
    Optional[str], typer.Option("--variant", "-v", help="Apply a named variant of the scenario (e.g. heavy).")
]


_OPTIONS = {"debug": False}


@app.callback()
def _main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an internal error.")] = False,
) -> None:
    """Multi-Site Resiliency Cooperative: keep a mobile network alive through a grid outage."""
    _OPTIONS["debug"] = debug


def _boundary(command: Callable[..., None]) -> Callable[..., None]:
    """Run a command inside the CLI's one error boundary.

    A :class:`ScenarioError` becomes its ``error:`` lines and exit status 2;
    an interruption exits 130; running out of memory, or any other exception,
    one line (``internal error: ...``) and exit status 1, with the traceback
    only under ``--debug``.
    """

    @functools.wraps(command)
    def guarded(*args, **kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except ScenarioError as exc:
            _fail(exc.issues)
        except KeyboardInterrupt:
            typer.echo("error: interrupted", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            if _OPTIONS["debug"] or not _stdout_is_broken():
                raise  # another pipe or socket (a worker, a scheduler): an error like any other
            # the reader of standard output went away (msrc validate ... | head -1): nothing is wrong with the run;
            # point the descriptor at the null device so that Python's own flush at exit does not fail again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise typer.Exit(141) from None
        except MemoryError:
            if _OPTIONS["debug"]:
                raise
            typer.echo("error: out of memory (lower the scenario's size, see run.memory_limit_gib)", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            if _OPTIONS["debug"]:
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            typer.echo(
                f"internal error: {type(exc).__name__}: {first} (re-run as msrc --debug {command.__name__} ... for the traceback)",
                err=True,
            )
            raise typer.Exit(1) from None

    return guarded


def _stdout_is_broken() -> bool:
    """Whether standard output's reader has gone away (a write to it fails with a broken pipe)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # no descriptor, or no poll on this system
        return False
    return any(flags & select.POLLERR for _, flags in events)  # the write end of a pipe whose reader closed


def _command(function: Callable[..., None]) -> Callable[..., None]:
    """``@app.command()`` with the error boundary."""
    return app.command()(_boundary(function))


def _check_output(path: Path, option: str = "--output", *, folder: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work starts."""
    from .files.atomic import prepare_output

    problem = prepare_output(path, folder=folder)
    if problem:
        _fail([Issue(str(path), option, problem)])


def _check_scheduler(address: str | None) -> None:
    """Refuse a scheduler address that is not ``[scheme://]host:port``, before anything starts."""
    import re

    if address is not None and not re.fullmatch(r"([a-z][a-z0-9+.-]*://)?[^\s:/]+:\d{1,5}", address):
        _fail([Issue("--scheduler", "", f"= {address!r}: not a scheduler address (expected tcp://HOST:PORT)")])


def _fail(issues: list[Issue]) -> None:
    for issue in issues:
        typer.echo(f"error: {issue}", err=True)
    raise typer.Exit(2)


@_command
def validate(scenario: ScenarioFile, set_: SetOption = None, variant: VariantOption = None) -> None:
    """Check a scenario (and each of its variants); print ok and its size, or every error."""
    from .config.loader import load_scenario, variant_names

    overrides = tuple(set_ or ())
    base = load_scenario(scenario, overrides, variant)
    problems: list[Issue] = []
    lines = [f"ok: {scenario}{f' (variant {variant})' if variant else ''}: {base.scenario.size_summary()}"]
    if variant is None:
        for name in variant_names(scenario):
            try:
                loaded = load_scenario(scenario, overrides, name)
            except ScenarioError as exc:
                problems.extend(Issue(i.where, i.path, f"{i.message} (variant {name})") for i in exc.issues)
            else:
                lines.append(f"ok: variant {name}: {loaded.scenario.size_summary()}")
    if problems:
        _fail(problems)
    for line in lines:
        typer.echo(line)


@_command
def schema(
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="json (JSON Schema for editors) or markdown (reference).")
    ] = "json",
) -> None:
    """Print the scenario format: its JSON Schema, or the Markdown reference."""
    from .config.reference import scenario_reference_markdown
    from .config.scenario import scenario_json_schema

    if output_format == "json":
        typer.echo(json.dumps(scenario_json_schema(), indent=2))
    elif output_format == "markdown":
        typer.echo(scenario_reference_markdown(), nl=False)
    else:
        _fail([Issue("--format", "", f"= {output_format!r}: must be json or markdown")])


@_command
def inputs(
    scenario: ScenarioFile,
    output: Annotated[Path, typer.Option("--output", "-o", help="NetCDF file to write (group /inputs).")],
    trial: Annotated[int, typer.Option("--trial", "-t", min=0, max=2**63 - 1, help="Monte Carlo trial index.")] = 0,
    set_: SetOption = None,
    variant: VariantOption = None,
) -> None:
    """Build the inputs Dataset of a scenario and write it to NetCDF."""
    from .inputs import build_inputs
    from .config.loader import load_scenario
    from .files.netcdf import write_netcdf

    loaded = load_scenario(scenario, tuple(set_ or ()), variant)
    _check_output(output)
    dataset = build_inputs(loaded.scenario, trial=trial)
    attrs = {"msrc_version": dataset.attrs["msrc_version"], "scenario_yaml": dataset.attrs["scenario_yaml"], **loaded.provenance()}
    try:
        write_netcdf(output, inputs=dataset, attrs=attrs)
    except OSError as exc:
        _fail([Issue(str(output), "--output", f"cannot write: {exc.strerror or exc}")])
    sizes = ", ".join(f"{name} {size}" for name, size in dataset.sizes.items())
    typer.echo(f"wrote {output}: {sizes}")


@_command
def solve(
    scenario: ScenarioFile,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="NetCDF results file (default: the scenario's output.path).")
    ] = None,
    trial: Annotated[
        Optional[int], typer.Option("--trial", "-t", min=0, max=2**63 - 1, help="Monte Carlo trial index of a single run (default 0; not with a sweep).")
    ] = None,
    set_: SetOption = None,
    variant: VariantOption = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option("--scheduler", help="Sweep only: address of a running Dask scheduler (tcp://host:8786) that runs the points; default: local worker processes."),
    ] = None,
    workers: Annotated[
        Optional[int], typer.Option("--workers", "-w", min=1, help="Sweep only: local worker processes (default: sweep.workers).")
    ] = None,
    scheduler_timeout: Annotated[
        Optional[float],
        typer.Option("--scheduler-timeout", min=0.1, max=3600, help="Sweep with --scheduler only: how long to try to reach the scheduler, s (default 10)."),
    ] = None,
) -> None:
    """Solve a scenario and write inputs and results to one NetCDF file.

    With run.mode simulate (the default): the outage simulation of every
    strategy in run.strategies on one realisation, with a summary table.
    With run.mode plan: the full-horizon plan (Eq. 18, perfect foresight).
    With a sweep section (trials > 1 or swept keys): every point on Dask,
    resuming from the points already finished in OUTPUT.points/.
    Exit status 1 when the solver finds no solution (the cause is printed and
    no results file claims success).
    """
    import logging

    from .inputs import build_inputs
    from .config.loader import load_scenario
    from .files.netcdf import write_netcdf

    logging.getLogger("linopy").setLevel(logging.ERROR)
    loaded = load_scenario(scenario, tuple(set_ or ()), variant)
    config = loaded.scenario
    target = output if output is not None else Path(config.output.path)
    _check_output(target)
    sweeping = config.sweep.point_count > 1 or bool(config.sweep.dimensions)  # the scenario refuses a sweep of a plan
    if sweeping and trial is not None:
        _fail([Issue("--trial", "", "cannot pick one trial of a sweep; use --set sweep.trials=1 and --trial, or drop --trial")])
    _check_scheduler(scheduler)
    if scheduler_timeout is not None and scheduler is None:
        _fail([Issue("--scheduler-timeout", "", "only with --scheduler")])
    if (scheduler is not None or workers is not None) and not sweeping:
        _fail([Issue("--scheduler" if scheduler is not None else "--workers", "", "only for a scenario with a sweep section")])
    trial = trial or 0
    if sweeping:
        _sweep(loaded, target, scheduler, workers, scheduler_timeout)
        return
    if config.run.mode == "simulate":
        _simulate(config, loaded, target, trial)
        return
    from .problems.plan import run_plan

    dataset = build_inputs(config, trial=trial)
    steps = int(config.controller.max_duration_h * 60 // config.formulation.plan_step_min)
    typer.echo(f"plan: {config.network.site_count} sites, {config.traffic.users} users, {steps} steps of {config.formulation.plan_step_min:g} min")
    results, report = run_plan(config, dataset)
    if not report.has_solution:
        typer.echo(f"error: no plan: {report.message}", err=True)
        raise typer.Exit(1)
    attrs = {"msrc_version": dataset.attrs["msrc_version"], "scenario_yaml": dataset.attrs["scenario_yaml"], **loaded.provenance()}
    try:
        write_netcdf(target, inputs=dataset, results=results, attrs=attrs)
    except OSError as exc:
        _fail([Issue(str(target), "--output", f"cannot write: {exc.strerror or exc}")])
    survival = float(results["survival_time"]) if "survival_time" in results else float("nan")
    typer.echo(
        f"{report.message}; survival time {survival:.2f} h of {config.controller.max_duration_h:g} h; "
        f"build {float(results.build_time):.1f} s, solve {report.solve_time_s:.1f} s"
    )
    typer.echo(f"wrote {target}")


def _progress_reporter(total_strategies: list[str]):
    """A progress callback: a rich bar on a terminal, a quiet line per quarter otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description:12}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), transient=False)
        tasks: dict[str, int] = {}

        def update(strategy: str, done: int, total: int) -> None:
            if strategy not in tasks:
                tasks[strategy] = bar.add_task(strategy, total=total)
            bar.update(tasks[strategy], completed=done)

        return bar, update
    marks: dict[str, int] = {}

    def quiet(strategy: str, done: int, total: int) -> None:
        quarter = (4 * done) // max(total, 1)
        if quarter > marks.get(strategy, 0):
            marks[strategy] = quarter
            typer.echo(f"{strategy}: {25 * quarter}% of {total} steps", err=True)

    return None, quiet


def _print_summary(results) -> None:
    from .simulation.outage import summary_rows

    headings, rows = summary_rows(results)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headings, title="outage summary")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max(len(str(r[i])) for r in [headings, *rows]) for i in range(len(headings))]
    for row in [headings, *rows]:
        typer.echo("  ".join(str(cell).ljust(width) if i == 0 else str(cell).rjust(width) for i, (cell, width) in enumerate(zip(row, widths))))


def _simulate(config, loaded, target: Path, trial: int) -> None:
    """run.mode simulate: every strategy on one realisation, results with a strategy dimension."""
    from .inputs import build_inputs
    from .files.netcdf import write_netcdf
    from .simulation.outage import run_outage

    dataset = build_inputs(config, trial=trial)
    typer.echo(
        f"outage: {config.network.site_count} sites, {config.traffic.users} users, load {config.traffic.load:g}, "
        f"up to {config.controller.max_duration_h:g} h in {config.controller.stage2_interval_s:g}-s steps; "
        f"strategies {', '.join(config.run.strategies)}"
    )
    bar, update = _progress_reporter(config.run.strategies)
    if bar is not None:
        with bar:
            results = run_outage(config, dataset, progress=update)
    else:
        results = run_outage(config, dataset, progress=update)
    attrs = {"msrc_version": dataset.attrs["msrc_version"], "scenario_yaml": dataset.attrs["scenario_yaml"], **loaded.provenance()}
    try:
        write_netcdf(target, inputs=dataset, results=results, attrs=attrs)
    except OSError as exc:
        _fail([Issue(str(target), "--output", f"cannot write: {exc.strerror or exc}")])
    _print_summary(results)
    typer.echo(f"wrote {target}")


def _sweep(loaded, target: Path, scheduler: str | None, workers: int | None, connect_timeout_s: float | None) -> None:
    """A sweep: every point on Dask, resumable; the combined results with statistics."""
    from .files.netcdf import write_netcdf
    from .study.sweep import SCHEDULER_CONNECT_TIMEOUT_S, points_folder, run_sweep, sweep_dims

    config = loaded.scenario
    _check_output(points_folder(target), folder=True)
    dims = sweep_dims(config)
    shape = " x ".join(f"{len(v)} {k}" for k, v in dims.items())
    where = f"scheduler {scheduler}" if scheduler else f"{workers or config.sweep.workers} local worker processes"
    typer.echo(
        f"sweep: {config.sweep.point_count} points ({shape}), strategies {', '.join(config.run.strategies)}, on {where}; "
        f"finished points kept in {points_folder(target)}"
    )
    for path in config.sweep.reuse:  # other sweeps whose matching points are copied, not run again
        source = points_folder(Path(path))
        found = len(list(source.glob("*.nc"))) if source.is_dir() else 0
        typer.echo(f"points of another sweep: {source} ({found} files)" if found else f"points of another sweep: {source} (none yet)")

    def report(done: int, total: int, point, error: str) -> None:
        if error:
            typer.echo(f"point {point.label} failed: {error.splitlines()[-1]}", err=True)
        typer.echo(f"{done}/{total} points", err=True)

    try:
        run = run_sweep(
            loaded, target, scheduler=scheduler, workers=workers,
            connect_timeout_s=SCHEDULER_CONNECT_TIMEOUT_S if connect_timeout_s is None else connect_timeout_s, progress=report,
        )
    except OSError as exc:  # the scheduler cannot be reached, or the points folder cannot be written
        _fail([Issue(scheduler or str(points_folder(target)), "--scheduler" if scheduler else "", f"{exc}")])
    from .inputs import msrc_version

    attrs = {"msrc_version": msrc_version(), "scenario_yaml": _scenario_text(loaded), **loaded.provenance()}
    try:
        write_netcdf(target, results=run.results, attrs=attrs)
    except OSError as exc:
        _fail([Issue(str(target), "--output", f"cannot write: {exc.strerror or exc}")])
    for path in run.damaged:
        typer.echo(f"warning: point file {path.with_suffix('')} did not open: kept as {path.name}, its point run again", err=True)
    times = np.asarray(run.point_wall_times_s, dtype=float)
    typer.echo(
        f"{run.ran} points run, {run.reused} reused from disk, {run.failed} failed; wall time {run.wall_time_s:.0f} s"
        + (f"; {run.copied} of the reused copied from the points of {', '.join(config.sweep.reuse)}" if run.copied else "")
        + (f"; per point median {np.nanmedian(times):.0f} s, max {np.nanmax(times):.0f} s" if times.size else "")
    )
    if "survival_time_mean" in run.results:
        _print_sweep_summary(run.results)
    typer.echo(f"wrote {target}")
    if run.failed:
        raise typer.Exit(1)


@_command
def calibrate(
    scenario: ScenarioFile,
    cell: Annotated[
        Optional[list[str]], typer.Option("--cell", help="Sweep coordinate of the calibration cell, DIM=LABEL (repeatable).")
    ] = None,
    strategy: Annotated[str, typer.Option("--strategy", help="Strategy whose mean T_surv is fitted.")] = "independent",
    target_h: Annotated[
        Optional[float], typer.Option("--target-h", min=0.0, help="Mean T_surv to reach, h (default: the paper's Table II value of the cell).")
    ] = None,
    set_: SetOption = None,
    variant: VariantOption = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of a running Dask scheduler; default: local workers.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", min=1, help="Local worker processes (default: sweep.workers).")] = None,
) -> None:
    """Fit power.scale on one cell of a sweep (default: independent at load=medium, to the paper's Table II T_surv).

    Every trial of the cell is simulated with the one strategy at each trial
    scale; the fitted value is printed for the scenario file. All other cells
    of the study are then predictions.
    """
    import logging

    from .study.calibrate import calibrate_power_scale
    from .config.loader import load_scenario
    from .study.sweep import dask_client

    logging.getLogger("linopy").setLevel(logging.ERROR)
    from .config.scenario import STRATEGIES

    if strategy not in STRATEGIES:
        _fail([Issue("--strategy", "", f"= {strategy}: not a strategy ({', '.join(STRATEGIES)})")])
    pairs = {}
    for text in cell if cell is not None else ["load=medium"]:
        name, sep, label = text.partition("=")
        if not sep or not name or not label:
            _fail([Issue("--cell", text, "expected DIM=LABEL, for example load=medium")])
        pairs[name.strip()] = label.strip()
    loaded = load_scenario(scenario, tuple(set_ or ()), variant)
    from .study.calibrate import cell_overrides

    selected = cell_overrides(loaded, pairs)
    if target_h is None:
        from .study.report import PAPER_TABLE2

        target_h = PAPER_TABLE2.get(pairs.get("load", ""), {}).get(strategy)
        if target_h is None:
            _fail([Issue("--target-h", "", f"the paper gives no T_surv for {strategy} at this cell: give --target-h")])
    # the cell's own outage length (a cell may sweep it), from the scenario the calibration simulates
    duration_h = load_scenario(loaded.source, (*loaded.overrides, *selected), loaded.variant).scenario.controller.max_duration_h
    if target_h >= duration_h:
        # a run that lasts the whole outage counts its length (censored): no scale can be fitted to a longer mean
        _fail([Issue("--target-h", "", f"= {target_h:g}: not below controller.max_duration_h ({duration_h:g} h), the longest T_surv a run can show")])
    where = ", ".join(f"{k}={v}" for k, v in pairs.items())
    typer.echo(f"calibrating power.scale: mean T_surv of {strategy} at {where} over {loaded.scenario.sweep.trials} trials -> {target_h:g} h")

    def report(scale: float, survival: float) -> None:
        typer.echo(f"  power.scale {scale:.4f}: mean T_surv {survival:.3f} h")

    _check_scheduler(scheduler)
    try:
        with dask_client(scheduler, workers or loaded.scenario.sweep.workers) as client:
            result = calibrate_power_scale(loaded, client, cell=pairs, strategy=strategy, target_h=target_h, progress=report)
    except OSError as exc:  # the scheduler cannot be reached
        _fail([Issue(scheduler or "local Dask cluster", "--scheduler" if scheduler else "", f"{exc}")])
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    status = "converged" if result.converged else "not converged (closest value shown)"
    typer.echo(f"{status}: power.scale = {result.scale:.4f} gives mean T_surv {result.survival_h:.3f} h")
    if not result.converged:  # no block to paste: the closest value is not a fit
        raise typer.Exit(1)
    typer.echo(f"power:\n  scale: {result.scale:.4f}   # msrc calibrate {scenario}: {strategy}, {where}, {result.survival_h:.3f} h over {result.trials} trials")


def _scenario_text(loaded) -> str:
    from .config.loader import scenario_to_yaml

    return scenario_to_yaml(loaded.scenario)


def _print_sweep_summary(results) -> None:
    """Mean +- 95 % CI of the headline metrics, one row per combination and strategy."""
    from .study.statistics import critical_service_or_run_length, trial_statistics

    dims = [d for d in results.survival_time_mean.dims if d != "strategy"]
    stacked = results[["survival_time_mean", "survival_time_ci95", "service_continuity_mean", "ev_utilisation_mean"]]
    if "critical_service_time" in results:  # runs that never lost critical service count the run length (a lower bound)
        critical = critical_service_or_run_length(results)
        stacked["critical_mean"], stacked["critical_ci95"], _ = trial_statistics(critical)
        stacked["critical_never_lost"] = (results.critical_service_time.isnull() & critical.notnull()).sum("trial")
    frame = stacked.to_dataframe().reset_index()
    for _, row in frame.iterrows():
        where = " ".join(f"{d}={row[d]}" for d in dims)
        ev = row["ev_utilisation_mean"]
        ev_text = f"{ev:.1%}" if np.isfinite(ev) else "-"  # no EV energy to use: no utilisation, as in a single run's table
        critical_text = ""
        if "critical_mean" in row:
            never = int(row["critical_never_lost"])
            critical_text = f", critical service {row['critical_mean']:.2f} +- {np.nan_to_num(row['critical_ci95']):.2f} h" + (
                f" ({never} never lost: counted at the run length)" if never else ""
            )
        typer.echo(
            f"  {where:24} {row['strategy']:12} T_surv {row['survival_time_mean']:.2f} +- {row['survival_time_ci95']:.2f} h"
            f"{critical_text}, continuity {row['service_continuity_mean']:.1%}, EV utilisation {ev_text}"
        )
    if "survival_time_difference_mean" not in results:
        return
    paired = results[["survival_time_difference_mean", "survival_time_difference_ci95", "survival_time_longer_share",
                      "survival_time_shorter_share"]].to_dataframe().reset_index()
    typer.echo("  paired, msrc minus each baseline on the same realisations:")
    for _, row in paired.iterrows():
        where = " ".join(f"{d}={row[d]}" for d in dims)
        typer.echo(
            f"  {where:24} {'- ' + str(row['baseline']):12} T_surv {row['survival_time_difference_mean']:+.2f} +- "
            f"{row['survival_time_difference_ci95']:.2f} h, msrc later in {row['survival_time_longer_share']:.0%}, "
            f"earlier in {row['survival_time_shorter_share']:.0%} of the trials"
        )


def _read_results(path: Path, allow_plan: bool = False):
    from .files.netcdf import NotMsrcFile, read_netcdf

    if not path.exists():
        _fail([Issue(str(path), "", "no such file")])
    if path.is_dir():
        _fail([Issue(str(path), "", "is a directory, not a results file")])
    if not path.is_file():  # a pipe or a device would block
        _fail([Issue(str(path), "", "is not a regular file, so not a results file")])
    try:
        inputs, results, _ = read_netcdf(path)
    except NotMsrcFile as exc:
        _fail([Issue(str(path), "", str(exc))])
    if results is not None and results.attrs.get("run_mode") == "plan" and allow_plan:
        return inputs, results
    if results is None or "strategy" not in results.dims:
        _fail([Issue(str(path), "/results", "holds no outage simulation (run msrc solve with run.mode simulate)")])
    return inputs, results


def _print_plan_summary(inputs, results) -> None:
    """A full-horizon plan's outcome: how the solve ended, T_surv, Eq. 18's terms and the modes it uses."""
    from .config.loader import scenario_from_yaml

    steps = results.sizes["time"]
    try:  # the step of the scenario the file holds
        step_s = scenario_from_yaml(inputs.attrs["scenario_yaml"]).formulation.plan_step_min * 60.0
    except (KeyError, ScenarioError):  # a file of a version whose scenario today's rules refuse: the time axis says
        step_s = float(np.diff(results.time.values)[0]) if steps > 1 else float("nan")
    horizon_h = steps * step_s / 3600.0
    typer.echo(f"plan (run.mode plan, perfect foresight): {results.sizes['site']} sites, {steps} steps of {step_s / 60.0:g} min ({horizon_h:g} h)")
    typer.echo(f"solve: {results.attrs.get('solver_message', '?')}; build {float(results.build_time):.1f} s, solve {float(results.solve_time):.1f} s")
    typer.echo(f"survival time {float(results.survival_time):.2f} h")
    terms = ", ".join(f"{name} {float(results[f'objective_{name}']):.4f}" for name in ("survival", "service", "v2g_cost", "mode_switching"))
    typer.echo(f"Eq. 18 objective {float(results.objective):.4f} (bound {float(results.dual_bound):.4f}): {terms}")
    modes = results["mode"].values
    names = str(results["mode"].attrs.get("flag_meanings", "")).split()  # the file names its mode codes
    shares = ", ".join(f"{name} {np.mean(modes == k):.0%}" for k, name in enumerate(names) if np.any(modes == k))
    typer.echo(f"site-steps by mode: {shares}")
    served = results["served_share"]
    typer.echo("served share per class, mean over the steps: " + ", ".join(
        f"{c} {float(served.sel({'class': c}).mean()):.1%}" for c in served["class"].values))


ResultsFile = Annotated[Path, typer.Argument(help="NetCDF results file written by msrc solve.", show_default=False)]


@_command
def show(results_file: ResultsFile) -> None:
    """Print the side-by-side summary of an outage simulation (or of a sweep: means +- 95 % CI; or of a plan) from its results file."""
    inputs, results = _read_results(results_file, allow_plan=True)
    if results.attrs.get("run_mode") == "plan":
        _print_plan_summary(inputs, results)
        return
    if "trial" in results.dims:
        if "survival_time_mean" not in results:
            _fail([Issue(str(results_file), "/results", "no point of the sweep finished: nothing to show")])
        _print_sweep_summary(results)
        return
    _print_summary(results)


def _draw(folder: Path, write: Callable[[], list[Path]]) -> None:
    """Run ``write`` (it draws figures into ``folder``) and list the files it wrote; a folder refusing them is one error line."""
    try:
        written = write()
    except OSError as exc:
        _fail([Issue(str(folder), "--output", f"cannot write: {exc.strerror or exc}")])
    for path in written:
        typer.echo(f"wrote {path}")


@_command
def plot(
    results_file: ResultsFile,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for the PNG files (default: next to the results file).")] = None,
    at_h: Annotated[
        Optional[float], typer.Option("--at-h", help="Time of the site map, h since the outage start (default: the Table III instant, 2.5 h, or the run's end if sooner).", min=0.0)
    ] = None,
) -> None:
    """Write PNG figures: battery energy per strategy (Fig. 2), site x time modes, site map at --at-h.

    For a sweep: Fig. 2 as mean and 95 % confidence band over trials, and Table II as bars.
    For a plan: its battery energy and modes.
    """
    from .study.plots import write_plots, write_sweep_plots

    inputs, results = _read_results(results_file, allow_plan=True)
    folder = output if output is not None else results_file.parent / f"{results_file.stem}-plots"
    _check_output(folder, folder=True)
    if results.attrs.get("run_mode") == "plan":  # the plan's battery energy and modes, drawn as one more strategy's
        if at_h is not None:
            _fail([Issue("--at-h", "", "applies to an outage simulation, not to a plan (it has no per-user service to map)")])
        plan = results[["mode", "battery_energy", "survival_time"]].expand_dims(strategy=["plan"])
        _draw(folder, lambda: write_plots(plan, None, folder))
        return
    if "trial" in results.dims:  # a sweep: Fig. 2 with confidence bands, Table II as bars
        if at_h is not None:
            _fail([Issue("--at-h", "", "applies to a single run, not to a sweep")])
        if "survival_time_mean" not in results:
            _fail([Issue(str(results_file), "/results", "no point of the sweep finished: nothing to plot")])
        _draw(folder, lambda: write_sweep_plots(results, folder))
        return
    from .simulation.metrics import TABLE3_TIME_H

    duration = float(results.time.values[-1]) / 3600.0
    if at_h is None:
        at_h = min(TABLE3_TIME_H, duration)
    elif at_h > duration + 1e-9:
        _fail([Issue("--at-h", "", f"= {at_h:g}: after the end of the run ({duration:g} h)")])
    _draw(folder, lambda: write_plots(results, inputs, folder, at_h=at_h))


@_command
def report(
    results_file: Annotated[Path, typer.Argument(help="NetCDF results file of a sweep (msrc solve on a scenario with a sweep section).", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for report.md and the CSV tables (default: next to the results file).")] = None,
) -> None:
    """Write Tables II, III and IV (mean +- 95 % CI beside the paper's) as Markdown and CSV."""
    from .study.report import ReportShapeError, write_report

    _, results = _read_results(results_file)
    if "trial" not in results.dims or "survival_time_mean" not in results:
        _fail([Issue(str(results_file), "/results", "holds no sweep with statistics (run msrc solve on a scenario with a sweep section)")])
    folder = output if output is not None else results_file.parent / f"{results_file.stem}-report"
    _check_output(folder, folder=True)
    try:
        written = write_report(results, folder, source=results_file.name)
    except ReportShapeError as exc:  # a sweep the report cannot lay out: checked before anything is written
        _fail([Issue(str(results_file), "/results", str(exc))])
    except OSError as exc:
        _fail([Issue(str(folder), "--output", f"cannot write: {exc.strerror or exc}")])
    for path in written:
        typer.echo(f"wrote {path}")


def main() -> None:
    """Console-script entry point: usage errors as one ``error:`` line too (exit 2)."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # the command-line parser's errors: unknown option, bad value, ...
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
            typer.echo(context.get_help(), err=True)
        else:
            hint = f" (see {context.command_path} --help)" if context is not None else ""
            typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
