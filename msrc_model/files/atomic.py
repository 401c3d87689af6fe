"""Atomic file writing: a file appears under its name complete, or not at all.

Every file msrc writes (NetCDF results, sweep points, report tables,
figures) goes through :func:`atomic_write`: the data go to a hidden
temporary file in the target folder, which is renamed onto the target only
once complete. An interrupted or failed write leaves neither a partial file
under the final name nor a stray temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block ends without error.

    The folder of ``path`` is created if missing. On any error (or
    interruption) the temporary file is removed and the error propagates;
    an existing file at ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        _publish(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _publish(temporary: str | Path, path: Path) -> None:
    """Rename a finished temporary file onto ``path`` with the usual permissions (the umask's, not mkstemp's 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(temporary, 0o666 & ~mask)
    os.replace(temporary, path)
