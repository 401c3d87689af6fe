"""msrc: the Multi-Site Resiliency Cooperative (MSRC) framework.

Public entry points::

    from msrc_model import load_scenario, build_inputs, write_netcdf, read_netcdf
    loaded = load_scenario("models/msrc.yaml", overrides=["traffic.load=1.8"])
    inputs = build_inputs(loaded.scenario, trial=0)
"""

from .config.errors import ScenarioError
from .inputs import build_inputs
from .config.loader import load_scenario, scenario_from_yaml, scenario_to_yaml
from .files.netcdf import read_netcdf, write_netcdf
from .config.scenario import Scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "build_inputs",
    "load_scenario",
    "read_netcdf",
    "scenario_from_yaml",
    "scenario_to_yaml",
    "write_netcdf",
]
