"""The optimisation problems built from the formulation, and how they are solved.

``stages`` builds Stage 1, Stage 2 (radio) and the energy dispatch of the
controller; ``plan`` the full-horizon plan (``run.mode: plan``); ``solve``
runs HiGHS and reports status, gap and conflicts.
"""
