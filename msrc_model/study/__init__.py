"""Studies over many runs: Monte Carlo sweeps on Dask, calibration, the report, the figures."""
