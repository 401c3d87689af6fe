"""Atomic file writing: a file appears under its name complete, or not at all.

Every file msrc writes (NetCDF results, sweep points, report tables,
figures) goes through :func:`atomic_write`: the data go to a hidden
temporary file in the target folder, which is renamed onto the target only
once complete. A failed write leaves neither a partial file under the final
name nor a stray temporary file. A process killed while writing cannot
remove its temporary file; the name of that file carries the host and the
process id, and the next write of the same target (or
:func:`prepare_output`) removes it once that process is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block ends without error.

    The folder of ``path`` is created if missing. On any error (or
    interruption) the temporary file is removed and the error propagates;
    an existing file at ``path`` is left as it was. Temporary files of
    earlier writes of ``path`` whose process has died are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    handle, temporary = tempfile.mkstemp(prefix=f"{_temporary_prefix(path)}{_owner()}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        _publish(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def _host() -> str:
    """This host's name, with no dot (a dot separates the parts of a temporary file's name)."""
    return socket.gethostname().replace(".", "_")


def _owner() -> str:
    """``host-pid`` of this process, the part of a temporary file's name that says who writes it."""
    return f"{_host()}-{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove temporary files that writes of ``path`` left behind when their process was killed.

    Only files written on this host by a process that no longer runs are
    removed; a write in progress keeps its file.

    Returns
    -------
    list of Path
        The files removed.
    """
    path = Path(path)
    prefix = _temporary_prefix(path)
    host = _host()
    removed = []
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.glob(f"{glob_escape(prefix)}*.part"):
        owner = candidate.name[len(prefix):].split(".", 1)[0]
        owner_host, _, pid = owner.rpartition("-")
        if owner_host != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with the glob wildcards ``*?[`` made literal."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def output_problem(path: str | Path, *, folder: bool = False) -> str:
    """Why ``path`` cannot be written (``""`` if it can), checked before any work starts.

    ``folder``: ``path`` is a folder to write files into, not a file.
    """
    path = Path(path)
    if "\0" in str(path):
        return "contains a NUL byte"
    try:
        return _output_problem(path, folder)
    except OSError as exc:  # a name too long, a symbolic-link loop, ...
        return f"cannot be used: {exc.strerror or exc}"


def _output_problem(path: Path, folder: bool) -> str:
    if path.is_symlink() and not path.exists():
        return "is a broken or looping symbolic link"
    temporary_name = f"{_temporary_prefix(path)}{_owner()}.abcdefgh.part"
    if not folder and len(temporary_name.encode()) > os.pathconf(_existing_ancestor(path), "PC_NAME_MAX"):
        return "file name too long (the temporary file written beside it needs a longer one)"
    if path.exists():
        if folder and not path.is_dir():
            return "is a file, not a folder"
        if not folder and path.is_dir():
            return "is a directory, not a file"
        if not folder and not path.is_file():
            return "is not a regular file"
    existing = path if folder and path.is_dir() else _existing_ancestor(path)
    if not existing.is_dir():
        return f"cannot create a folder under {existing}: it is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"folder {existing} is not writable"
    try:  # permissions do not tell all (a superuser, a read-only or special file system): write a probe
        handle, probe = tempfile.mkstemp(dir=existing, prefix=_temporary_prefix(path), suffix=".probe")
    except OSError as exc:
        return f"folder {existing} is not writable: {exc.strerror or exc}"
    os.close(handle)
    os.unlink(probe)
    return ""


def _existing_ancestor(path: Path) -> Path:
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def prepare_output(path: str | Path, *, folder: bool = False) -> str:
    """:func:`output_problem`, and when there is none, the stale temporary files of ``path`` removed."""
    problem = output_problem(path, folder=folder)
    if not problem and not folder:
        remove_stale_temporaries(path)
    return problem


def _publish(temporary: str | Path, path: Path) -> None:
    """Rename a finished temporary file onto ``path`` with the usual permissions (the umask's, not mkstemp's 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(temporary, 0o666 & ~mask)
    os.replace(temporary, path)
