"""The reproduction report of a sweep (``msrc report``): Tables II, III and IV beside the paper's.

Each cell is our mean over trials +- the half-width of its 95 % confidence
interval (Student t), the paper's value, and their relative difference; a
cell more than 10 % away from the paper is marked. The same numbers go to
one CSV file per table (long format, one row per cell). Beside the tables,
T_surv paired trial by trial (msrc minus each baseline on the same
realisation, :mod:`msrc_model.study.statistics`), in the report and in
``paired.csv``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..files.atomic import atomic_write
from ..simulation.metrics import TABLE3_TIME_H
from .statistics import add_paired_statistics

# The paper's numbers (Tables II-IV). Strategies in the paper's column order.
STRATEGY_HEADINGS = {"independent": "Indep.", "static": "Static LB", "msrc": "MSRC"}
PAPER_TABLE2 = {  # T_surv (h) by load
    "light": {"independent": 3.2, "static": 4.5, "msrc": 5.8},
    "medium": {"independent": 2.5, "static": 3.5, "msrc": 5.0},
    "heavy": {"independent": 1.8, "static": 2.6, "msrc": 3.7},
}
PAPER_TABLE2_GAIN = {"static": 0.41, "msrc": 0.96}
PAPER_TABLE3 = {  # served share at t = 2.5 h, medium load
    "emergency": {"independent": 0.0, "static": 1.00, "msrc": 1.00},
    "voice": {"independent": 0.0, "static": 0.95, "msrc": 1.00},
    "essential": {"independent": 0.0, "static": 0.72, "msrc": 0.96},
    "best_effort": {"independent": 0.0, "static": 0.41, "msrc": 0.75},
}
PAPER_TABLE4 = {  # medium load
    "survival_time": {"independent": 2.5, "static": 3.5, "msrc": 5.0},
    "service_continuity": {"independent": 0.78, "static": 0.88, "msrc": 0.96},
    "ev_utilisation": {"independent": 0.23, "static": 0.35, "msrc": 0.61},
    "handovers_per_user": {"independent": None, "static": 2.9, "msrc": 3.4},
    "mode_switches_per_site": {"independent": None, "static": 0.0, "msrc": 4.2},
}
TABLE4_ROWS = {
    "survival_time": ("Survival Time (h)", 1.0, "{:.2f}"),
    "service_continuity": ("Service Continuity (%)", 100.0, "{:.1f}"),
    "ev_utilisation": ("EV Utilization (%)", 100.0, "{:.1f}"),
    "handovers_per_user": ("Avg. Handovers/User", 1.0, "{:.2f}"),
    "mode_switches_per_site": ("Mode Switches/Site", 1.0, "{:.2f}"),
}
FAR = 0.10  # a cell this far (relative) from the paper gets a paragraph in docs/reproduction.md


@dataclass
class Cell:
    """One table cell: ours (mean, CI half-width, trials) and the paper's."""

    table: str
    row: str
    strategy: str
    mean: float
    ci95: float
    count: int
    paper: float | None
    unit: str

    @property
    def difference(self) -> float:
        """Relative difference to the paper (NaN without a paper value; absolute when the paper says 0)."""
        if self.paper is None or not np.isfinite(self.mean):
            return np.nan
        if self.paper == 0:
            return self.mean
        return self.mean / self.paper - 1.0

    @property
    def far(self) -> bool:
        return bool(np.isfinite(self.difference) and abs(self.difference) > FAR)


class ReportShapeError(ValueError):
    """The results file holds no sweep the report can lay out (raised before anything is written)."""


def report_ready(results: xr.Dataset) -> xr.Dataset:
    """The sweep as the report reads it: swept keys other than the load with a single value dropped.

    Raises
    ------
    ReportShapeError
        No sweep with statistics, or a swept key other than the load with more than one value.
    """
    if "trial" not in results.dims or "survival_time_mean" not in results:
        raise ReportShapeError("holds no sweep with statistics (run msrc solve on a scenario with a sweep section)")
    other = [d for d in results.survival_time.dims if d not in ("strategy", "trial", "load")]
    varied = [d for d in other if results.sizes[d] > 1]
    if varied:
        raise ReportShapeError(
            f"sweeps {', '.join(varied)} besides the load: the report lays out the paper's tables by load only "
            "(msrc show and msrc plot cover every swept key)"
        )
    return results.squeeze(other, drop=True) if other else results


def _select(results: xr.Dataset, load: str | None) -> xr.Dataset:
    if load is not None and "load" in results.dims:
        return results.sel(load=load)
    return results


