"""``oncofusion evaluate RUN [--cohort OTHER]``."""

from __future__ import annotations

from pathlib import Path

import typer

from oncofusion.cli._common import console, handle_user_errors


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    @handle_user_errors
    def evaluate(
        run: Path = typer.Argument(..., help="Run directory written by 'oncofusion train'."),
        cohort: Path | None = typer.Option(None, "--cohort", help="Evaluate on another cohort (external validation)."),
        out: Path | None = typer.Option(None, "--out", help="Where to write tables and figures."),
        resamples: int | None = typer.Option(None, help="Bootstrap resamples (default from the config)."),
    ) -> None:
        """Write the evaluation tables (Markdown, CSV) and figures (PNG) of a run."""
        from oncofusion.evaluation.run import evaluate_run
        from oncofusion.models.run import read_json

        con = console()
        if read_json(run / "run.json").get("model") == "mmcare":
            from oncofusion.models.mmcare_eval import evaluate_mmcare_run

            evaluate_mmcare_run(run, cohort, out_dir=out, n_resamples=resamples)
        else:
            report = evaluate_run(run, cohort, out_dir=out, n_resamples=resamples)
            con.print(report.to_markdown())
        where = out or (run / ("evaluation" if cohort is None else f"evaluation-{cohort.name}"))
        con.print(f"\nevaluation written to [bold]{where}[/]")
