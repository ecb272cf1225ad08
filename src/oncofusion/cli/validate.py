"""``oncofusion validate COHORT_DIR``: check a cohort directory and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncofusion.cli._common import console, handle_user_errors


@handle_user_errors
def validate(
    cohort_dir: Annotated[
        Path, typer.Argument(help="The cohort directory (cohort.yaml, patients.csv, ...).")
    ],
    images: Annotated[
        bool,
        typer.Option(
            "--images/--no-images",
            help="Open every image to check it decodes and is 3-D (slow on big cohorts).",
        ),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")
    ] = False,
) -> None:
    """Check COHORT_DIR against the cohort format and print a summary.

    Exit status 0 when the cohort is valid; 2 with one message naming the file, column and
    rows when it is not (a cohort without any event counts as invalid: it cannot be used for
    training or evaluation). Nothing is written.
    """
    import json

    from oncofusion.data.load import load_cohort
    from oncofusion.data.summary import render_summary, summarise

    cohort = load_cohort(cohort_dir, check_images=images, require_events=True)
    summary = summarise(cohort)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    render_summary(summary, console())
    if not images and cohort.imaging is not None:
        console().print(
            "[yellow]note:[/] images were not opened (--no-images); only their paths were checked."
        )


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``oncofusion`` command line."""
    app.command("validate")(validate)
