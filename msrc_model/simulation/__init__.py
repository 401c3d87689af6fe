"""The outage simulation: the simulator, the metrics, the baselines and the MSRC controller.

``simulator`` (the physics of every step, the same for every strategy) and
``metrics`` import no optimisation code; ``strategies`` holds the two
baselines (no optimisation either); ``controller`` is the two-stage MSRC
controller, which solves the problems of :mod:`msrc_model.problems`;
``outage`` runs the strategies of a scenario on one realisation.
"""
