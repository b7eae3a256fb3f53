"""bot_core: safe, audited maintenance of a trading bot's reports and model registry.

Domain logic only: nothing here imports Prefect.  ``tasks/`` and ``flows/`` adapt it to
Prefect, and each package's ``ui_bridge`` module is its command-line shell.
"""

__version__ = "0.1.0"
