"""NetCDF files: exact round trip, groups kept apart, atomic writes."""

from __future__ import annotations

import pytest
import xarray as xr

from msrc_model.config.loader import scenario_from_yaml
from msrc_model.files.netcdf import FORMAT_VALUE, read_netcdf, write_netcdf


def test_round_trip_is_identical(tmp_path, paper_inputs):
    path = write_netcdf(tmp_path / "in.nc", inputs=paper_inputs, attrs={"note": "x"})
    inputs, results, attrs = read_netcdf(path)
    assert results is None
    assert attrs == {"msrc_file_format": FORMAT_VALUE, "note": "x"}
    xr.testing.assert_identical(inputs, paper_inputs)
    assert inputs.ev_present.dtype == bool and inputs["class"].values.tolist() == list(paper_inputs["class"].values)


def test_round_trip_with_no_evs(tmp_path, paper_inputs):
    no_evs = paper_inputs.isel(ev=slice(0, 0))
    inputs, _, _ = read_netcdf(write_netcdf(tmp_path / "in.nc", inputs=no_evs))
    xr.testing.assert_identical(inputs, no_evs)


def test_inputs_and_results_are_separate_groups(tmp_path, paper_inputs):
    results = xr.Dataset({"survival_time_h": ((), 2.5, {"units": "h", "long_name": "T_surv"})})
    path = write_netcdf(tmp_path / "out.nc", inputs=paper_inputs, results=results)
    with xr.open_datatree(path) as tree:
        assert set(tree.children) == {"inputs", "results"}
    with xr.open_dataset(path, group="results") as only_results:
        assert list(only_results.data_vars) == ["survival_time_h"]
    with xr.open_dataset(path, group="inputs") as only_inputs:
        assert only_inputs.sizes["site"] == 19


def test_stored_scenario_rebuilds_itself(paper_scenario, paper_inputs):
    assert scenario_from_yaml(paper_inputs.attrs["scenario_yaml"]) == paper_scenario


def test_failed_write_leaves_old_file_and_no_partial_file(tmp_path, paper_inputs, monkeypatch):
    path = tmp_path / "in.nc"
    path.write_bytes(b"previous results")

    def broken_write(self, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_netcdf(path, inputs=paper_inputs)
    assert path.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nc"]


def test_nothing_to_write_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to write"):
        write_netcdf(tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()


def test_interrupted_write_leaves_no_file(tmp_path, paper_inputs, monkeypatch):
    def interrupted(self, target, *args, **kwargs):
        open(target, "wb").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_netcdf(tmp_path / "new.nc", inputs=paper_inputs)
    assert list(tmp_path.iterdir()) == []
