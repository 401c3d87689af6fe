"""Reading the CSV tables a scenario may reference (band table, power model, sites)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .errors import Issue, ScenarioError

#: Largest CSV table read, bytes.
MAX_TABLE_BYTES = 20_000_000


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
    text = read_text_file(path, "table file", MAX_TABLE_BYTES)
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise ScenarioError(Issue(str(path), "", "table file has no header line"))
    reader = csv.reader([line for _, line in numbered], skipinitialspace=True)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    try:
        header = [h.strip() for h in next(reader)]
        for (number, _), cells in zip(numbered[1:], reader):
            if len(cells) > len(header):
                raise ScenarioError(
                    Issue(f"{path}:{number}", "", f"row has {len(cells)} cells but the header has {len(header)}")
                )
            rows.append({key: cell.strip() for key, cell in zip(header, cells) if cell.strip() != ""})
            lines.append(number)
    except csv.Error as exc:  # a NUL byte, a field over the csv module's limit, ...
        number = numbered[min(reader.line_num, len(numbered)) - 1][0]
        raise ScenarioError(Issue(f"{path}:{number}", "", f"not a readable CSV row: {exc}")) from None
    return rows, lines


def read_text_file(path: Path, what: str, limit: int) -> str:
    """A text file's content, refused with a one-line issue when missing, too large or not UTF-8."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ScenarioError(Issue(str(path), "", f"is a directory, not a {what}"))
        if not path.is_file():  # a pipe or a device would block or never end
            raise ScenarioError(Issue(str(path), "", f"is not a regular file, so not a {what}"))
        if size > limit:
            raise ScenarioError(Issue(str(path), "", f"{what} is {size:,} bytes, more than the {limit:,} allowed"))
        content = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(Issue(str(path), "", f"{what} not found")) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError(Issue(repr(str(path))[1:-1], "", f"cannot read {what}: {reason}")) from None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ScenarioError(Issue(f"{path}:{line}", "", f"{what} is not UTF-8 text (byte {exc.start})")) from None