def table_cells(results: xr.Dataset, medium: str = "medium") -> list[Cell]:
    """Every cell of Tables II, III and IV that the results hold."""
    results = report_ready(results)
    cells: list[Cell] = []
    strategies = [str(s) for s in results.strategy.values]
    loads = [str(v) for v in results["load"].values] if "load" in results.dims else [None]
    for load in loads:
        part = _select(results, load)
        for s in strategies:
            paper = PAPER_TABLE2.get(load or "", {}).get(s)
            cells.append(_cell("II", load or "all", s, part, "survival_time", paper, "h"))
    at = medium if medium in loads else loads[0]
    part = _select(results, at)
    # the paper's Tables III and IV are at medium load, Table III at t = 2.5 h: set beside nothing else
    paper_iv = at == medium
    paper_iii = paper_iv and _table3_at_paper_time(part)
    for cls in [str(c) for c in part["class"].values]:
        for s in strategies:
            paper = PAPER_TABLE3.get(cls, {}).get(s) if paper_iii else None
            cells.append(_cell("III", cls, s, part, "served_share_table3", paper, "1", **{"class": cls}))
    for metric in TABLE4_ROWS:
        for s in strategies:
            paper = PAPER_TABLE4[metric].get(s) if paper_iv else None
            cells.append(_cell("IV", metric, s, part, metric, paper, results[metric].attrs.get("units", "")))
    return cells


#: How far (h) Table III's instant may be from the paper's 2.5 h: the metric takes the step nearest to it, and a
#: step of up to 6 min puts it within 3 min
TABLE3_TIME_TOLERANCE_H = 0.05


def _table3_at_paper_time(part: xr.Dataset) -> bool:
    """Whether Table III's instant is the paper's (2.5 h, to the nearest step) wherever it is known; a shorter run takes its last step."""
    if "table3_time_mean" not in part:
        return True
    times = part["table3_time_mean"].values
    times = times[np.isfinite(times)]
    return bool(times.size) and bool(np.all(np.abs(times - TABLE3_TIME_H) <= TABLE3_TIME_TOLERANCE_H))


def _cell(table: str, row: str, strategy: str, part: xr.Dataset, metric: str, paper, unit: str, **extra) -> Cell:
    sel = {"strategy": strategy, **extra}
    return Cell(
        table, row, strategy,
        float(part[f"{metric}_mean"].sel(sel)), float(part[f"{metric}_ci95"].sel(sel)), int(part[f"{metric}_count"].sel(sel)),
        paper, unit,
    )


def _fmt(value: float, scale: float, fmt: str) -> str:
    return "-" if value is None or not np.isfinite(value) else fmt.format(value * scale)


def _ours(cell: Cell, scale: float, fmt: str) -> str:
    if not np.isfinite(cell.mean):
        return "-"
    ci = "" if not np.isfinite(cell.ci95) else f" ± {_fmt(cell.ci95, scale, fmt)}"
    return f"{_fmt(cell.mean, scale, fmt)}{ci}"


def _paper_and_difference(cell: Cell, scale: float, fmt: str) -> str:
    if cell.paper is None:
        return "(paper: —)"
    diff = cell.difference
    if cell.paper == 0:
        mark = (f"{diff * scale:+.1f}" + (" pts" if scale == 100 else "")) if np.isfinite(diff) else ""
    else:
        mark = f"{diff:+.0%}" if np.isfinite(diff) else ""
    mark = f"**{mark}**" if cell.far else mark
    return f"(paper {_fmt(cell.paper, scale, fmt)}; {mark})" if mark else f"(paper {_fmt(cell.paper, scale, fmt)})"


def average_gain(results: xr.Dataset) -> dict[str, float]:
    """Table II's "Avg. Gain": mean over loads of mean T_surv / independent's mean T_surv - 1."""
    mean = results.survival_time_mean
    if "independent" not in mean.strategy.values:
        return {}
    ratio = mean / mean.sel(strategy="independent")
    gains = ratio.mean([d for d in ratio.dims if d != "strategy"]) - 1.0
    return {str(s): float(gains.sel(strategy=s)) for s in mean.strategy.values if s != "independent"}


def ordering(results: xr.Dataset) -> dict[str, str]:
    """Per load, the strategies from the longest mean T_surv to the shortest, with whether the CIs separate them."""
    out = {}
    loads = [str(v) for v in results["load"].values] if "load" in results.dims else [None]
    for load in loads:
        part = _select(results, load)
        means = part.survival_time_mean.to_series().sort_values(ascending=False)
        ci = part.survival_time_ci95.to_series()
        words = []
        for (a, ma), (b, mb) in zip(means.items(), list(means.items())[1:]):
            separated = (ma - ci[a]) > (mb + ci[b])
            words.append(f"{a} {'>' if separated else '≳'} ")
        words.append(str(means.index[-1]))
        out[load or "all"] = "".join(words)
    return out


