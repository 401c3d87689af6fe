"""The configuration layer: the scenario schema, YAML loading, located errors, the reference.

``scenario`` is the pydantic schema (every key, unit, default and rule);
``loader`` reads YAML with ``extends``, variants and ``--set`` overrides;
``tables`` reads CSV tables; ``errors`` carries located, one-line errors;
``reference`` renders ``docs/scenario.md`` from the schema.
"""
