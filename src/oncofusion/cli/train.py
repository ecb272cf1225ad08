"""``oncofusion train COHORT --config CONFIG --out RUN``."""

from __future__ import annotations

from pathlib import Path

import typer

from oncofusion.cli._common import console, handle_user_errors


def register(app: typer.Typer) -> None:
    @app.command("train")
    @handle_user_errors
    def train(
        cohort: Path = typer.Argument(..., help="Cohort directory (see docs/cohort-format.md)."),
        config: str = typer.Option("dmanet-cpu", "--config", "-c", help="Packaged config name or YAML path."),
        out: Path = typer.Option(..., "--out", "-o", help="Run directory to create."),
        seed: int | None = typer.Option(None, help="Override train.seed."),
        epochs: int | None = typer.Option(None, help="Override train.max_epochs."),
        overwrite: bool = typer.Option(False, help="Replace an existing run directory."),
        evaluate: bool = typer.Option(True, help="Evaluate on the test split after training."),
    ) -> None:
        """Train a model on a cohort and write a run directory (then evaluate it)."""
        from oncofusion.data import load_cohort
        from oncofusion.models.artifacts import save_run
        from oncofusion.models.config import load_config
        from oncofusion.models.pipeline import train_model

        con = console()
        overrides: dict = {}
        if seed is not None or epochs is not None:
            overrides["train"] = {k: v for k, v in (("seed", seed), ("max_epochs", epochs)) if v is not None}
        from oncofusion.models.mmcare_config import is_mmcare_config

        if is_mmcare_config(config):
            _train_mmcare(cohort, config, out, overrides, overwrite=overwrite, evaluate=evaluate)
            return
        cfg = load_config(config, overrides)
        if out.exists() and any(out.iterdir()) and not overwrite:
            from oncofusion.errors import OncofusionError

            raise OncofusionError(f"run directory '{out}' exists and is not empty. Fix: choose another --out or pass --overwrite.")
        data = load_cohort(cohort, require_events=True)
        con.print(f"training [bold]{cfg.name}[/] on {data.schema.name} ({len(data)} patients)")
        work = out.parent / f".{out.name}.work"
        run = train_model(data, cfg, work_dir=work)
        if run.global_rank != 0:  # DDP (train.strategy: ddp): rank 0 alone writes and evaluates
            return
        save_run(run, data, out, overwrite=overwrite)
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        con.print(f"run written to [bold]{out}[/] (best epoch {run.best_epoch}, {run.seconds:.0f} s)")
        if evaluate:
            from oncofusion.evaluation.run import evaluate_run

            report = evaluate_run(out)
            con.print(report.tables["summary"].to_string(index=False))
            con.print(f"evaluation written to [bold]{out / 'evaluation'}[/]")


def _train_mmcare(cohort: Path, config: str, out: Path, overrides: dict, *, overwrite: bool, evaluate: bool) -> None:
    """``oncofusion train`` for a config with ``model: mmcare`` (treatment decision support)."""
    import shutil

    from oncofusion.data import load_cohort
    from oncofusion.errors import OncofusionError
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.mmcare_pipeline import train_mmcare
    from oncofusion.models.mmcare_run import save_mmcare_run

    con = console()
    cfg = load_mmcare_config(config, overrides)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OncofusionError(f"run directory '{out}' exists and is not empty. Fix: choose another --out or pass --overwrite.")
    data = load_cohort(cohort, require_events=True)
    con.print(f"training [bold]MM-Care[/] on {data.schema.name} ({len(data)} patients)")
    work = out.parent / f".{out.name}.work"
    run = train_mmcare(data, cfg, work_dir=work)
    save_mmcare_run(run, data, out, overwrite=overwrite)
    shutil.rmtree(work, ignore_errors=True)
    con.print(f"run written to [bold]{out}[/]")
    if evaluate:
        from oncofusion.models.mmcare_eval import evaluate_mmcare_run

        evaluate_mmcare_run(out)
        con.print(f"evaluation written to [bold]{out / 'evaluation'}[/]")