def paired_rows(results: xr.Dataset, reference: str = "msrc") -> list[dict]:
    """T_surv paired trial by trial (:func:`~msrc_model.study.statistics.add_paired_statistics`): one row per load and baseline."""
    results = results if "survival_time_difference" in results else add_paired_statistics(results, reference=reference)
    if "survival_time_difference" not in results:
        return []
    rows = []
    loads = [str(v) for v in results["load"].values] if "load" in results.survival_time_difference.dims else [None]
    for load in loads:
        part = _select(results, load)
        for baseline in part.baseline.values:
            one = part.sel(baseline=baseline)
            rows.append({
                "load": load or "", "reference": reference, "baseline": str(baseline),
                "mean_difference_h": float(one.survival_time_difference_mean), "ci95_h": float(one.survival_time_difference_ci95),
                "trials": int(one.survival_time_difference_count),
                "later_share": float(one.survival_time_longer_share), "equal_share": float(one.survival_time_equal_share),
                "earlier_share": float(one.survival_time_shorter_share),
                "undecided_share": float(one["survival_time_undecided_share"]) if "survival_time_undecided_share" in one else 0.0,
                "censored_pairs": int(one["survival_time_difference_censored_count"]) if "survival_time_difference_censored_count" in one else 0,
            })
    return rows


def render_paired(results: xr.Dataset, reference: str = "msrc") -> str:
    """T_surv paired trial by trial: ``reference`` minus each baseline, per load (Markdown; empty without pairs)."""
    rows = paired_rows(results, reference)
    if not rows:
        return ""
    out = io.StringIO()
    w = out.write
    w(f"### {STRATEGY_HEADINGS.get(reference, reference)} against each baseline on the same realisations\n\n")
    w(
        f"Per trial, {reference}'s T_surv minus the baseline's on the same realisation: the mean difference ± the "
        "half-width of its 95 % confidence interval (paired Student t), and the share of the trials in which "
        f"{reference}'s first site goes dark later / at the same step / earlier / unknown (both runs censored). "
        "Censored pairs: trials in which either run had no site dark within the run; their difference is a bound.\n\n"
    )
    w("| Traffic load | Baseline | Mean difference (h) | Later / same / earlier / unknown | Trials | Censored pairs |\n")
    w("|---|---|---|---|---|---|\n")
    for row in rows:
        w(
            f"| {(row['load'] or 'all').capitalize()} | {STRATEGY_HEADINGS.get(row['baseline'], row['baseline'])} | "
            f"{row['mean_difference_h']:+.2f} ± {row['ci95_h']:.2f} | {row['later_share']:.0%} / {row['equal_share']:.0%} / "
            f"{row['earlier_share']:.0%} / {row['undecided_share']:.0%} | {row['trials']} | {row['censored_pairs']} |\n"
        )
    w("\n")
    return out.getvalue()


