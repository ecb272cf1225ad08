"""``oncofusion demo``: validate and summarise the packaged tiny cohort.

Interim demo until the models exist: it shows the cohort format and the validator at work
and writes ``summary.json`` to ``--out``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncofusion.cli._common import console, handle_user_errors


def example_cohort_dir() -> Path:
    """The packaged tiny example cohort (``oncofusion/data/examples/tiny``)."""
    import oncofusion

    return Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"


@handle_user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's outputs.")] = Path(
        "demo-output"
    ),
) -> None:
    """Validate and summarise the packaged tiny example cohort; write OUT/summary.json."""
    import json

    from oncofusion.data.load import load_cohort
    from oncofusion.data.summary import render_summary, summarise
    from oncofusion.utils.io import atomic_write

    con = console()
    source = example_cohort_dir()
    con.print(f"Validating the example cohort in {source}")
    summary = summarise(load_cohort(source, check_images=True, require_events=True))
    render_summary(summary, con)
    target = out / "summary.json"
    with atomic_write(target) as fh:
        json.dump(summary, fh, indent=2)
    con.print(f"\nOutputs: {target.resolve()} (the cohort summary as JSON).")
    con.print(
        f"Next: oncofusion validate {source}  (or your own cohort directory; see docs/cohort-format.md)"
    )


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the ``oncofusion`` command line."""
    app.command("demo")(demo)
