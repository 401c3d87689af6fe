"""NetCDF files of msrc: inputs and results kept apart, written atomically.

A file holds up to two groups, ``/inputs`` (what the model was given, see
:func:`msrc_model.inputs.build_inputs`) and ``/results`` (what a solve
produced). The root group carries the provenance: the msrc version and the
complete scenario YAML, so the file alone says how it was made::

    import xarray as xr
    tree = xr.open_datatree("inputs.nc")
    inputs = tree["inputs"].to_dataset()
    # or: xr.open_dataset("inputs.nc", group="inputs")
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import xarray as xr

from .atomic import atomic_write

INPUTS_GROUP = "inputs"
RESULTS_GROUP = "results"
#: Root attribute that marks a file as written by msrc, and its value.
FORMAT_ATTRIBUTE = "msrc_file_format"
FORMAT_VALUE = "msrc NetCDF: /inputs and /results groups, provenance in the root attributes"


class NotMsrcFile(ValueError):
    """A NetCDF file msrc did not write (or not a NetCDF file at all)."""


def write_netcdf(
    path: str | Path,
    *,
    inputs: xr.Dataset | None = None,
    results: xr.Dataset | None = None,
    attrs: Mapping[str, str] | None = None,
) -> Path:
    """Write inputs and/or results to one NetCDF-4 file, atomically.

    Written through :func:`msrc_model.files.atomic.atomic_write`: an
    interrupted or failed write never leaves a partial file under the final
    name (nor a stray temporary file).

    Parameters
    ----------
    path:
        Target file; its folder is created if missing.
    inputs, results:
        Datasets written to the ``/inputs`` and ``/results`` groups.
    attrs:
        Text attributes of the root group (provenance).

    Returns
    -------
    Path
        The path written.
    """
    if inputs is None and results is None:
        raise ValueError("nothing to write: give inputs, results or both")
    path = Path(path)
    groups: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs={FORMAT_ATTRIBUTE: FORMAT_VALUE, **dict(attrs or {})})}
    if inputs is not None:
        groups[f"/{INPUTS_GROUP}"] = inputs
    if results is not None:
        groups[f"/{RESULTS_GROUP}"] = results
    tree = xr.DataTree.from_dict(groups)
    with atomic_write(path) as temporary:
        tree.to_netcdf(temporary, engine="netcdf4", mode="w")
    return path


def read_netcdf(path: str | Path) -> tuple[xr.Dataset | None, xr.Dataset | None, dict[str, str]]:
    """Read a file written by :func:`write_netcdf` fully into memory.

    Returns
    -------
    inputs, results, attrs:
        The two groups (``None`` where absent) and the root attributes.

    Raises
    ------
    NotMsrcFile
        If the file is not NetCDF, or carries neither ``msrc_file_format`` nor
        (in files of older versions) ``msrc_version`` in its root attributes.
    """
    try:
        tree = xr.open_datatree(path, engine="netcdf4")
    except (OSError, ValueError, KeyError) as exc:
        try:  # a NetCDF-4 file starts with the HDF5 signature: then it is damaged
            with open(path, "rb") as handle:
                damaged = handle.read(8) == b"\x89HDF\r\n\x1a\n"
        except OSError:
            damaged = False
        what = "a damaged or truncated NetCDF file" if damaged else "not a NetCDF file"
        raise NotMsrcFile(f"{what} ({exc.__class__.__name__}: {exc})") from None
    with tree:
        if FORMAT_ATTRIBUTE not in tree.attrs and "msrc_version" not in tree.attrs:
            raise NotMsrcFile("not an msrc results file (no msrc_file_format attribute)")
        tree = tree.load()
        inputs = tree[INPUTS_GROUP].to_dataset() if INPUTS_GROUP in tree.children else None
        results = tree[RESULTS_GROUP].to_dataset() if RESULTS_GROUP in tree.children else None
        attrs = dict(tree.attrs)
    return inputs, results, attrs