def render_markdown(results: xr.Dataset, source: str = "") -> str:
    """The three tables as Markdown, laid out like the paper's, and T_surv paired between strategies."""
    results = report_ready(results)
    cells = table_cells(results)
    strategies = [str(s) for s in results.strategy.values]
    trials = int(results.sizes["trial"])
    duration = results.attrs.get("max_duration_h", "")
    failed = int((results.point_error != "").sum())
    out = io.StringIO()
    w = out.write
    w("# msrc reproduction report: Tables II-IV\n\n")
    if source:
        w(f"Results file: `{source}`. ")
    w(
        f"{trials} Monte Carlo trials per cell, {int(results.point_error.size)} points ({failed} failed), outage simulated "
        f"for up to {duration} h. Each cell: our mean ± half-width of the 95 % confidence interval (Student t), "
        f"then the paper's value and our relative difference (bold: more than {FAR:.0%} away; for a paper value of 0, "
        "the difference in percentage points).\n\n"
    )
    head = "| {} | " + " | ".join(STRATEGY_HEADINGS.get(s, s) for s in strategies) + " |\n"
    rule = "|---|" + "---|" * len(strategies) + "\n"

    w("## Table II: network survival time T_surv (h)\n\n")
    w(head.format("Traffic load") + rule)
    for load in dict.fromkeys(c.row for c in cells if c.table == "II"):
        row = [c for c in cells if c.table == "II" and c.row == load]
        w(f"| {load.capitalize()} | " + " | ".join(f"{_ours(c, 1, '{:.2f}')} {_paper_and_difference(c, 1, '{:.2f}')}" for c in row) + " |\n")
    gains = average_gain(results)
    w("| Avg. Gain | " + " | ".join(
        "—" if s not in gains else f"{gains[s]:+.0%} (paper {PAPER_TABLE2_GAIN.get(s, float('nan')):+.0%})" for s in strategies
    ) + " |\n\n")
    censored = results.get("survival_censored_mean")
    if censored is not None and float(censored.max()) > 0:
        w("Censoring: a trial in which no site went dark within the run counts the run length as its T_surv (a lower bound). "
          "Share of such trials: " + ", ".join(
              f"{s} at {load}: {float(censored.sel(strategy=s, load=load)):.0%}" if "load" in censored.dims else f"{s}: {float(censored.sel(strategy=s)):.0%}"
              for load in (results["load"].values if "load" in censored.dims else [None])
              for s in strategies if float(censored.sel(strategy=s, **({"load": load} if load is not None else {}))) > 0
          ) + ".\n\n")
    w(render_paired(results))
    w("Ordering of the mean T_surv per load (`>`: the 95 % intervals do not overlap; `≳`: they do): " + "; ".join(
        f"{load}: {text}" for load, text in ordering(results).items()) + ".\n\n")

    loads = [str(v) for v in results["load"].values] if "load" in results.dims else []
    at = "medium" if "medium" in loads else (loads[0] if loads else None)
    where = f"load {at}" if at is not None else "all points"
    at_h = float(_select(results, at)["table3_time_mean"].max()) if "table3_time_mean" in results else TABLE3_TIME_H
    w(f"## Table III: served share per class at t = {at_h:.2f} h, {where} (%)\n\n")
    if at != "medium":
        w("The paper's Tables III and IV are at medium load; this sweep has no load labelled medium, so no paper figure is set beside these.\n\n")
    elif not _table3_at_paper_time(_select(results, at)):
        w(f"The paper's Table III is at t = {TABLE3_TIME_H:g} h; this table is not (runs that end before it, or no "
          "finished point), so no paper figure is set beside it.\n\n")
    w(head.format("Service class") + rule)
    for cls in dict.fromkeys(c.row for c in cells if c.table == "III"):
        row = [c for c in cells if c.table == "III" and c.row == cls]
        w(f"| {cls.replace('_', '-').capitalize()} | " + " | ".join(f"{_ours(c, 100, '{:.1f}')} {_paper_and_difference(c, 100, '{:.0f}')}" for c in row) + " |\n")
    w(f"\n## Table IV: comprehensive metrics, {where}\n\n")
    w(head.format("Metric") + rule)
    for metric, (label, scale, fmt) in TABLE4_ROWS.items():
        row = [c for c in cells if c.table == "IV" and c.row == metric]
        w(f"| {label} | " + " | ".join(f"{_ours(c, scale, fmt)} {_paper_and_difference(c, scale, fmt)}" for c in row) + " |\n")
    far = [c for c in cells if c.far]
    w(f"\n{len(far)} of {sum(c.paper is not None for c in cells)} cells with a paper value are more than {FAR:.0%} away from it.\n")
    return out.getvalue()


def write_csv(cells: list[Cell], table: str, path: Path) -> None:
    rows = [c for c in cells if c.table == table]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "row", "strategy", "mean", "ci95", "trials", "unit", "paper", "relative_difference", "more_than_10pct_off"])
    for c in rows:
        writer.writerow([
            c.table, c.row, c.strategy, f"{c.mean:.6g}", f"{c.ci95:.6g}", c.count, c.unit,
            "" if c.paper is None else f"{c.paper:g}", "" if not np.isfinite(c.difference) else f"{c.difference:.6g}", int(c.far),
        ])
    _write_text(path, buffer.getvalue())


def write_paired_csv(results: xr.Dataset, path: Path, reference: str = "msrc") -> bool:
    """The paired T_surv comparison (:func:`paired_rows`) as CSV, one row per load and baseline; false if there are no pairs."""
    rows = paired_rows(results, reference)
    if not rows:
        return False
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    _write_text(path, buffer.getvalue())
    return True


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_report(results: xr.Dataset, folder: Path, source: str = "") -> list[Path]:
    """``report.md``, ``table2.csv``, ``table3.csv``, ``table4.csv`` and ``paired.csv`` (when msrc ran beside a baseline) in ``folder``."""
    results = report_ready(results)
    folder.mkdir(parents=True, exist_ok=True)
    cells = table_cells(results)
    written = [folder / "report.md"]
    _write_text(written[0], render_markdown(results, source))
    for table, name in (("II", "table2.csv"), ("III", "table3.csv"), ("IV", "table4.csv")):
        write_csv(cells, table, folder / name)
        written.append(folder / name)
    if write_paired_csv(results, folder / "paired.csv"):
        written.append(folder / "paired.csv")
    return written
