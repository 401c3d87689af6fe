"""The MSRC cluster inside other people's energy-system models.

:mod:`msrc_model.hosts.pypsa` attaches it to a PyPSA network (the ``pypsa``
extra); for plain linopy models, :func:`msrc_model.formulation.add_msrc` is
the entry point.
"""
