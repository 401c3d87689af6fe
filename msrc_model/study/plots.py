"""Figures of an outage simulation (``msrc plot``), written as PNG files.

* ``battery_energy.png``: battery energy over time per strategy, every site
  thin and the cluster mean thick (the paper's Fig. 2);
* ``modes.png``: a site x time map of the modes, one panel per strategy;
* ``map.png``: sites, users and coverage disks coloured by mode at a chosen
  time, one panel per strategy.

Of a sweep: ``fig2_battery_energy.png`` (Fig. 2, mean and 95 % band over
trials, one panel per sweep cell), ``table2_survival.png`` (Table II as
bars) and ``sensitivity_<dim>.png`` (T_surv and critical-service time
against each numeric swept key, per strategy with 95 % bands).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..files.atomic import atomic_write
from ..physics import MODE_NAMES
from ..simulation.metrics import TABLE3_TIME_H
from .statistics import critical_service_or_run_length
from .sweep import safe_label

MODE_COLOURS = ["#4c72b0", "#55a868", "#dd8452", "#8172b3", "#222222"]  # normal, helping, assisted, sleep, dark
MODE_LABELS = ["deep sleep" if name == "sleep" else name for name in MODE_NAMES]  # legend text, by mode code


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int) -> None:
    """Write the figure as a PNG atomically (no partial file)."""
    with atomic_write(path) as temporary:
        fig.savefig(temporary, dpi=dpi, format="png", bbox_inches="tight")  # no label cut at the edge


def plot_battery_energy(results: xr.Dataset, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    hours = results.time.values / 3600.0
    for i, strategy in enumerate(results.strategy.values):
        energy = results.battery_energy.sel(strategy=strategy)
        colour = f"C{i}"
        ax.plot(hours, energy.values.T, color=colour, alpha=0.15, linewidth=0.6)
        ax.plot(hours, energy.mean("site").values, color=colour, linewidth=2.2, label=f"{strategy} (T_surv {float(results.survival_time.sel(strategy=strategy)):.2f} h)")
    ax.set_xlabel("time since the outage start (h)")
    ax.set_ylabel("battery energy (kWh)")
    ax.set_title("Battery energy per site (thin) and cluster mean (thick)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path, 120)
    plt.close(fig)
    return path


def plot_mode_map(results: xr.Dataset, path: Path) -> Path:
    plt = _pyplot()
    from matplotlib.colors import BoundaryNorm, ListedColormap

    strategies = results.strategy.values
    fig, axes = plt.subplots(len(strategies), 1, figsize=(9, 1.2 + 2.0 * len(strategies)), squeeze=False, sharex=True)
    cmap = ListedColormap(MODE_COLOURS)
    norm = BoundaryNorm(np.arange(-0.5, len(MODE_NAMES)), cmap.N)
    hours = results.time.values / 3600.0
    for ax, strategy in zip(axes[:, 0], strategies):
        mode = results["mode"].sel(strategy=strategy).transpose("site", "time").values
        image = ax.imshow(mode, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest",
                          extent=(hours[0], hours[-1] + (hours[1] - hours[0] if hours.size > 1 else 0), mode.shape[0] - 0.5, -0.5))
        ax.set_ylabel(f"{strategy}\nsite")
    axes[-1, 0].set_xlabel("time since the outage start (h)")
    colourbar = fig.colorbar(image, ax=axes[:, 0], ticks=range(len(MODE_NAMES)))
    colourbar.ax.set_yticklabels(MODE_LABELS)
    fig.suptitle("Mode of every site over time")
    _save(fig, path, 120)
    plt.close(fig)
    return path


def plot_site_map(results: xr.Dataset, inputs: xr.Dataset, path: Path, at_h: float) -> Path:
    plt = _pyplot()
    from matplotlib.patches import Circle

    step = int(np.argmin(np.abs(results.time.values / 3600.0 - at_h)))
    strategies = results.strategy.values
    fig, axes = plt.subplots(1, len(strategies), figsize=(5.2 * len(strategies), 5.4), squeeze=False)
    x, y = inputs.site_x_m.values, inputs.site_y_m.values
    radius = np.stack([inputs.radius_normal_m.values, inputs.radius_helping_m.values, inputs.radius_assisted_m.values], axis=1)
    for ax, strategy in zip(axes[0], strategies):
        mode = results["mode"].sel(strategy=strategy).isel(time=step).values
        serving = results.user_site.sel(strategy=strategy).isel(time=step).values
        served = serving >= 0
        ax.scatter(inputs.user_x_m.values[~served], inputs.user_y_m.values[~served], s=3, color="#bbbbbb", label="not served")
        ax.scatter(inputs.user_x_m.values[served], inputs.user_y_m.values[served], s=3,
                   color=[MODE_COLOURS[m] for m in mode[serving[served]]], label="served (colour of its site's mode)")
        for i in range(len(x)):
            if mode[i] < 3:
                ax.add_patch(Circle((x[i], y[i]), radius[i, mode[i]], fill=False, color=MODE_COLOURS[mode[i]],
                                    linestyle="--" if mode[i] == 1 else "-", linewidth=1.0))
        ax.scatter(x, y, s=60, c=[MODE_COLOURS[m] for m in mode], edgecolors="white", zorder=3)
        span_x = np.concatenate([x, inputs.user_x_m.values])
        span_y = np.concatenate([y, inputs.user_y_m.values])
        margin = float(inputs.radius_normal_m.max())
        ax.set_xlim(span_x.min() - margin, span_x.max() + margin)
        ax.set_ylim(span_y.min() - margin, span_y.max() + margin)
        ax.set_aspect("equal")
        ax.set_title(f"{strategy}, t = {results.time.values[step] / 3600.0:.2f} h")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=c, label=n) for c, n in zip(MODE_COLOURS, MODE_LABELS)]
    fig.legend(handles=handles, loc="lower center", ncol=5)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    _save(fig, path, 110)
    plt.close(fig)
    return path


def write_plots(results: xr.Dataset, inputs: xr.Dataset | None, folder: Path, at_h: float = TABLE3_TIME_H) -> list[Path]:
    """Write every figure of this module into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [plot_battery_energy(results, folder / "battery_energy.png"), plot_mode_map(results, folder / "modes.png")]
    if inputs is not None:
        written.append(plot_site_map(results, inputs, folder / "map.png", at_h))
    return written


