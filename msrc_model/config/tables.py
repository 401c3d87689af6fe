"""Reading the CSV tables a scenario may reference (band table, power model, sites)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .errors import Issue, ScenarioError


def read_csv_rows(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Read a CSV table into a list of row dictionaries.

    Lines starting with ``#`` are comments; the first other line is the header.
    Empty cells are left out of their row, so the scenario default applies.

    Parameters
    ----------
    path:
        The CSV file.

    Returns
    -------
    rows, line_numbers:
        The rows (values as text; the scenario schema converts them) and the
        1-based line number of each row in the file.

    Raises
    ------
    ScenarioError
        If the file is missing or a row has more cells than the header.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(Issue(str(path), "", "table file not found")) from None
    except OSError as exc:
        raise ScenarioError(Issue(str(path), "", f"cannot read table file: {exc.strerror}")) from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise ScenarioError(Issue(str(path), "", "table file has no header line"))
    reader = csv.reader([line for _, line in numbered], skipinitialspace=True)
    header = [h.strip() for h in next(reader)]
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for (number, _), cells in zip(numbered[1:], reader):
        if len(cells) > len(header):
            raise ScenarioError(
                Issue(f"{path}:{number}", "", f"row has {len(cells)} cells but the header has {len(header)}")
            )
        rows.append({key: cell.strip() for key, cell in zip(header, cells) if cell.strip() != ""})
        lines.append(number)
    return rows, lines
