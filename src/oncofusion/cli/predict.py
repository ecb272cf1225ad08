"""``oncofusion predict RUN COHORT --out predictions.parquet``."""

from __future__ import annotations

from pathlib import Path

import typer

from oncofusion.cli._common import console, handle_user_errors


def register(app: typer.Typer) -> None:
    @app.command("predict")
    @handle_user_errors
    def predict(
        run: Path = typer.Argument(..., help="Run directory."),
        cohort: Path = typer.Argument(..., help="Cohort directory to score."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (.parquet or .csv)."),
        landmark: float | None = typer.Option(None, help="Predict at a landmark (data up to it; survival conditional on reaching it)."),
        chunk_size: int = typer.Option(10_000, help="Patients scored per chunk (bounds memory)."),
    ) -> None:
        """Score every patient of a cohort: hazards per interval, S(t), risk at the horizons."""
        import oncofusion
        from oncofusion.data import load_cohort
        from oncofusion.models.batch import predict_to_file

        model = oncofusion.load(run)
        data = load_cohort(cohort, check_images=False)
        n = predict_to_file(model, data, out, landmark=landmark, chunk_size=chunk_size)
        console().print(f"{n} patients scored; predictions written to [bold]{out}[/]")