# ---------------------------------------------------------------- sweeps (Monte Carlo results)

def sweep_cells(results: xr.Dataset, skip: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """Every combination of the sweep's coordinates (not ``trial``, not those in ``skip``): (label, selection)."""
    dims = [d for d in results.survival_time.dims if d not in ("strategy", "trial", *skip)]
    cells = [("", {})]
    for dim in dims:
        cells = [(f"{label}, {dim} {value}".lstrip(", "), {**chosen, dim: value}) for label, chosen in cells for value in results[dim].values]
    return cells


def _numbers(values) -> np.ndarray | None:
    """``values`` as floats, or None if one of them is not a number."""
    try:
        return np.asarray([float(v) for v in values])
    except (TypeError, ValueError):
        return None


def sweep_axis_values(results: xr.Dataset, dim: str) -> np.ndarray | None:
    """The numeric positions of a sweep dimension's coordinates; None if they have none.

    The coordinates themselves when they are numbers (the labels, e.g. 7 / 19 / 37 sites, when every label
    is one), else the swept values behind the labels (``<dim>_value``, e.g. the load factors behind light /
    medium / heavy).
    """
    own = _numbers(results[dim].values)
    if own is not None or f"{dim}_value" not in results.coords:
        return own
    return _numbers(results[f"{dim}_value"].values)


def plot_sweep_battery_energy(results: xr.Dataset, path: Path) -> Path:
    """Fig. 2 over trials: site-averaged battery energy, mean and 95 % confidence band, one panel per sweep cell."""
    plt = _pyplot()
    cells = sweep_cells(results)
    columns = min(len(cells), 3)
    rows = -(-len(cells) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.0 * columns, 4.2 * rows), squeeze=False, sharey=True)
    for ax in axes.ravel()[len(cells):]:
        ax.set_visible(False)
    hours = results.time.values / 3600.0
    for ax, (label, chosen) in zip(axes.ravel(), cells):
        part = results.sel(chosen)
        for i, strategy in enumerate(part.strategy.values):
            mean = part.battery_energy_average_mean.sel(strategy=strategy).values
            half = part.battery_energy_average_ci95.sel(strategy=strategy).values
            survival = float(part.survival_time_mean.sel(strategy=strategy))
            ax.plot(hours, mean, color=f"C{i}", linewidth=2.0, label=f"{strategy} (T_surv {survival:.2f} h)")
            ax.fill_between(hours, mean - half, mean + half, color=f"C{i}", alpha=0.25, linewidth=0)
        ax.set_title(label or "all points")
        ax.set_xlabel("time since the outage start (h)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("battery energy, site average (kWh)")
    trials = int(results.sizes["trial"])
    fig.suptitle(f"Battery energy over the outage: mean of {trials} trials and 95 % confidence band (Fig. 2)")
    fig.tight_layout()
    _save(fig, path, 120)
    plt.close(fig)
    return path


def plot_sensitivity(results: xr.Dataset, dim: str, path: Path, fixed: dict | None = None) -> Path:
    """T_surv and critical-service time against a swept key: per strategy the mean over trials and its 95 % band.

    ``fixed`` selects one value of each other sweep dimension. A run that never lost critical
    service counts its length (a lower bound), as a censored T_surv does.
    """
    from .statistics import trial_statistics

    plt = _pyplot()
    part = results.sel(fixed or {})
    x = sweep_axis_values(part, dim)
    order = np.argsort(x, kind="stable")
    part, x = part.isel({dim: order}), x[order]
    duration = float(results.attrs.get("max_duration_h", np.nan))
    key = results[dim].attrs.get("long_name", dim).replace("swept scenario key ", "")
    by_label = f"{dim}_value" in part.coords and _numbers(part[dim].values) is not None  # numeric labels, not the key's values
    axis_title = f"{dim} (set by {key})" if by_label else key
    panels = [
        ("survival_time", "T_surv: first site dark (h)"),
        ("critical_service_time", "critical-service time (h)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(11.0, 4.2), squeeze=False)
    for ax, (metric, ylabel) in zip(axes[0], panels):
        values = critical_service_or_run_length(part) if metric == "critical_service_time" else part[metric]
        mean, half, _ = trial_statistics(values)
        for i, strategy in enumerate(part.strategy.values):
            m = mean.sel(strategy=strategy).transpose(dim).values
            h = np.nan_to_num(half.sel(strategy=strategy).transpose(dim).values)
            ax.plot(x, m, marker="o", color=f"C{i}", linewidth=2.0, label=str(strategy))
            ax.fill_between(x, m - h, m + h, color=f"C{i}", alpha=0.2, linewidth=0)
        if np.isfinite(duration):
            ax.axhline(duration, color="grey", linestyle=":", linewidth=1.0, label=f"run length {duration:g} h")
        ax.set_xticks(x, [str(v) for v in part[dim].values])
        ax.set_xlabel(axis_title)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    trials = int(results.sizes["trial"])
    where = ", ".join(f"{d} {v}" for d, v in (fixed or {}).items())
    fig.suptitle(f"Against {dim}{f' ({where})' if where else ''}: mean of {trials} trials and 95 % confidence band")
    fig.tight_layout()
    _save(fig, path, 120)
    plt.close(fig)
    return path


def plot_survival_bars(results: xr.Dataset, path: Path) -> Path:
    """Table II as bars: mean T_surv with 95 % confidence intervals per load and strategy, the paper's values as markers."""
    from .report import PAPER_TABLE2

    plt = _pyplot()
    cells = sweep_cells(results)
    strategies = [str(s) for s in results.strategy.values]
    width = 0.8 / len(strategies)
    fig, ax = plt.subplots(figsize=(max(7.5, 2.2 * len(cells)), 4.5))
    positions = np.arange(len(cells))
    for i, strategy in enumerate(strategies):
        x = positions - 0.4 + width * (i + 0.5)
        sel = [results.sel(strategy=strategy, **chosen) for _, chosen in cells]
        mean = np.array([float(s.survival_time_mean) for s in sel])
        half = np.array([float(s.survival_time_ci95) for s in sel])
        ax.bar(x, mean, width, yerr=half, capsize=3, color=f"C{i}", label=strategy)
        paper = np.array([PAPER_TABLE2.get(str(chosen.get("load", "")), {}).get(strategy, np.nan) for _, chosen in cells], dtype=float)
        if np.isfinite(paper).any():
            ax.scatter(x, paper, marker="_", s=400, color="black", zorder=3, label="paper (Table II)" if i == 0 else None)
    ax.set_xticks(positions, [label or "all" for label, _ in cells])
    ax.set_xlabel("sweep cell")
    ax.set_ylabel("T_surv (h)")
    ax.set_title(f"Network survival time, mean and 95 % CI of {int(results.sizes['trial'])} trials")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, path, 120)
    plt.close(fig)
    return path


def write_sweep_plots(results: xr.Dataset, folder: Path) -> list[Path]:
    """Figures of a sweep: Fig. 2 with confidence bands, the Table II bar chart, and a sensitivity figure per numeric sweep dimension.

    ``sensitivity_<dim>.png`` (:func:`plot_sensitivity`) for every sweep dimension with two or more numeric
    values, one file per combination of the other dimensions' values when they have more than one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        plot_sweep_battery_energy(results, folder / "fig2_battery_energy.png"),
        plot_survival_bars(results, folder / "table2_survival.png"),
    ]
    for dim in [d for d in results.survival_time.dims if d not in ("strategy", "trial")]:
        values = sweep_axis_values(results, dim)
        if values is None or len(values) < 2:
            continue
        for label, chosen in sweep_cells(results, skip=(dim,)):
            name = f"sensitivity_{safe_label(dim)}" + "".join(f"_{safe_label(d)}-{safe_label(v)}" for d, v in chosen.items() if results.sizes[d] > 1) + ".png"
            written.append(plot_sensitivity(results, dim, folder / name, {d: v for d, v in chosen.items()}))
    return written
