"""Run the msrc command line from a checkout: ``python cli.py validate models/msrc.yaml``.

The same Typer app is installed as the ``msrc`` console script.
"""

from msrc_model.cli import main

if __name__ == "__main__":
    main()
