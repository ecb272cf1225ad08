"""The ``oncofusion`` command line.

Each command lives in its own module of this package and registers itself on ``app``.
Command modules import only typer at module level; heavy modules (torch, pandas readers,
scikit-survival, Lightning, ...) are imported inside the command so ``oncofusion --help``
answers quickly.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="oncofusion",
    help="Multimodal, dynamic survival models for oncology: cohorts, models, evaluation, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that define commands; each has ``register(app)``. A module that does not exist
# yet is skipped so the CLI grows as the package does.
_COMMAND_MODULES = (
    "demo",
    "validate",
    "simulate",
    "datasets",
    "train",
    "evaluate",
    "ablate",
    "predict",
    "report",
    "benchmark",
    "serve",
    "federated",
)

for _name in _COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"oncofusion.cli.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"oncofusion.cli.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()
