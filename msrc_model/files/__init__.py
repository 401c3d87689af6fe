"""Files: atomic writing and the NetCDF layout (``/inputs`` and ``/results`` groups)."""
