"""Point functions for sweep tests that run in Dask worker processes (importable there by module name).

``second_point_blocks`` runs points as usual, except that the second point to
start announces itself (a file ``blocked`` in ``MSRC_TEST_HOOK_DIR``) and then
waits forever: a sweep stopped there is stopped while it computes a point,
never while it writes one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from msrc_model.study.sweep import run_point


def _claim_start(folder: Path) -> int:
    """The index of this point among the points started so far (0, 1, ...), claimed atomically across processes."""
    index = 0
    while True:
        try:
            os.close(os.open(folder / f"started-{index}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return index
        except FileExistsError:
            index += 1


def second_point_blocks(scenario_yaml: str, trial: int):
    folder = Path(os.environ["MSRC_TEST_HOOK_DIR"])
    if _claim_start(folder) == 1:
        (folder / "blocked").touch()
        threading.Event().wait()  # until the test kills the sweep
    return run_point(scenario_yaml, trial)
